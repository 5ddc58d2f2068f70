import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the iris command sets it (see iris_wm/cli.py)
# The suite runs in one pytest-xdist worker per core (pyproject's addopts): each worker, and every
# process a test starts, keeps to one thread, so that the workers never contend for a core.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def pytest_collection_modifyitems(items):
    """The longest test (tests/learning, minutes of training) first: one worker runs it while the other takes the
    rest, instead of its minutes coming after everything else."""
    items.sort(key=lambda item: not item.nodeid.startswith("tests/learning/"))
