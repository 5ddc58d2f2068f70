"""IRIS on Crafter end to end, tiny networks: train, the score in the logs, kill -9 and resume,
evaluate, and a headless video."""

import json

import pytest

from iris_wm.cli import main
from iris_wm.data.dataset import EpisodeDataset
from iris_wm.training.metrics_logger import read_metrics
from tests.factories import assert_metrics_equal_fixture, kill_9_in_second_epoch, tiny_train_overrides

pytest.importorskip("crafter")



def crafter_overrides(run_dir, epochs: int) -> list[str]:
    # Short episodes, so that train and test episodes end and the score is logged every epoch.
    return tiny_train_overrides(run_dir, epochs=epochs, **{"env": "crafter", "env.id": "Crafter",
                                                           "env.train.max_episode_steps": 30,
                                                           "env.test.max_episode_steps": 60})


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("crafter_run")
    assert main(["train", *crafter_overrides(run_dir, epochs=4)]) == 0
    return run_dir


def test_the_score_and_success_rates_are_logged_for_train_and_test(run):
    metrics = read_metrics(run)
    assert [m["epoch"] for m in metrics] == [1, 2, 3, 4]
    for prefix in ("train_dataset", "test_dataset"):
        assert 0 <= metrics[3][f"{prefix}/crafter_score"] <= 100
        assert sum(key.startswith(f"{prefix}/success/") for key in metrics[3]) == 22
    assert "world_model/train/loss_obs" in metrics[2] and "imagination/return" in metrics[3]
    dataset = EpisodeDataset.load(run / "checkpoints" / "dataset" / "train", "train")
    assert all(dataset.get_episode(i).extras["achievements"].shape[1] == 22 for i in dataset.episode_ids)
    assert "kind: crafter" in (run / "config" / "train.yaml").read_text()


def test_metrics_are_identical_to_those_recorded_once_episodes_became_reproducible(run):
    """The fixture holds this run's metrics (the same overrides and seed) recorded in another process
    once Crafter's episodes stopped depending on memory addresses: a refactor of the Crafter family
    must keep them. Floats agree to float32 rounding, which differs between CPUs."""
    assert_metrics_equal_fixture(run, "crafter_tiny_run_metrics.jsonl")


def test_eval_writes_the_achievements_and_the_score(run):
    out = run / "eval" / "scores.json"
    assert main(["eval", str(run), "--episodes", "2", "--num-envs", "2", "--out", str(out)]) == 0
    details = json.loads(out.read_text())["details"]
    assert len(details["episode_achievements"]) == 2 and len(details["episode_achievements"][0]) == 22
    assert json.loads(out.read_text())["Crafter"] == [details["crafter_score"]]


@pytest.mark.parametrize("mode", ["-r", "-a", "-e"])
def test_a_headless_video_of_crafter(run, mode, tmp_path):
    out = tmp_path / "crafter.mp4"
    assert main(["play", str(run), mode, "-h", "--headless", "--steps", "5", "--out", str(out), "--device", "cpu"]) == 0
    assert out.stat().st_size > 0


def test_kill_9_then_resume_keeps_every_finished_episode_and_the_run_score(tmp_path):
    last_epoch = kill_9_in_second_epoch(crafter_overrides(tmp_path, epochs=30), tmp_path)
    dataset_dir = tmp_path / "checkpoints" / "dataset" / "train"
    before = EpisodeDataset.load(dataset_dir, "train")
    finished = {i: before.get_episode(i).extras["achievements"] for i in before.episode_ids
                if before.get_episode(i).finished}
    assert main(["resume", str(tmp_path), f"common.epochs={last_epoch + 1}"]) == 0
    after = EpisodeDataset.load(dataset_dir, "train")
    for episode_id, achievements in finished.items():
        assert (after.get_episode(episode_id).extras["achievements"] == achievements).all()
    last = read_metrics(tmp_path)[-1]
    assert last["epoch"] == last_epoch + 1 and "train_dataset/crafter_score" in last
