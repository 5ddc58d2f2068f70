"""Tiny agents of every kind, and start segments for their world models."""

from __future__ import annotations

import copy

import pytest
import torch

import iris_wm
from tests.agents.delta_iris.tiny import tiny_config as tiny_delta_config
from tests.factories import tiny_iris_config

NUM_ACTIONS = 5
KINDS = ("iris", "delta-iris", "iris-lm")


def never_ending(agent):
    """A copy of ``agent`` whose imagined episodes (almost) never end: its end head says "not over"
    with certainty."""
    agent = copy.deepcopy(agent)
    agent.world_model.head_ends.head_module[-1].bias.data = torch.tensor([20.0, -20.0])
    return agent


def make_agent(kind: str, tmp_path_factory) -> iris_wm.Agent:
    if kind == "iris":
        config = tiny_iris_config()
    elif kind == "delta-iris":
        config = tiny_delta_config()
    else:
        pytest.importorskip("transformers")
        pytest.importorskip("peft")
        from iris_wm.agents.iris_lm.tiny import write_tiny_lm

        config = tiny_iris_config()
        lm = write_tiny_lm(tmp_path_factory.mktemp("lm"), "gpt2")
        config["world_model"] = {"model_name_or_path": str(lm), "max_blocks": 4, "finetune": "lora"}
    torch.manual_seed(0)
    return iris_wm.create_model(kind, num_actions=NUM_ACTIONS, device="cpu", config=config)


@pytest.fixture(scope="module", params=KINDS)
def agent(request, tmp_path_factory):
    return make_agent(request.param, tmp_path_factory)


def start_segments(n: int, length: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n segments of ``length`` uint8 frames of smooth colour fields, and the actions between them."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, length, 3, 4, 4, generator=g)
    frames = torch.nn.functional.interpolate(coarse.flatten(0, 1), size=(64, 64), mode="bilinear")
    frames = frames.view(n, length, 3, 64, 64).mul(255).round().to(torch.uint8)
    return frames, torch.randint(0, NUM_ACTIONS, (n, length - 1), generator=g)
