"""``iris resume RUN_DIR [key=value ...]``: continue a run after its last completed epoch."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="the run folder iris train created")
    parser.add_argument("overrides", nargs="*", help="changes that extend or tune the run, e.g. common.epochs=700")


def run(args: argparse.Namespace) -> int:
    from iris_wm.checkpoint.run_checkpoint import completed_epochs
    from iris_wm.errors import IrisError
    from iris_wm.run_folder import RunFolder, lock_run_folder
    from iris_wm.training.compose import to_train_config
    from iris_wm.training.interrupt import stop_at_safe_points
    from iris_wm.training.run_config import check_resume_overrides, load_run_config, record_resume
    from iris_wm.training.trainer import Trainer

    run_dir = args.run_dir
    if not run_dir.is_dir():
        raise IrisError(f"run folder {run_dir} does not exist")
    stored, merged = load_run_config(run_dir, args.overrides)
    config = to_train_config(merged)
    changed = check_resume_overrides(stored, merged, args.overrides)
    run = RunFolder(run_dir)
    for folder in (run_dir, run.checkpoints):
        if folder.is_dir() and not os.access(folder, os.W_OK):
            raise IrisError(f"{folder} is not writable, and resuming writes checkpoints there; copy the run folder "
                            f"somewhere writable and resume the copy")
    lock_run_folder(run_dir)
    done = completed_epochs(run)
    if done == 0:
        raise IrisError(f"{run_dir} has no completed epoch to resume from; start it again with iris train")
    if config.common.epochs <= done:
        print(f"{run_dir} has completed {done} epochs, and common.epochs={config.common.epochs}: nothing to do; "
              f"to train further, iris resume {run_dir} common.epochs=N with N > {done}")
        return 0
    with stop_at_safe_points():
        trainer = Trainer(config, run_dir, resume=True)
        record_resume(run_dir, merged, args.overrides, changed, done + 1)  # once the run could be restored
        print(f"resuming {run_dir} after epoch {trainer.completed_epochs}", flush=True)
        return trainer.run_until_stopped("iris resume")
