"""The world model's open-loop prediction error, measured against world models whose errors are known: one
that knows the task's rules exactly (no error at any horizon) and one that repeats its last frame. Their one
token per frame is the counter itself."""

import numpy as np
import pytest
import torch

from iris_wm.data.dataset import EpisodeDataset
from iris_wm.data.episode import Episode
from iris_wm.training.prediction import open_loop_error

STEP = 10  # frame t is filled with t * STEP / 255: a counter the rules advance by one each step
LENGTH = 12


def counter_episode(rng: np.random.Generator) -> Episode:
    actions = rng.integers(0, 2, LENGTH)
    frames = np.stack([np.full((3, 8, 8), t * STEP, np.uint8) for t in range(LENGTH)])
    ends = np.zeros(LENGTH, np.int64)
    ends[-1] = 1
    return Episode(observations=frames, actions=actions, rewards=(actions == 1).astype(np.float32), ends=ends)


def counter_of(frames):
    return (frames[..., 0, 0, 0] * 255 / STEP).round().long()


class CounterImagination:
    """The rules exactly (``stale``: the frame never moves, the rewards and ends still right)."""

    def __init__(self, stale: bool, with_tokens: bool) -> None:
        self.stale, self.with_tokens, self.steps_left = stale, with_tokens, 100

    @property
    def tokens(self):
        return counter_of(self.frame)[:, None] if self.with_tokens else None

    def real_tokens(self, observations, actions):
        return counter_of(observations[:, 1:]).unsqueeze(-1) if self.with_tokens else None

    def reset_from_past(self, observations, actions):
        self.frame = observations[:, -1].clone()
        self.count = counter_of(observations[:, -1]).float()
        return self.frame

    def step(self, actions):
        self.count = self.count + 1
        if not self.stale:
            self.frame = (self.count * STEP / 255)[:, None, None, None].expand_as(self.frame).clone()
        return self.frame, (actions == 1).float(), self.count == LENGTH


class CounterAgent:
    burn_in, device = 2, torch.device("cpu")

    def __init__(self, stale: bool, with_tokens: bool = True) -> None:
        self.stale, self.with_tokens = stale, with_tokens

    def make_imagination(self, sampler):
        return CounterImagination(self.stale, self.with_tokens)


@pytest.fixture
def dataset():
    data, rng = EpisodeDataset(None, "test"), np.random.default_rng(0)
    for _ in range(6):
        data.add_episode(counter_episode(rng))
    return data


def test_a_world_model_that_knows_the_rules_has_no_error(dataset):
    error = open_loop_error(CounterAgent(stale=False), dataset, horizon=5, num_segments=64,
                            rng=np.random.default_rng(0))
    assert error.horizons.tolist() == [1, 2, 3, 4, 5]
    assert np.allclose(error.frame_mse, 0, atol=1e-10) and (error.reward_accuracy == 1).all()
    assert (error.token_accuracy == 1).all() and (error.nonzero_reward_accuracy == 1).all()
    assert (error.end_accuracy == 1).all()
    assert (np.diff(error.segments) <= 0).all() and error.segments[0] > 0  # segments end with their episodes


def test_a_frozen_frame_s_error_grows_as_the_square_of_the_horizon(dataset):
    error = open_loop_error(CounterAgent(stale=True), dataset, horizon=4, num_segments=64,
                            rng=np.random.default_rng(0))
    expected = (error.horizons * STEP / 255) ** 2  # h steps behind: every pixel off by h * STEP / 255
    np.testing.assert_allclose(error.frame_mse, expected, rtol=1e-5)
    assert (error.token_accuracy == 0).all()  # the frozen frame's token is never the next one
    assert (error.reward_accuracy == 1).all() and (error.end_accuracy == 1).all()


def test_a_world_model_without_tokens_has_no_token_accuracy(dataset):
    error = open_loop_error(CounterAgent(stale=False, with_tokens=False), dataset, horizon=3, num_segments=16,
                            rng=np.random.default_rng(0))
    assert error.token_accuracy is None and "token_accuracy" not in error.measures
    assert not any("token" in key for key in error.metrics())
    assert "token_accuracy" not in error.as_json()


def test_a_world_model_that_never_predicts_a_reward_is_right_only_where_there_is_none(dataset):
    class NoReward(CounterImagination):
        def step(self, actions):
            frame, _, ends = super().step(actions)
            return frame, torch.zeros(len(actions)), ends

    class NoRewardAgent(CounterAgent):
        def make_imagination(self, sampler):
            return NoReward(self.stale, self.with_tokens)

    error = open_loop_error(NoRewardAgent(stale=False), dataset, horizon=4, num_segments=64,
                            rng=np.random.default_rng(0))
    assert (error.nonzero_reward_accuracy == 0).all()  # every real reward (action 1's) missed
    assert ((0.2 < error.reward_accuracy) & (error.reward_accuracy < 0.8)).all()  # right where action 0 earned 0
