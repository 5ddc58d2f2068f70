"""``iris benchmark`` end to end: 2 games x 2 seeds of a tiny preset, killed mid-sweep with SIGKILL
and run again, through the local launcher and through submitit's local executor."""

import json
from pathlib import Path

import pytest

from iris_wm.checkpoint.run_checkpoint import completed_epochs
from iris_wm.cli import main
from iris_wm.training.metrics_logger import read_metrics
from tests.factories import folder_hash, kill_group_when, start_iris, tiny_benchmark_overrides

pytest.importorskip("ale_py")

GAMES, SEEDS = ("Pong", "Breakout"), (0, 1)


def benchmark_arguments(sweep: Path, launcher: str, **extra) -> list[str]:
    return ["benchmark", "--games", ",".join(GAMES), "--seeds", "2", "--launcher", launcher, "--out", str(sweep),
            "--eval-episodes", "1", "--eval-envs", "1", "--report-reps", "200", *tiny_benchmark_overrides(**extra)]


def run_dirs(sweep: Path) -> dict[tuple[str, int], Path]:
    return {(game, seed): sweep / "runs" / game / f"seed_{seed}" for game in GAMES for seed in SEEDS}


def finished(run_dir: Path) -> bool:
    return (run_dir / "eval" / "benchmark.json").is_file()


def completed(run_dir: Path) -> int:
    return completed_epochs(run_dir / "checkpoints") if run_dir.is_dir() else 0


def kill_mid_sweep(sweep: Path, launcher: str, epochs: int, **extra) -> None:
    """Start the sweep and SIGKILL it (and its jobs) once a run has trained all its epochs (one after
    the other: and been evaluated) and another is between its first checkpoint and its last epoch."""
    runs = run_dirs(sweep).values()
    done = finished if launcher == "local" else lambda run: completed(run) == epochs
    kill_group_when(start_iris(benchmark_arguments(sweep, launcher, **{"common.epochs": epochs, **extra})),
                    lambda: any(map(done, runs)) and any(0 < completed(run) < epochs for run in runs))


def training_files(run_dir: Path) -> str:
    return folder_hash(run_dir / "checkpoints") + (run_dir / "metrics.jsonl").read_text()


@pytest.mark.parametrize("launcher", ["local", pytest.param("submitit-local", marks=pytest.mark.skipif(
    __import__("importlib").util.find_spec("submitit") is None, reason="the cluster extra is not installed"))])
def test_a_killed_sweep_run_again_skips_finished_runs_and_resumes_the_interrupted(launcher, tmp_path, capsys):
    sweep = tmp_path / "sweep"
    # Evaluation during training only in the local sweep. Submitit's jobs run together and advance
    # almost together on two cores: more, shorter epochs let one be killed mid-run while another
    # has trained all of its own (and may be evaluating).
    epochs, extra = (2, {}) if launcher == "local" else (6, {"evaluation.should": "false"})
    kill_mid_sweep(sweep, launcher, epochs, **extra)
    extra["common.epochs"] = epochs
    dirs = run_dirs(sweep)
    done_before = {key for key, run in dirs.items() if finished(run)}
    trained_before = {key: training_files(run) for key, run in dirs.items() if completed(run) == epochs}
    interrupted = {key: completed(run) for key, run in dirs.items() if 0 < completed(run) < epochs}
    hashes = {key: folder_hash(dirs[key]) for key in done_before}
    kept_epochs = {key: read_metrics(dirs[key])[:done] for key, done in interrupted.items()}
    assert trained_before and interrupted and (done_before or launcher != "local")

    assert main(["benchmark", "status", str(sweep)]) == 0
    table = capsys.readouterr().out
    assert table.count(" finished ") == len(done_before) and "interrupted" in table
    assert str(dirs[next(iter(interrupted))] / "benchmark.log") in table

    assert main(benchmark_arguments(sweep, launcher, **extra)) == 0
    out = capsys.readouterr().out
    counted = out.splitlines()[0]  # the states the rerun found
    assert f"{len(done_before)} finished" in counted if done_before else "finished" not in counted
    for key in done_before:  # not retrained, not evaluated again: not a byte changed
        assert folder_hash(dirs[key]) == hashes[key]
    for key, files in trained_before.items():  # trained before the kill: at most evaluated now
        assert training_files(dirs[key]) == files
    for key, done in interrupted.items():  # continued after its checkpoint, its epochs until then kept
        assert f"resuming {dirs[key]} after epoch {done}" in (dirs[key] / "benchmark.log").read_text()
        metrics = read_metrics(dirs[key])
        assert [m["epoch"] for m in metrics] == list(range(1, epochs + 1)) and metrics[:done] == kept_epochs[key]
    assert all(finished(run) for run in dirs.values())

    scores = json.loads((sweep / "scores.json").read_text())
    assert {game: len(scores[game]) for game in GAMES} == {"Pong": 2, "Breakout": 2}
    assert scores["details"]["seeds"] == {"Pong": [0, 1], "Breakout": [0, 1]}
    for game, seed in dirs:  # each score is its run's result
        result = json.loads((dirs[game, seed] / "eval" / "benchmark.json").read_text())
        assert scores[game][scores["details"]["seeds"][game].index(seed)] == result[game][0]
    assert (sweep / "report" / "report.md").is_file() and (sweep / "report" / "figures" / "aggregates.png").is_file()
    assert "iris " in (sweep / "report" / "report.md").read_text()
    assert main(["report", str(sweep / "scores.json"), "--reps", "100"]) == 0  # the score file reads as it is
    capsys.readouterr()

    assert main(["benchmark", "status", str(sweep)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:5] == ["run", "state", "epoch", "test", "return"] and table[-1] == "4 of 4 runs finished"
    rows = table[1:-1]
    assert len(rows) == 4 and all(" finished " in row and f" {epochs}/{epochs} " in row and "benchmark.log" in row
                                  for row in rows)
    if launcher == "local":  # evaluated during training at epoch 2: the last test return is shown
        assert all(row.split()[5] != "-" for row in rows)
