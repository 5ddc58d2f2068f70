"""IRIS and Δ-IRIS on gymnasium envs (env=gym) end to end, tiny networks: a MiniGrid task from
pixels and CarRacing with discrete actions; train, kill -9 and resume, evaluate, play headless."""

import json

import pytest

from iris_wm.cli import main
from iris_wm.data.dataset import EpisodeDataset
from iris_wm.training.metrics_logger import read_metrics
from tests.factories import kill_9_in_second_epoch, tiny_delta_overrides, tiny_train_overrides

TASKS = {"minigrid": ("minigrid", "MiniGrid-DoorKey-5x5-v0"), "carracing": ("Box2D", "CarRacing-v3")}
AGENTS = {"iris": tiny_train_overrides, "delta-iris": tiny_delta_overrides}
CASES = [(agent, task) for task in TASKS for agent in AGENTS]


def gym_overrides(agent: str, task: str, run_dir, epochs: int) -> list[str]:
    pytest.importorskip(TASKS[task][0])
    # The task's preset, with the tiny phases of the agent's test overrides; short episodes, so that
    # train and test episodes end within an epoch.
    overrides = AGENTS[agent](run_dir, epochs=epochs, **{"env": "gym", "env.id": TASKS[task][1], "preset": task,
                                                         "env.train.max_episode_steps": 25,
                                                         "env.test.max_episode_steps": 40, "evaluation.every": 2})
    return [o for o in overrides if o != "env.test.max_episode_steps=400"]


@pytest.fixture(scope="module", params=CASES, ids=[f"{a}-{t}" for a, t in CASES])
def run(request, tmp_path_factory):
    agent, task = request.param
    run_dir = tmp_path_factory.mktemp(f"{agent}_{task}")
    assert main(["train", *gym_overrides(agent, task, run_dir, epochs=4)]) == 0
    return agent, task, run_dir


def test_every_phase_runs_and_the_config_names_the_env(run):
    agent, task, run_dir = run
    metrics = read_metrics(run_dir)
    assert [m["epoch"] for m in metrics] == [1, 2, 3, 4]
    assert "imagination/return" in metrics[3] and "test_dataset/return" in metrics[3]
    assert any(key.startswith("world_model/train/") for key in metrics[3])
    config = (run_dir / "config" / "train.yaml").read_text()
    assert "kind: gym" in config and f"id: {TASKS[task][1]}" in config
    assert list((run_dir / "media" / "reconstructions").glob("*.png"))


def test_eval_writes_the_score_file_of_the_env_and_report_reads_the_run(run, capsys):
    _, task, run_dir = run
    out = run_dir / "eval" / "scores.json"
    assert main(["eval", str(run_dir), "--episodes", "2", "--num-envs", "2", "--out", str(out)]) == 0
    scores = json.loads(out.read_text())
    assert len(scores[TASKS[task][1]]) == 1 and len(scores["details"]["episode_returns"]) == 2
    capsys.readouterr()
    assert main(["report", f"mine={run_dir}", "--out", str(run_dir / "report"), "--reps", "100"]) == 0
    (row,) = json.loads((run_dir / "report" / "report.json").read_text())
    assert (row["env"], row["method"], row["runs"]) == (TASKS[task][1], "mine", 1)
    assert row["mean"] == pytest.approx(scores["details"]["mean"])


@pytest.mark.parametrize("mode", ["-r", "-a", "-e"])
def test_play_headless(run, mode, tmp_path):
    out = tmp_path / "play.mp4"
    _, _, run_dir = run
    assert main(["play", str(run_dir), mode, "--headless", "--steps", "4", "--out", str(out), "--device", "cpu"]) == 0
    assert out.stat().st_size > 0


@pytest.mark.parametrize("agent,task", CASES)
def test_kill_9_then_resume_keeps_every_finished_episode(agent, task, tmp_path):
    last_epoch = kill_9_in_second_epoch(gym_overrides(agent, task, tmp_path, epochs=30), tmp_path)
    dataset_dir = tmp_path / "checkpoints" / "dataset" / "train"
    before = EpisodeDataset.load(dataset_dir, "train")
    finished = {i: before.get_episode(i).observations for i in before.episode_ids if before.get_episode(i).finished}
    assert finished
    assert main(["resume", str(tmp_path), f"common.epochs={last_epoch + 1}"]) == 0
    after = EpisodeDataset.load(dataset_dir, "train")
    for episode_id, frames in finished.items():
        assert (after.get_episode(episode_id).observations == frames).all()
    assert read_metrics(tmp_path)[-1]["epoch"] == last_epoch + 1


def test_a_benchmark_sweep_over_two_gym_tasks_reports_each(tmp_path):
    """``iris benchmark --env gym --games MiniGrid-DoorKey-5x5-v0,CarRacing-v3`` with the ids alone: each
    id gets its package's settings (MiniGrid's RGB image, CarRacing's discrete actions)."""
    from tests.factories import tiny_benchmark_overrides

    for module, _ in TASKS.values():
        pytest.importorskip(module)
    sweep = tmp_path / "sweep"
    games = ",".join(game for _, game in TASKS.values())
    assert main(["benchmark", "--env", "gym", "--games", games, "--seeds", "1", "--out", str(sweep),
                 "--eval-episodes", "2", "--eval-envs", "1", *tiny_benchmark_overrides()]) == 0
    assert sorted(json.loads((sweep / "scores.json").read_text())) == sorted(games.split(","))
    assert main(["report", f"iris={sweep / 'runs'}", "--reps", "100", "--out", str(tmp_path / "report")]) == 0
    rows = json.loads((tmp_path / "report" / "report.json").read_text())
    assert sorted((row["env"], row["method"], row["runs"]) for row in rows) == [
        ("CarRacing-v3", "iris", 1), ("MiniGrid-DoorKey-5x5-v0", "iris", 1)]
    assert (tmp_path / "report" / "figures" / "scores.png").stat().st_size > 0
