"""Bad Δ-IRIS settings are refused with one line naming the key."""

from __future__ import annotations

import pytest

from iris_wm.agents import agent_config
from iris_wm.agents.delta_iris.config import DeltaIRISTraining
from iris_wm.config import build_config
from iris_wm.errors import IrisError
from tests.agents.delta_iris.tiny import tiny_config


def refused(build, key: str) -> str:
    with pytest.raises(IrisError) as error:
        build()
    message = str(error.value)
    assert "\n" not in message and key in message, message
    return message


@pytest.mark.parametrize("phase", ["tokenizer", "world_model", "actor_critic"])
def test_negative_priority_alpha(phase):
    refused(lambda: build_config(DeltaIRISTraining, {phase: {"priority_alpha": -1}}), f"{phase}.priority_alpha")
    assert build_config(DeltaIRISTraining, {phase: {"priority_alpha": 0}}).__dict__[phase].priority_alpha == 0


def test_rollouts_longer_than_the_context():
    # 5 + 20 + 1 = 26 frames fit the default 26 blocks; one more step does not
    assert agent_config("delta-iris", {}).actor_critic_loss.imagine_horizon == 20
    message = refused(lambda: agent_config("delta-iris", {"actor_critic_loss": {"imagine_horizon": 21}}),
                      "agent.world_model.transformer.max_blocks")
    assert "imagine_horizon" in message
    refused(lambda: agent_config("delta-iris", {"actor_critic_loss": {"burn_in": 6}}), "max_blocks=26")
    refused(lambda: agent_config("delta-iris", tiny_config(world_model={"transformer": {"max_blocks": 9}})),
            "max_blocks=9")  # smoke: 3 + 6 + 1 = 10


def test_tokens_per_block_must_be_two_plus_the_tokens():
    refused(lambda: agent_config("delta-iris", {"world_model": {"transformer": {"tokens_per_block": 17}}}),
            "agent.world_model.transformer.tokens_per_block=17")
    refused(lambda: agent_config("delta-iris", {"tokenizer": {"num_tokens": 16}}), "agent.tokenizer.num_tokens")
    # 16 tokens (a 4x4 grid of 2x2 patches) with 18 per block is a valid other geometry
    config = agent_config("delta-iris", {"tokenizer": {"num_tokens": 16},
                                         "world_model": {"transformer": {"tokens_per_block": 18}}})
    assert config.tokenizer.token_dim == 64 * 64 // 16


def test_the_i_token_width_must_be_the_embedding_width():
    refused(lambda: agent_config("delta-iris", {"world_model": {"frame_cnn": {"latent_dim": 8}}}),
            "agent.world_model.transformer.embed_dim=256")
    refused(lambda: agent_config("delta-iris", {"world_model": {"transformer": {"embed_dim": 512, "num_heads": 8}}}),
            "agent.world_model.frame_cnn.latent_dim")
