"""``--pretrained GAME`` of ``iris eval`` and ``iris play``: the published agent of the agent kinds'
tables, in place of a PATH (not a subcommand)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class AgentSource:
    path: Path | str | None  # a local path, or an hf:// reference; None: no agent (iris eval --policy random)
    env_kind: str | None  # the published agent's environment kind; None: from the run folder or the default
    game: str | None  # the game it plays, unless --env says otherwise


def add_pretrained_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pretrained", metavar="GAME",
                        help="the authors' published agent for GAME (downloaded from the Hugging Face Hub once, "
                             "then cached), in place of PATH")
    parser.add_argument("--agent", metavar="KIND", help="with --pretrained: whose agent (default: the first kind "
                                                        "that published one for GAME)")


def agent_source(args: argparse.Namespace) -> AgentSource:
    from iris_wm.agents import find_pretrained
    from iris_wm.checkpoint.hub import is_hub_reference, parse_reference
    from iris_wm.errors import IrisError

    if (args.path is None) == (args.pretrained is None):
        raise IrisError("give the agent as PATH (a run folder, checkpoint or hf:// reference) or as "
                        "--pretrained GAME, one of the two")
    if args.pretrained is None:
        if args.agent is not None:
            raise IrisError("--agent goes with --pretrained; a PATH says its own agent kind")
        if is_hub_reference(args.path):
            return AgentSource(str(parse_reference(args.path)), None, None)  # a malformed one fails here
        return AgentSource(Path(args.path), None, None)
    _, entry = find_pretrained(args.pretrained, args.agent)
    return AgentSource(entry.reference, entry.env_kind, entry.game)
