"""Δ-IRIS end to end through the shared trainer: a tiny delta-cpu-smoke run (random first epoch,
every phase, two evaluations, media), its prioritised samplers' counts in the checkpoint, the first
epoch's uniformly random actions chosen without the policy, and a resume after SIGKILL that loses no
episode and continues the counts."""

import shutil

import numpy as np
import pytest
import torch

from iris_wm.agents import create_model
from iris_wm.checkpoint.run_checkpoint import TRAINER_STATE_FILE, latest_checkpoint
from iris_wm.cli import main
from iris_wm.data.dataset import EpisodeDataset
from iris_wm.envs import get_env_kind
from iris_wm.run_folder import RunFolder
from iris_wm.training.collector import Collector
from iris_wm.training.compose import compose_config
from iris_wm.training.metrics_logger import read_metrics
from tests.factories import assert_metrics_equal_fixture, folder_hash, kill_9_in_second_epoch, tiny_delta_overrides

pytest.importorskip("ale_py")


def sampler_counts(run_dir) -> dict[str, dict[int, int]]:
    state = torch.load(latest_checkpoint(RunFolder(run_dir)) / TRAINER_STATE_FILE, weights_only=True)
    return {name.removesuffix("_sampler"): dict(zip(part["episode_ids"], part["counts"], strict=True))
            for name, part in state["parts"].items() if name.endswith("_sampler")}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("delta_run")
    assert main(["train", *tiny_delta_overrides(run_dir)]) == 0
    return run_dir


def test_a_delta_iris_run_trains_every_phase_and_evaluates(finished_run):
    run = finished_run
    metrics = read_metrics(run)
    assert [m["epoch"] for m in metrics] == [1, 2, 3, 4]
    assert metrics[0]["train_dataset/#steps"] == 40  # the random first epoch's own step count
    assert metrics[1]["train_dataset/#steps"] == 70
    assert "tokenizer/train/reconstruction_loss_l2" in metrics[0] and "world_model/train/loss_latents" not in metrics[0]
    assert "codebook_entropy" in " ".join(metrics[0]) and "world_model/train/latent_accuracy" in metrics[1]
    assert "actor_critic/train/loss_values" in metrics[2] and "actor_critic/train/policy_entropy" in metrics[2]
    assert "world_model/eval/loss_latents" in metrics[1] and "imagination/return" in metrics[3]
    assert "test_dataset/return" in metrics[1] and "test_dataset/return" in metrics[3]
    assert sorted(p.name for p in (run / "media" / "reconstructions").iterdir()) == ["epoch_0002.png", "epoch_0004.png"]
    assert any((run / "media" / "episodes" / "imagination").glob("*.mp4"))
    assert (run / "checkpoints" / "epoch_0004" / "agent.yaml").read_text().count("delta-iris") >= 1


def test_metrics_are_identical_to_those_recorded_before_the_speed_and_action_changes(finished_run):
    """The fixture holds this run's metrics (the same overrides and seed) as the code computed them before the
    refactors of speed settings, continuous actions and the policy's carry: they must keep every number."""
    assert_metrics_equal_fixture(finished_run, "delta_tiny_run_metrics.jsonl")


def test_each_component_counts_the_segments_it_drew(finished_run):
    counts = sampler_counts(finished_run)
    # tokenizer: 3 + 3 x 2 steps of 2 segments; world model: 3 x 2 x 2; actor-critic: 2 x 2 x 2
    assert {name: sum(c.values()) for name, c in counts.items()} == {"tokenizer": 18, "world_model": 12,
                                                                    "actor_critic": 8}


@pytest.mark.parametrize(("preset", "game", "random_steps"), [("delta-atari", "Pong", 2_000),
                                                            ("delta-crafter", "Crafter", 100_000)])
def test_the_papers_presets_start_with_random_steps(preset, game, random_steps):
    if game == "Crafter":
        pytest.importorskip("crafter")
    assert compose_config([f"preset={preset}", f"env.id={game}"]).collection.train.num_steps_first_epoch == random_steps


