import gymnasium
import numpy as np
import pytest

import iris_wm
from iris_wm.data.dataset import EpisodeDataset
from iris_wm.training.collector import Collector, episode_quota
from iris_wm.training.config import CollectionConfig, CollectionsConfig
from tests.factories import tiny_iris_config

pytest.importorskip("ale_py")
from iris_wm.envs.atari.env import AtariConfig  # noqa: E402
from iris_wm.envs.atari.kind import make_vector_env  # noqa: E402


@pytest.fixture(scope="module")
def agent():
    return iris_wm.create_model("iris", num_actions=4, device="cpu", config=tiny_iris_config()).eval()


def collector_for(num_envs: int, dataset: EpisodeDataset, **env) -> Collector:
    config = AtariConfig(id="Breakout", **{"max_episode_steps": 120, "noop_max": 30, **env})
    return Collector(make_vector_env(config, num_envs, seed=3), dataset, np.random.default_rng(0), seed=3)


def test_step_collection_continues_unfinished_episodes_across_calls(agent, tmp_path):
    dataset = EpisodeDataset(tmp_path / "train", "train_dataset")
    collector = collector_for(1, dataset, max_episode_steps=4000, done_on_life_loss=False)
    config = CollectionConfig(num_steps=20, epsilon=0.0)  # the agent's burn-in is 4 frames
    collector.collect(agent, config, epoch=1)
    assert dataset.num_steps == 20 and dataset.num_episodes == 1 and not dataset.get_episode(0).finished
    collector.collect(agent, config, epoch=2)  # the same episode goes on (burn-in from its last frames)
    assert dataset.num_steps == 40 and dataset.num_episodes == 1
    assert EpisodeDataset.load(tmp_path / "train", "train").num_steps == 40  # and it is on disk


def test_episode_collection_gives_every_env_its_quota(agent):
    dataset = EpisodeDataset(None, "test_dataset")
    metrics = collector_for(2, dataset).collect(agent, CollectionConfig(num_steps=None, num_episodes=3, epsilon=0.0,
                                                                        temperature=0.5), epoch=1)
    assert dataset.num_episodes == 3 and all(dataset.get_episode(i).finished for i in dataset.episode_ids)
    assert metrics["test_dataset/episodes_finished"] == 3
    assert list(episode_quota(100, 8)) == [13] * 4 + [12] * 4


def test_envs_are_seeded_once_so_successive_evaluations_differ(agent):
    """Later resets continue the envs' random streams (the vector env tests show that seed=None
    does): the collector must pass the seed on its first reset only."""

    class SeedRecording(gymnasium.vector.VectorWrapper):
        seeds = []

        def reset(self, *, seed=None, options=None):
            self.seeds.append(seed)
            return super().reset(seed=seed, options=options)

    env = SeedRecording(make_vector_env(AtariConfig(id="Breakout", max_episode_steps=120), 1, seed=3))
    dataset = EpisodeDataset(None, "test_dataset")
    collector = Collector(env, dataset, np.random.default_rng(0), seed=3)
    config = CollectionConfig(num_steps=None, num_episodes=1, epsilon=0.0, temperature=0.5)
    for epoch in (1, 2, 3):
        dataset.clear()
        collector.collect(agent, config, epoch)
    assert env.seeds == [3, None, None]


@pytest.mark.parametrize(("kind", "expected"), [("iris", 0.5), ("delta-iris", 1.0)])
def test_the_test_collection_samples_at_the_kind_temperature_unless_told(kind, expected, monkeypatch):
    """The in-run test protocol is iris eval's: with the schema's default (null) the kind's test temperature, so
    that a Δ-IRIS run under a preset made for every kind is tested as its authors test it."""
    from tests.agents.delta_iris.tiny import tiny_config as tiny_delta_config

    config = tiny_iris_config() if kind == "iris" else tiny_delta_config()
    agent = iris_wm.create_model(kind, num_actions=4, device="cpu", config=config).eval()
    used = []
    act = agent.act
    monkeypatch.setattr(agent, "act", lambda obs, should_sample, temperature: used.append(temperature) or act(
        obs, should_sample, temperature))
    default = CollectionsConfig().test
    for told, temperature in ((default.temperature, expected), (0.3, 0.3)):
        used.clear()
        episode = CollectionConfig(num_steps=None, num_episodes=1, epsilon=0.0, temperature=told)
        collector_for(1, EpisodeDataset(None, "test_dataset"), max_episode_steps=40).collect(agent, episode, epoch=1)
        assert used and set(used) == {temperature}
