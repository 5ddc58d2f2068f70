"""TorchWM's spellings of our commands, for people arriving from its documentation (not a
subcommand): ``iris train iris --env ALE/Pong-v5 --device cuda`` is ``iris train agent=iris
env.id=ALE/Pong-v5 common.device=cuda``; Hydra overrides keep working beside them."""

from __future__ import annotations

# TorchWM flag -> our config key
FLAGS = {"--env": "env.id", "--device": "common.device", "--seed": "common.seed", "--epochs": "common.epochs"}


def env_choice(text: str | None) -> tuple[str, str | None]:
    """``--env``: an environment kind's name (crafter) or a game of the default kind (ALE/Pong-v5)
    -> (environment kind, game or None)."""
    from iris_wm.envs import DEFAULT_ENV_KIND, ENV_KINDS

    if text is not None and text.strip().lower() in ENV_KINDS.names():
        return text.strip().lower(), None
    return DEFAULT_ENV_KIND, text


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
    kind, game = env_choice(text)
    return [f"env={kind}"] if game is None else [f"env.id={game}"]
