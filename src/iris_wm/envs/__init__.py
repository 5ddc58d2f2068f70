"""Environment kinds (Atari now; Crafter next): the registry the trainer, evaluator and play tool
look an ``env=NAME`` up in. A kind is a record (``EnvKind``) registered by its own module."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iris_wm.registry import Registry


@dataclass(frozen=True)
class EnvKind:
    name: str
    description: str
    # env=NAME: ``id`` (the game or task), ``train`` and ``test`` (each side's settings)
    config_class: type
    make_vector_env: Callable[[Any, int, int], Any]  # (one side's settings, num_envs, seed) -> VectorEnv
    make_env: Callable[[Any, int | None], Any]  # (one side's settings, seed) -> a gymnasium.Env
    resolve_id: Callable[[str], str]  # any accepted spelling -> the canonical id; unknown ids raise
    action_names: Callable[[str], list[str]]  # of a canonical id
    presets: Path | None = None  # NAME.yaml here adds this kind's part of ``preset=NAME``


# The kind of a game named with --env for a checkpoint outside a run folder, whose config would say.
DEFAULT_ENV_KIND = "atari"

ENV_KINDS: Registry[EnvKind] = Registry("environment kind", {"atari": "iris_wm.envs.atari_kind"}, "iris_wm.envs")


def register_env_kind(kind: EnvKind) -> EnvKind:
    return ENV_KINDS.register(kind.name, kind)


def get_env_kind(name: str) -> EnvKind:
    return ENV_KINDS.get(name)