def test_the_first_epoch_collects_uniformly_random_actions_without_the_policy(tmp_path, monkeypatch):
    config = compose_config(tiny_delta_overrides(tmp_path, **{"collection.train.num_steps_first_epoch": 400}))
    env = get_env_kind(config.env.kind).make_vector_env(config.env.train, config.collection.train.num_envs, 0)
    num_actions = int(env.single_action_space.n)
    agent = create_model("delta-iris", num_actions, "cpu", config.agent).eval()
    steps = []  # frames the policy was asked to act on, per call
    policy_step = agent.policy_step
    monkeypatch.setattr(agent, "policy_step", lambda frames, seen=False: steps.append(len(frames)) or
                        policy_step(frames, seen))
    dataset = EpisodeDataset(None, "train")
    collector = Collector(env, dataset, np.random.default_rng(0), seed=0)
    try:
        collector.collect(agent, config.collection.train, epoch=1)
        actions = np.concatenate([dataset.get_episode(i).actions for i in dataset.episode_ids])
        assert len(actions) == 400 and steps == []
        shares = np.bincount(actions, minlength=num_actions) / len(actions)
        assert np.abs(shares - 1 / num_actions).max() < 0.1, shares  # 4 actions: 100 ± 9 draws each
        collector.collect(agent, config.collection.train, epoch=2)
        assert steps == [1] * 30  # from epoch 2 the policy chooses every step (ε = 0.01 may replace it)
    finally:
        env.close()


def test_kill_9_mid_epoch_then_resume_loses_no_episode_and_continues_the_counts(tmp_path):
    last_epoch = kill_9_in_second_epoch(tiny_delta_overrides(tmp_path, epochs=30), tmp_path)
    dataset_dir = tmp_path / "checkpoints" / "dataset" / "train"
    before = EpisodeDataset.load(dataset_dir, "train")
    finished_before = {i: len(before.get_episode(i)) for i in before.episode_ids if before.get_episode(i).finished}
    counts_before = sampler_counts(tmp_path)

    assert main(["resume", str(tmp_path), f"common.epochs={last_epoch + 1}"]) == 0

    after = EpisodeDataset.load(dataset_dir, "train")
    for episode_id, length in finished_before.items():
        assert len(after.get_episode(episode_id)) == length
    assert after.num_steps >= before.num_steps + 30
    assert [m["epoch"] for m in read_metrics(tmp_path)] == list(range(1, last_epoch + 2))
    counts_after = sampler_counts(tmp_path)
    drawn = sum(counts_after["tokenizer"].values()) - sum(counts_before["tokenizer"].values())
    assert drawn == 2 * 2  # one more epoch of the tokenizer: the counts went on from where they were
    for episode_id, count in counts_before["tokenizer"].items():
        assert counts_after["tokenizer"][episode_id] >= count


def test_an_offline_dataset_trains_without_collecting_and_is_left_as_it_was(finished_run, tmp_path):
    static = tmp_path / "static"
    for side in ("train", "test"):
        shutil.copytree(finished_run / "checkpoints" / "dataset" / "train", static / side)
    before = folder_hash(static)
    run = tmp_path / "run"
    overrides = tiny_delta_overrides(run, epochs=2, **{"collection.offline_dataset": str(static)})
    assert main(["train", *overrides]) == 0
    metrics = read_metrics(run)
    assert all("train_dataset/return" not in m and "test_dataset/return" not in m for m in metrics)
    assert "world_model/eval/loss_latents" in metrics[1]  # evaluated on the static test episodes
    assert folder_hash(static) == before
    assert not (run / "checkpoints" / "dataset").exists()


def test_an_offline_dataset_without_episodes_is_one_line_before_any_work(tmp_path, capsys):
    (tmp_path / "static" / "train").mkdir(parents=True)
    run = tmp_path / "run"
    overrides = tiny_delta_overrides(run, **{"collection.offline_dataset": str(tmp_path / "static")})
    assert main(["train", *overrides]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds no episodes" in err[0] and not run.exists()
