import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the iris command sets it (see iris_wm/cli.py)

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
