"""The ``iris`` command line: one subcommand per module, imported only when used.

Each subcommand module provides ``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# Before torch loads OpenMP: idle OpenMP threads that spin instead of sleeping make every small op
# wait when another process shares the cores (measured on 2 cores beside one busy process: 600 ms
# per policy step with spinning threads, 83 ms with PASSIVE).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from iris_wm.errors import IrisError, describe_os_error

SUBCOMMANDS = {
    "train": ("iris_wm.commands.train", "train an agent: iris train env.id=Pong [preset=cpu-smoke] [key=value ...]"),
    "resume": ("iris_wm.commands.resume", "continue a run folder after its last completed epoch"),
    "eval": ("iris_wm.commands.eval", "evaluate an agent with the paper's test protocol (JSON scores, videos)"),
    "info": ("iris_wm.commands.info", "print versions, device and which optional parts are installed"),
    "convert": ("iris_wm.commands.convert", "convert the authors' checkpoint (last.pt) to iris-wm's format"),
    "report": ("iris_wm.commands.report", "scores as tables and figures, against each env family's references"),
    "play": ("iris_wm.commands.play", "watch the agent, play inside the world model, browse episodes (window or MP4)"),
    "benchmark": ("iris_wm.commands.benchmark", "games x seeds on a Hydra launcher (local, SLURM, Ray), resumable, "
                                                "into scores.json and iris report"),
    "push": ("iris_wm.commands.push", "upload a run's agent with a model card to the Hugging Face Hub"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iris", description="IRIS-family world-model agents: train, evaluate, convert, report."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(_module=module_name)
        importlib.import_module(module_name).add_arguments(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return importlib.import_module(args._module).run(args)
    except IrisError as error:
        print(f"iris {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # the filesystem said no where no check could foresee it
        print(f"iris {args.command}: error: {describe_os_error(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"iris {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
