"""What several subcommands accept alike (the subcommands themselves are iris_wm.commands, one per module).

- TorchWM's spellings, for people arriving from its documentation: ``iris train iris --env ALE/Pong-v5
  --device cuda`` is ``iris train agent=iris env.id=ALE/Pong-v5 common.device=cuda``; Hydra overrides keep
  working beside them. ``--env`` names a family, a family's game, or any family's game.
- Where ``iris eval`` and ``iris play`` take their agent from: a PATH (run folder, checkpoint, the authors'
  last.pt, an hf:// reference) or ``--pretrained GAME``, the published agent of the agent kinds' tables.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

# TorchWM flag -> our config key
FLAGS = {"--env": "env.id", "--device": "common.device", "--seed": "common.seed", "--epochs": "common.epochs"}


def env_choice(text: str | None) -> tuple[str, str | None]:
    """``--env``: an environment kind's name (crafter), KIND:GAME (gym:MiniGrid-Empty-5x5-v0), or a game of the
    first kind that has it, the default kind's first (ALE/Pong-v5) -> (environment kind, game or None)."""
    from iris_wm.envs import DEFAULT_ENV_KIND, ENV_KINDS, get_env_kind
    from iris_wm.errors import IrisError
    from iris_wm.training.compose import has_game

    if text is None or text.strip().lower() in ENV_KINDS.names():
        return (DEFAULT_ENV_KIND if text is None else text.strip().lower()), None
    prefix, colon, game = text.partition(":")
    if colon and prefix.strip().lower() in ENV_KINDS.names():
        return prefix.strip().lower(), game.strip()
    for name in dict.fromkeys([DEFAULT_ENV_KIND, *ENV_KINDS.names()]):
        try:
            if has_game(get_env_kind(name), text):
                return name, text
        except IrisError:  # a family that cannot load here (its package missing) has no games
            continue
    return DEFAULT_ENV_KIND, text  # the default kind's resolution says what is wrong with it


def translate_train_arguments(arguments: list[str]) -> list[str]:
    """TorchWM's ``AGENT --env ID --device D`` (any order, ``--flag=value`` too) -> our overrides."""
    from iris_wm.agents import AGENT_KINDS
    from iris_wm.errors import IrisError

    overrides, rest = [], list(arguments)
    while rest:
        argument = rest.pop(0)
        flag, has_value, value = argument.partition("=")
        if flag in FLAGS:
            if not has_value:
                if not rest:
                    raise IrisError(f"{flag} needs a value, e.g. {flag} {'ALE/Pong-v5' if flag == '--env' else '...'}")
                value = rest.pop(0)
            overrides += env_overrides(value) if flag == "--env" else [f"{FLAGS[flag]}={value}"]
        elif "=" not in argument and argument in AGENT_KINDS.names():
            overrides.append(f"agent={argument}")
        else:
            overrides.append(argument)
    return overrides


def env_overrides(text: str) -> list[str]:
    from iris_wm.envs import DEFAULT_ENV_KIND

    kind, game = env_choice(text)
    family = [] if kind == DEFAULT_ENV_KIND and game is not None else [f"env={kind}"]
    return family + ([] if game is None else [f"env.id={game}"])


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
