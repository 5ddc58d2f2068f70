"""Every family's vector env is gymnasium's, with same-step autoreset: its wrappers apply, sync and
async give the same steps, and each env's info of a step (the final one where an episode ended) is
what the collector stores."""

import os

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv
from gymnasium.wrappers.vector import RecordEpisodeStatistics
from omegaconf import OmegaConf

from iris_wm.config import build_config
from iris_wm.envs import get_env_kind
from iris_wm.envs.vector import env_infos, make_python_vector_env
from iris_wm.errors import IrisError
from iris_wm.training.compose import to_train_config
from iris_wm.training.run_config import check_resume_overrides


class Countdown(gymnasium.Env):
    """Blank frames; an episode of ``length`` steps; infos that count them (a nested dict too)."""

    observation_space = gymnasium.spaces.Box(0, 255, (8, 8, 3), np.uint8)
    action_space = gymnasium.spaces.Discrete(2)

    def __init__(self, length: int):
        self.length, self.t = length, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros((8, 8, 3), np.uint8), {"t": 0}

    def step(self, action):
        self.t += 1
        return np.zeros((8, 8, 3), np.uint8), 1.0, self.t == self.length, False, {"t": self.t, "nested": {"t": self.t}}

    def worker_threads(self):
        return torch.get_num_threads(), os.environ.get("OMP_WAIT_POLICY")


def family_config(kind: str, vectorization: str):
    """An env config of each family, as a run builds it."""
    if kind == "atari":
        pytest.importorskip("ale_py")
        data = {"id": "Breakout"}
    elif kind == "crafter":
        pytest.importorskip("crafter")
        data = {"train": {"max_episode_steps": 5}}
    else:
        pytest.importorskip("minigrid")
        data = {"id": "MiniGrid-Empty-5x5-v0", "import_module": "minigrid", "obs_key": "image",
                "wrappers": ["minigrid.wrappers:RGBImgObsWrapper"]}
    return build_config(get_env_kind(kind).config_class, {**data, "vectorization": vectorization})


@pytest.mark.parametrize("vectorization", ["sync", "async"])
@pytest.mark.parametrize("kind", ["atari", "crafter", "gym"])
def test_every_family_gives_a_gymnasium_vector_env_with_same_step_autoreset(kind, vectorization):
    config = family_config(kind, vectorization)
    assert config.train.vectorization == config.test.vectorization == vectorization  # the sides carry it
    env = get_env_kind(kind).make_vector_env(config.train, 2, seed=0)
    assert isinstance(env, SyncVectorEnv if vectorization == "sync" else AsyncVectorEnv)
    assert env.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    assert env.single_observation_space == gymnasium.spaces.Box(0, 255, (64, 64, 3), np.uint8)
    assert env.reset(seed=0)[0].shape == (2, 64, 64, 3)
    assert env.step(np.zeros(2, np.int64))[0].shape == (2, 64, 64, 3)
    env.close()


def test_vectorization_is_one_env_level_key():
    pytest.importorskip("crafter")
    kind = get_env_kind("crafter")
    with pytest.raises(IrisError, match="vectorization.*one of sync, async"):
        build_config(kind.config_class, {"vectorization": "threads"})
    with pytest.raises(IrisError, match="env.test.vectorization=async differs from env.vectorization=sync"):
        build_config(kind.config_class, {"test": {"vectorization": "async"}})


def test_a_run_may_resume_with_another_vectorization():
    """A run folder's config keeps the sides' copies unset (null): they follow the new env.vectorization."""
    pytest.importorskip("crafter")
    stored = OmegaConf.create({"env": OmegaConf.structured(get_env_kind("crafter").config_class)})
    assert stored.env.vectorization == "sync" and stored.env.train.vectorization is None
    merged = OmegaConf.merge(stored, OmegaConf.from_dotlist(["env.vectorization=async"]))
    assert check_resume_overrides(stored, merged, ["env.vectorization=async"]) == ["env.vectorization"]
    assert to_train_config(merged).env.test.vectorization == "async"


def test_a_gymnasium_vector_wrapper_applies():
    config = family_config("crafter", "sync")  # 5-step episodes
    env = RecordEpisodeStatistics(get_env_kind("crafter").make_vector_env(config.train, 2, seed=0))
    env.reset(seed=0)
    returns = np.zeros(2)
    for t in range(5):
        _, rewards, _, truncated, infos = env.step(np.full(2, t % 5))
        returns += rewards
    assert truncated.all() and list(infos["episode"]["l"]) == [5, 5]
    np.testing.assert_allclose(infos["episode"]["r"], returns)
    env.close()


def test_sync_and_async_give_the_same_steps():
    """Crafter, 2 envs with 5-step episodes: the same frames, rewards, ends and achievements, across
    autoresets, a reseeding reset and a reset that continues each env's stream."""
    config = family_config("crafter", "sync")
    make = get_env_kind("crafter").make_vector_env
    sync, asynchronous = make(config.train, 2, seed=3), make(family_config("crafter", "async").train, 2, seed=3)
    assert np.array_equal(sync.reset(seed=3)[0], asynchronous.reset(seed=3)[0])
    for t, actions in enumerate(np.random.default_rng(0).integers(17, size=(24, 2))):
        if t in (8, 16):
            seed = 11 if t == 8 else None
            assert np.array_equal(sync.reset(seed=seed)[0], asynchronous.reset(seed=seed)[0])
        a, b = sync.step(actions), asynchronous.step(actions)
        for k in range(4):  # observations, rewards, terminated, truncated
            assert np.array_equal(a[k], b[k]), (t, k)
        achievements = [[info["achievements"] for info in env_infos(step[4], 2)] for step in (a, b)]
        assert achievements[0] == achievements[1], t
    sync.close()
    asynchronous.close()


@pytest.mark.parametrize("vectorization", ["sync", "async"])
def test_env_infos_give_the_final_info_where_an_episode_ended(vectorization):
    env = make_python_vector_env(lambda seed: Countdown(length=2 + seed), 2, 0, vectorization)
    env.reset(seed=0)
    _, _, _, _, infos = env.step(np.zeros(2, np.int64))
    assert env_infos(infos, 2) == [{"t": 1, "nested": {"t": 1}}] * 2
    _, _, terminated, _, infos = env.step(np.zeros(2, np.int64))
    assert list(terminated) == [True, False] and infos["t"][0] == 0  # env 0's next episode has begun
    assert env_infos(infos, 2) == [{"t": 2, "nested": {"t": 2}}] * 2  # env 0's: its episode's last step
    env.close()


def test_async_workers_run_one_passive_thread():
    """Workers forked from a process with torch's thread pool do not start one of their own."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        env = make_python_vector_env(lambda seed: Countdown(length=2), 2, 0, "async")
    finally:
        torch.set_num_threads(threads)
    assert env.call("worker_threads") == ((1, "PASSIVE"),) * 2
    env.close()
