import pytest
import torch

import iris_wm
from iris_wm.agents.iris.imagination import IRISImagination
from iris_wm.data.batch import Batch
from tests.factories import tiny_iris_config


@pytest.fixture
def agent():
    return iris_wm.create_model("iris", num_actions=3, device="cpu", config=tiny_iris_config(max_blocks=5))


def force(head: torch.nn.Module, index: int) -> None:
    """Make a head's prediction certain: a large bias on one class."""
    with torch.no_grad():
        head.head_module[2].weight.zero_()
        head.head_module[2].bias.fill_(-1e4)
        head.head_module[2].bias[index] = 1e4


def test_steps_follow_the_world_models_predictions(agent):
    force(agent.world_model.head_rewards, 2)  # reward +1
    force(agent.world_model.head_ends, 1)  # end
    force(agent.world_model.head_observations, 7)  # every next token is 7
    env = IRISImagination(agent.tokenizer, agent.world_model)
    env.reset_from_initial_observations(torch.rand(2, 3, 64, 64))
    frames, rewards, ends = env.step(torch.tensor([0, 2]))
    assert torch.equal(rewards, torch.ones(2)) and torch.equal(ends, torch.ones(2, dtype=torch.bool))
    assert torch.equal(env.obs_tokens, torch.full((2, 16), 7))
    torch.testing.assert_close(frames, agent.tokenizer.decode_tokens(torch.full((2, 16), 7)))


def test_reset_returns_the_reconstruction_and_fills_one_frame_of_context(agent):
    env = IRISImagination(agent.tokenizer, agent.world_model)
    obs = torch.rand(3, 3, 64, 64)
    frames = env.reset_from_initial_observations(obs)
    torch.testing.assert_close(frames, agent.tokenizer.encode_decode(obs, True, True).clamp(0, 1))
    assert env.kv_cache.size == 16


def test_training_rollout_fills_the_context_exactly_and_overflow_restarts_from_the_current_frame(agent):
    env = IRISImagination(agent.tokenizer, agent.world_model)
    env.reset_from_initial_observations(torch.rand(2, 3, 64, 64))
    horizon = agent.world_model.config.max_blocks  # 16 + (horizon - 1) * 17 + 1 = max_tokens
    for k in range(horizon):
        frames, rewards, ends = env.step(torch.zeros(2, dtype=torch.long), should_predict_next_obs=k < horizon - 1)
        assert set(rewards.tolist()) <= {-1.0, 0.0, 1.0} and ends.dtype == torch.bool
    assert frames is None and env.kv_cache.size == agent.world_model.max_tokens
    # interactive play goes on: the context restarts from the current frame (16) plus this step (17)
    env.step(torch.zeros(2, dtype=torch.long))
    assert env.kv_cache.size == 16 + 17


def test_imagine_outputs_and_gradients(agent):
    b, burn_in, horizon = 3, 4, 5
    batch = Batch(observations=torch.randint(0, 256, (b, burn_in + 1, 3, 64, 64), dtype=torch.uint8),
                  actions=torch.zeros(b, burn_in + 1, dtype=torch.long), rewards=torch.zeros(b, burn_in + 1),
                  ends=torch.zeros(b, burn_in + 1, dtype=torch.long),
                  mask_padding=torch.tensor([[True] * 5, [False, False, True, True, True], [False] * 4 + [True]]))
    batch = batch.to("cpu")
    tokens = agent.encode_frames(batch)
    out = agent.actor_critic.imagine(batch, IRISImagination(agent.tokenizer, agent.world_model), horizon, tokens,
                                     agent.decode_frames(tokens))
    assert out.observations.shape == (b, horizon, 3, 64, 64) and out.observations.dtype == torch.uint8
    assert out.logits.shape == (b, horizon, 3) and out.values.shape == (b, horizon)
    assert out.actions.shape == out.rewards.shape == out.ends.shape == (b, horizon)
    assert out.logits.requires_grad and not out.rewards.requires_grad
    assert agent.actor_critic.hx is None  # state cleared after the rollout
    out.values.sum().backward()
    assert agent.actor_critic.lstm.weight_hh.grad.abs().sum() > 0
    assert all(p.grad is None for p in agent.world_model.parameters())
    assert all(p.grad is None for p in agent.tokenizer.parameters())
