"""Where imagined episodes start (run folders, dataset folders, tensors), and bad input: one
``ValueError`` naming the problem and the fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from iris_wm import WorldModelVectorEnv
from iris_wm.agents.iris.agent import IRISAgent
from iris_wm.data.episode import Episode
from tests.factories import write_run_folder
from tests.world_model_env.conftest import NUM_ACTIONS, make_agent, start_segments


def write_run(folder: Path, game: str, lengths=(7, 4)) -> Path:
    """A run folder's config and stored training episodes; frame t of episode e is filled with 10e + t."""
    episodes = [Episode((10 * e + np.arange(length, dtype=np.uint8))[:, None, None, None] * np.ones((1, 3, 64, 64),
                                                                                                     np.uint8),
                        actions=np.arange(length) % NUM_ACTIONS, rewards=np.zeros(length, np.float32),
                        ends=np.eye(length, dtype=np.int64)[-1]) for e, length in enumerate(lengths)]
    return write_run_folder(folder, f"env:\n  id: {game}\n", train_episodes=episodes)


@pytest.fixture(scope="module")
def delta(tmp_path_factory):
    return make_agent("delta-iris", tmp_path_factory)


def test_starts_from_a_run_folder_are_its_stored_frames(delta, tmp_path):
    run = write_run(tmp_path / "run", "Breakout")
    env = delta.as_vector_env(run, num_envs=8, game="Breakout")
    obs, infos = env.reset(seed=0)
    assert set(infos["start"].tolist()) <= {0, 1}
    for row, (episode, step) in enumerate(zip(infos["start"], infos["start_step"], strict=True)):
        assert step < (7, 4)[episode]
        # Δ-IRIS's world model sees the real start frame as it is
        assert (obs[row] == 10 * episode + step).all()


def test_starts_from_a_dataset_folder(delta, tmp_path):
    run = write_run(tmp_path / "run", "Breakout")
    env = delta.as_vector_env(run / "checkpoints" / "dataset" / "train", num_envs=2)
    _, infos = env.reset(seed=0)
    assert "start_step" in infos


def test_single_frames_are_padded_as_training_pads_segments(delta):
    frames = start_segments(3, 1)[0][:, 0]  # (3, 3, 64, 64)
    env = delta.as_vector_env(frames, num_envs=3, observation_format="float")
    obs, infos = env.reset(seed=0)
    assert torch.equal(obs, frames[torch.as_tensor(infos["start"])].float().div(255))


@pytest.mark.parametrize("options,message", [
    ({"num_envs": 0}, "num_envs=0: give 1 or more"),
    ({"horizon": 0}, "horizon=0"),
    ({"horizon": 10_000}, "beyond the world model's context"),
    ({"observation_format": "rgb"}, "observation_format='rgb' is unknown"),
    ({"output": "jax"}, "output='jax' is unknown"),
])
def test_bad_options(delta, options, message):
    with pytest.raises(ValueError, match=message):
        WorldModelVectorEnv(delta, start_segments(2, 4), **options)


def test_bad_starts(delta, tmp_path):
    with pytest.raises(ValueError, match=r"start frames have shape \(2, 4, 3, 32, 32\)"):
        delta.as_vector_env(torch.zeros(2, 4, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match="give uint8 frames"):
        delta.as_vector_env(torch.zeros(2, 3, 64, 64, dtype=torch.int32))
    with pytest.raises(ValueError, match=r"give the \(2, 3\) integer actions"):
        delta.as_vector_env((torch.zeros(2, 4, 3, 64, 64), torch.zeros(2, 2)))
    with pytest.raises(ValueError, match=f"take action 7, the world model knows {NUM_ACTIONS} actions"):
        delta.as_vector_env((torch.zeros(2, 4, 3, 64, 64), torch.full((2, 3), 7)))
    with pytest.raises(ValueError, match="does not exist"):
        delta.as_vector_env(tmp_path / "missing")
    with pytest.raises(ValueError, match="no episodes in"):
        delta.as_vector_env(tmp_path)
    with pytest.raises(ValueError, match="are not understood"):
        delta.as_vector_env(42)


def test_starts_from_another_game_are_refused(delta, tmp_path):
    run = write_run(tmp_path / "pong", "Pong")
    with pytest.raises(ValueError, match="the starts are episodes of Pong, the world model learned Breakout"):
        delta.as_vector_env(run, game="Breakout")


def test_bad_actions(delta):
    env = delta.as_vector_env(start_segments(2, 4), num_envs=2)
    with pytest.raises(ValueError, match="call reset"):
        env.step(np.zeros(2, np.int64))
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions have shape \(3,\); give one per env: \(2,\)"):
        env.step(np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="actions are float32"):
        env.step(np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="actions are torch.float32"):
        env.step(torch.zeros(2))
    with pytest.raises(ValueError, match=f"leave Discrete\\({NUM_ACTIONS}\\)"):
        env.step(np.array([0, NUM_ACTIONS]))


class NoImagination(IRISAgent):
    kind = "no-imagination"

    def make_imagination(self, sampler=None):
        raise NotImplementedError


def test_an_agent_without_imagination_or_no_agent_at_all(tmp_path_factory):
    iris = make_agent("iris", tmp_path_factory)
    agent = NoImagination(iris.config, NUM_ACTIONS)
    with pytest.raises(ValueError, match="agent kind 'no-imagination' has no imagination"):
        agent.as_vector_env(start_segments(2, 4))
    with pytest.raises(ValueError, match=r"takes an agent, got str; load one with iris_wm.load_agent\(PATH\)"):
        WorldModelVectorEnv("runs/breakout", start_segments(2, 4))
