"""Each run's state in a sweep, and the sweep's score file.

A run folder is the truth about training (its checkpoint's epoch, its metrics) and about the
result (``eval/benchmark.json``, written once the run is evaluated). Beside the run folders, the
sweep keeps one small record per run (``state/GAME_seedS.json``: attempts, failures, the last
error), written only by the job holding that run folder's lock, so that jobs never write the same
file. The score file (and beside it, which seed each score is of) is rebuilt from the runs'
results under a lock of its own: a job that fails, or finishes at the same moment as another,
never loses another's score.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from omegaconf import OmegaConf

from iris_wm.atomic import atomic_write_text
from iris_wm.checkpoint.run_checkpoint import completed_epochs
from iris_wm.run_folder import RunFolder, is_locked
from iris_wm.sweep.spec import BenchmarkSpec
from iris_wm.training.metrics_logger import read_metrics

SCORES = "scores.json"  # the published runs format only: the notebooks computing the aggregates read it
SCORES_DETAILS = "scores_details.json"  # what scores.json holds: each score's seed, the agent, when
TEST_RETURN = "test_dataset/return"


@dataclass
class RunRecord:
    game: str
    seed: int
    attempts: int = 0
    failures: int = 0
    gave_up: bool = False  # failed more than --max-retries times
    error: str | None = None  # of the last failure


def record_path(sweep: Path, game: str, seed: int) -> Path:
    return sweep / "state" / f"{game}_seed{seed}.json"


def read_record(sweep: Path, game: str, seed: int) -> RunRecord:
    path = record_path(sweep, game, seed)
    return RunRecord(**json.loads(path.read_text())) if path.is_file() else RunRecord(game, seed)


def write_record(sweep: Path, record: RunRecord) -> None:
    atomic_write_text(record_path(sweep, record.game, record.seed), json.dumps(asdict(record), indent=1))


@dataclass
class RunStatus:
    game: str
    seed: int
    state: str  # finished, running, interrupted, failed, pending
    epoch: int  # of its last checkpoint
    epochs: int | None  # the run's common.epochs, once it started; None when a --checkpoint is evaluated
    test_return: float | None  # the last evaluation's mean test return during training
    score: float | None  # the benchmark result, once finished
    log: Path
    error: str | None  # of the last failure
    failures: int

    def has_work_left(self, max_retries: int) -> bool:
        """Whether a job should be launched for it: not finished, not held by another launch's job,
        and not failed more than ``max_retries`` times."""
        return self.state not in ("finished", "running") and self.failures <= max_retries


def run_status(spec: BenchmarkSpec, sweep: Path, game: str, seed: int) -> RunStatus:
    run_dir = spec.run_dir(sweep, game, seed)
    run = RunFolder(run_dir)
    record = read_record(sweep, game, seed)
    epoch = completed_epochs(run) if run_dir.is_dir() else 0
    result = read_result(run_dir)
    if result is not None:
        state = "finished"
    elif is_locked(run_dir):
        state = "running"
    elif record.gave_up:
        state = "failed"
    elif epoch > 0 or record.attempts > 0:
        state = "interrupted"
    else:
        state = "pending"
    returns = [entry[TEST_RETURN] for entry in read_metrics(run_dir) if TEST_RETURN in entry]
    # with --checkpoint nothing is trained: the stored config's epochs are no run's target
    epochs = target_epochs(run_dir) if spec.checkpoint is None else None
    return RunStatus(game, seed, state, epoch, epochs, returns[-1] if returns else None,
                     result, run.benchmark_log, record.error, record.failures)


def target_epochs(run_dir: Path) -> int | None:
    path = RunFolder(run_dir).config_file
    return OmegaConf.load(path).common.epochs if path.is_file() else None


def read_result(run_dir: Path) -> float | None:
    path = RunFolder(run_dir).benchmark_result
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return next(value[0] for key, value in data.items() if isinstance(value, list))


def sweep_status(spec: BenchmarkSpec, sweep: Path) -> list[RunStatus]:
    return [run_status(spec, sweep, game, seed) for game, seed in spec.jobs()]


@contextmanager
def scores_lock(sweep: Path) -> Iterator[None]:
    fd = os.open(sweep / ".scores.lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write_scores(spec: BenchmarkSpec, sweep: Path) -> dict[str, list[float]]:
    """``scores.json``, ``{game: [score of each finished seed]}``, rebuilt from every finished run's
    result; which seeds those are, with the agent and the time, go beside it into ``scores_details.json``."""
    with scores_lock(sweep):
        scores: dict[str, list[float]] = {}
        seeds: dict[str, list[int]] = {}
        for game, seed in spec.jobs():
            score = read_result(spec.run_dir(sweep, game, seed))
            if score is not None:
                scores.setdefault(game, []).append(score)
                seeds.setdefault(game, []).append(seed)
        details = {"agent": spec.agent, "env": spec.env, "checkpoint": spec.checkpoint,
                   "seeds": seeds, "written": time.strftime("%Y-%m-%d %H:%M:%S")}
        atomic_write_text(sweep / SCORES_DETAILS, json.dumps(details, indent=1) + "\n")
        atomic_write_text(sweep / SCORES, json.dumps(scores, indent=1) + "\n")
    return scores
