"""``iris train [key=value ...] [preset=NAME] [-m]``: train an agent (a Hydra 1.3 app)."""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """examples:
  iris train env.id=Pong preset=cpu-smoke           tiny networks, a few minutes on a CPU
  iris train env.id=Breakout                        the paper's protocol (preset=atari100k)
  iris train env.id=Pong common.device=cuda:1 training.learning_rate=3e-4
  iris train -m env.id=Pong,Breakout common.seed=0,1,2   a sweep, one run folder per job
Every option is a key of the config (see src/iris_wm/training/config.py and config/preset/)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("-m", "--multirun", action="store_true", help="sweep: one run per combination of a,b values")
    parser.add_argument("overrides", nargs=argparse.REMAINDER, help="key=value overrides, preset=NAME")


def train(config, run_dir: Path) -> None:
    from iris_wm.training.trainer import Trainer

    print(f"run folder: {run_dir}", flush=True)
    Trainer(config, run_dir).run()


def run(args: argparse.Namespace) -> int:
    from iris_wm.training.hydra_app import compose_config, launch

    sweep_flags = {"-m", "--multirun"}
    overrides = [o for o in args.overrides if o not in sweep_flags]
    compose_config(overrides)
    multirun = args.multirun or len(overrides) < len(args.overrides)
    launch((["--multirun"] if multirun else []) + overrides, train)
    return 0
