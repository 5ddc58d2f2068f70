"""``iris resume RUN_DIR [key=value ...]``: continue a run after its last completed epoch."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="the run folder iris train created")
    parser.add_argument("overrides", nargs="*", help="config changes, e.g. common.epochs=700")


def run(args: argparse.Namespace) -> int:
    from iris_wm.errors import IrisError
    from iris_wm.training.hydra_app import read_run_config
    from iris_wm.training.trainer import Trainer

    if not args.run_dir.is_dir():
        raise IrisError(f"run folder {args.run_dir} does not exist")
    config = read_run_config(args.run_dir, args.overrides)
    trainer = Trainer(config, args.run_dir, resume=True)
    print(f"resuming {args.run_dir} after epoch {trainer.start_epoch - 1}", flush=True)
    trainer.run()
    return 0
