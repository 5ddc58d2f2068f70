"""Δ-IRIS's networks at the authors' two configurations have exactly their parameter counts: the
Crafter one (preset=delta-crafter, 17 actions) and the Atari one (the kind's defaults, 4 actions)."""

import pytest
from omegaconf import OmegaConf

from iris_wm.agents import create_model
from iris_wm.agents.delta_iris.original import CRAFTER_PRESET


@pytest.mark.parametrize(("params", "num_actions", "counts"), [
    ("crafter", 17, (5_409_611, 11_948_457, 3_745_216)),
    ("atari", 4, (4_065_715, 3_577_257, 3_608_245)),
])
def test_parameter_counts_equal_the_authors(params, num_actions, counts):
    config = OmegaConf.to_container(OmegaConf.load(CRAFTER_PRESET))["agent"] if params == "crafter" else None
    agent = create_model("delta-iris", num_actions, "cpu", config)
    modules = (agent.tokenizer, agent.world_model, agent.actor_critic.model)
    assert tuple(sum(p.numel() for p in m.parameters()) for m in modules) == counts
    frozen = agent.actor_critic.target_model
    assert sum(p.numel() for p in frozen.parameters()) == counts[2]
    assert not any(p.requires_grad for p in frozen.parameters())
