"""``iris convert KIND last.pt OUT_DIR``: the authors' checkpoint in iris-wm's format."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", help="the agent kind whose authors' format the checkpoint is in (iris info lists them)")
    parser.add_argument("source", type=Path, help="the authors' checkpoint, e.g. RUN/checkpoints/last.pt")
    parser.add_argument("out_dir", type=Path, help="folder to write agent.safetensors and agent.yaml into")
    parser.add_argument("--force", action="store_true", help="overwrite a checkpoint already in OUT_DIR")


def run(args: argparse.Namespace) -> int:
    from iris_wm.agents import get_agent_kind
    from iris_wm.atomic import check_writable
    from iris_wm.checkpoint.agent_files import WEIGHTS_FILE, save_agent
    from iris_wm.checkpoint.original import original_kind, read_original_state_dict
    from iris_wm.errors import IrisError

    kind = get_agent_kind(args.kind)
    if kind.original is None:
        raise IrisError(f"agent kind {kind.name!r} has no importer of its authors' checkpoints")
    if (args.out_dir / WEIGHTS_FILE).exists() and not args.force:
        raise IrisError(f"{args.out_dir / WEIGHTS_FILE} already exists; choose another OUT_DIR or pass --force")
    check_writable(args.out_dir, "OUT_DIR", folder=True)
    if not args.source.is_file():
        raise IrisError(f"{args.source} is not a file; give the path of the authors' last.pt")
    state = read_original_state_dict(args.source)
    if not kind.original.recognizes(state):
        actual = original_kind(state, args.source)  # names the kind it is from, or says it is none
        raise IrisError(f"{args.source} is an authors' {actual.name} checkpoint, not {kind.name}; run iris convert "
                        f"{actual.name} {args.source} {args.out_dir}")
    agent = kind.original.load(state, args.source, None)
    save_agent(agent, args.out_dir)
    print(f"converted {args.source} -> {args.out_dir}: {len(agent.state_dict())} tensors, "
          f"{agent.num_actions} actions, {kind.original.describe(agent, state)}")
    return 0
