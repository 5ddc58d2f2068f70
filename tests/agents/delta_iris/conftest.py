import pytest
import torch

from iris_wm.agents import create_model
from tests.agents.delta_iris.tiny import NUM_ACTIONS, tiny_config


@pytest.fixture(scope="module")
def agent():
    """A tiny agent, eval mode, shared by a module's tests (those that change it copy it)."""
    torch.manual_seed(0)
    return create_model("delta-iris", NUM_ACTIONS, "cpu", tiny_config()).eval()
