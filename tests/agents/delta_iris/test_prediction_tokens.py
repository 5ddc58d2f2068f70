"""Δ-IRIS's tokens in the world model's prediction error: the real Δ-tokens are those its own burn-in feeds the
world model, and the open-loop error reports a token accuracy per horizon."""

import numpy as np
import torch

from iris_wm.data.dataset import EpisodeDataset
from iris_wm.data.episode import Episode
from iris_wm.training.prediction import open_loop_error
from tests.agents.delta_iris.tiny import NUM_ACTIONS


def random_episode(rng: np.random.Generator, length: int = 14) -> Episode:
    ends = np.zeros(length, np.int64)
    ends[-1] = 1
    return Episode(observations=rng.integers(0, 256, (length, 3, 64, 64), dtype=np.uint8),
                   actions=rng.integers(0, NUM_ACTIONS, length), rewards=rng.choice([-1.0, 0.0, 1.0], length).astype(
                       np.float32), ends=ends)


def test_real_tokens_are_the_transitions_tokens(agent):
    frames = torch.rand(2, 3, 3, 64, 64)
    actions = torch.randint(0, NUM_ACTIONS, (2, 2))
    real = agent.make_imagination().real_tokens(frames, actions)
    direct = agent.tokenizer.encode(frames[:, :-1], actions, frames[:, 1:]).tokens
    assert real.shape == (2, 2, agent.tokenizer.config.num_tokens) and torch.equal(real, direct)


def test_the_prediction_error_has_a_token_accuracy_per_horizon(agent):
    dataset, rng = EpisodeDataset(None, "test"), np.random.default_rng(0)
    for _ in range(3):
        dataset.add_episode(random_episode(rng))
    error = open_loop_error(agent, dataset, horizon=3, num_segments=4, rng=np.random.default_rng(1))
    assert error.token_accuracy.shape == (3,) and ((0 <= error.token_accuracy) & (error.token_accuracy <= 1)).all()
    assert "prediction/token_accuracy_h3" in error.metrics()
