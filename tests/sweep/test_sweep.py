"""``iris benchmark`` end to end: 2 games x 2 seeds of a tiny preset, killed mid-sweep with SIGKILL
and run again: started through the local launcher and killed, continued through submitit's local
executor and killed, then finished through the local launcher. Each launch must skip what is
finished, resume what was interrupted from its checkpoint, and leave every score in scores.json."""

import importlib.util
import json
from pathlib import Path

import pytest

from iris_wm.checkpoint.run_checkpoint import completed_epochs
from iris_wm.cli import main
from iris_wm.run_folder import RunFolder
from iris_wm.training.metrics_logger import read_metrics
from tests.factories import folder_hash, kill_group_when, start_iris, tiny_benchmark_overrides

pytest.importorskip("ale_py")

GAMES, SEEDS, EPOCHS = ("Pong", "Breakout"), (0, 1), 2
# evaluated during training once, at the last epoch: the status shows a last test return
OVERRIDES = {"common.epochs": EPOCHS, "evaluation.every": EPOCHS}


def arguments(sweep: Path, launcher: str) -> list[str]:
    return ["benchmark", "--games", ",".join(GAMES), "--seeds", "2", "--launcher", launcher, "--out", str(sweep),
            "--eval-episodes", "1", "--eval-envs", "1", "--report-reps", "200", *tiny_benchmark_overrides(**OVERRIDES)]


def run_dirs(sweep: Path) -> dict[tuple[str, int], Path]:
    return {(game, seed): sweep / "runs" / game / f"seed_{seed}" for game in GAMES for seed in SEEDS}


def finished(run_dir: Path) -> bool:
    return (run_dir / "eval" / "benchmark.json").is_file()


def completed(run_dir: Path) -> int:
    return completed_epochs(RunFolder(run_dir)) if run_dir.is_dir() else 0


def training_files(run_dir: Path) -> str:
    return folder_hash(run_dir / "checkpoints") + (run_dir / "metrics.jsonl").read_text()


class Snapshot:
    """What the runs were when a launch was killed: finished, trained (maybe not yet evaluated),
    interrupted mid-run (with their epoch and metrics until then)."""

    def __init__(self, sweep: Path) -> None:
        self.dirs = dirs = run_dirs(sweep)
        self.finished = {key: folder_hash(run) for key, run in dirs.items() if finished(run)}
        self.trained = {key: training_files(run) for key, run in dirs.items() if completed(run) == EPOCHS}
        self.interrupted = {key: (completed(run), read_metrics(run)[:completed(run)]) for key, run in dirs.items()
                            if 0 < completed(run) < EPOCHS}

    def check_continued(self) -> None:
        """After the next launch: nothing finished or trained was redone; the interrupted resumed."""
        for key, digest in self.finished.items():  # not a byte changed
            assert folder_hash(self.dirs[key]) == digest, key
        for key, files in self.trained.items():  # at most evaluated since
            assert training_files(self.dirs[key]) == files, key
        for key, (epoch, metrics) in self.interrupted.items():
            log = (self.dirs[key] / "benchmark.log").read_text()
            assert f"resuming {self.dirs[key]} after epoch {epoch}" in log, key
            assert len(metrics) == epoch and read_metrics(self.dirs[key])[:epoch] == metrics, key


@pytest.mark.skipif(importlib.util.find_spec("submitit") is None, reason="the cluster extra is not installed")
def test_a_sweep_killed_twice_continues_where_it_stopped_and_ends_in_scores_and_a_report(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    runs = list(run_dirs(sweep).values())
    # 1. the local launcher, one run after the other: killed once one is finished and the next mid-run
    kill_group_when(start_iris(arguments(sweep, "local")),
                    lambda: any(map(finished, runs)) and any(0 < completed(run) < EPOCHS for run in runs))
    first = Snapshot(sweep)
    assert first.finished and first.interrupted

    assert main(["benchmark", "status", str(sweep)]) == 0
    table = capsys.readouterr().out
    assert table.count(" finished ") == len(first.finished) and " interrupted " in table and " pending " in table
    assert str(first.dirs[next(iter(first.interrupted))] / "benchmark.log") in table

    # 2. submitit's local executor, every unfinished run at once, killed as soon as one more run is
    # trained (the resumed one needs fewer epochs than the fresh ones; which runs are mid-run then
    # depends on the machine's load, so the check does not ask for any)
    others = [run for key, run in first.dirs.items() if key not in first.finished]
    kill_group_when(start_iris(arguments(sweep, "submitit-local")),
                    lambda: any(completed(run) == EPOCHS for run in others))
    first.check_continued()
    second = Snapshot(sweep)
    assert len(second.trained) > len(first.finished)
    assert (sweep / "submitit").is_dir()  # the jobs went through submitit

    # 3. the local launcher again, to the end
    assert main(arguments(sweep, "local")) == 0
    out = capsys.readouterr().out
    assert f"{len(second.finished)} finished" in out.splitlines()[0] or not second.finished
    second.check_continued()
    dirs = second.dirs
    assert all(finished(run) for run in dirs.values())

    scores = json.loads((sweep / "scores.json").read_text())
    assert {game: len(values) for game, values in scores.items()} == {"Pong": 2, "Breakout": 2}
    assert json.loads((sweep / "scores_details.json").read_text())["seeds"] == {"Pong": [0, 1], "Breakout": [0, 1]}
    for game, seed in dirs:  # each score is its run's result
        result = json.loads((dirs[game, seed] / "eval" / "benchmark.json").read_text())
        assert scores[game][seed] == result[game][0]
    assert (sweep / "report" / "report.md").is_file() and (sweep / "report" / "figures" / "aggregates.png").is_file()
    assert main(["report", str(sweep / "scores.json"), "--reps", "100", "--baselines", "IRIS"]) == 0
    assert "iris " in (sweep / "report" / "report.md").read_text()
    capsys.readouterr()

    assert main(["benchmark", "status", str(sweep)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:5] == ["run", "state", "epoch", "test", "return"] and table[-1] == "4 of 4 runs finished"
    rows = table[1:-1]
    assert len(rows) == 4 and all(f" finished  {EPOCHS}/{EPOCHS} " in row and "benchmark.log" in row for row in rows)
    assert all(row.split()[5] != "-" for row in rows)  # the last test return during training
