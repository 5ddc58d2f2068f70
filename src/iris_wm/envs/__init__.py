"""Environment kinds (families): the registry the trainer, evaluator, report, sweep and play tool look an
``env=NAME`` up in. A kind is a record (``EnvKind``) registered by its own package; the code that uses
kinds asks the record and never names one."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

from iris_wm.config import tied
from iris_wm.registry import Registry
from iris_wm.scores.report import Input, Report, ReportOptions


@dataclass(frozen=True)
class EnvKind:
    name: str
    description: str
    # env=NAME: ``id`` (the game or task), ``train`` and ``test`` (each side's settings); a family that steps
    # its envs in Python adds ``vectorization`` (sync | async), which each side carries as it carries the id
    config_class: type
    # (one side's settings, num_envs, seed) -> a gymnasium.vector.VectorEnv with same-step autoreset, env i
    # seeded with seed + i (iris_wm.envs.vector)
    make_vector_env: Callable[[Any, int, int], Any]
    make_env: Callable[[Any, int | None], Any]  # (one side's settings, seed) -> a gymnasium.Env
    resolve_id: Callable[[str], str]  # any accepted spelling -> the canonical id; unknown ids raise
    action_names: Callable[[Any], list[str]]  # one side's settings (with a canonical id) -> the action names
    play_keys: Callable[[list[str]], dict[str, str]]  # action names -> {pygame key name: action name}, for a person
    raw_frame: Callable[[Any], Any]  # env -> the frame the viewer shows large (H, W, 3) uint8
    presets: Path | None = None  # NAME.yaml here adds this kind's part of ``preset=NAME``
    # Values kept with every stored step: info -> {name: array}, e.g. Crafter's achievement counts.
    step_extras: Callable[[dict], dict[str, Any]] | None = None
    # Metrics over finished episodes, from each one's last step_extras: e.g. the Crafter score.
    episode_metrics: Callable[[list[dict[str, Any]]], dict[str, float]] | None = None
    curves: tuple[str, ...] = ()  # metric keys the learning-curve figure shows for this kind
    score_metric: str | None = None  # of episode_metrics: a run's score in score files (else the mean return)
    describe_info: Callable[[dict], dict[str, str]] | None = None  # info -> header fields of the viewer
    # A stored step's step_extras and the previous step's (None at the first) -> header fields of
    # the episode browser, e.g. the achievements unlocked at that step.
    describe_step: Callable[[dict[str, Any], dict[str, Any] | None], dict[str, str]] | None = None
    # Checks of the config that need more than its values (making the env), run before any work.
    check: Callable[[Any], None] | None = None
    # iris report: whether an input (a score file, a run folder, the family's own stats) holds this family's
    # scores, and the family's report of such inputs (its metrics, reference rows and figures). Without them
    # the inputs get the report of any env (iris_wm.scores.returns: mean return per env and method).
    claims_scores: Callable[[Path, ReportOptions], bool] | None = None
    report: Callable[[list[Input], ReportOptions], Report] | None = None
    game_sets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # iris benchmark --games NAME
    # id -> {name: a reference policy's test return} (the random policy's, published agents'), drawn as lines
    # on the learning curves of iris report --curves
    reference_returns: Callable[[str], dict[str, float]] | None = None


def lazy(module: str, name: str) -> Callable:
    """``module.name``, imported at its first call. A family's record registers without importing what its
    envs need (ale-py, crafter): reports need none of it, and a missing extra is said when an env is made."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


# The kind of a config that names none, and of a game named with --env for a checkpoint outside
# a run folder (config/train.yaml's default too).
DEFAULT_ENV_KIND = "atari"

BUILT_IN = {"atari": "iris_wm.envs.atari.kind", "crafter": "iris_wm.envs.crafter.kind", "gym": "iris_wm.envs.gym"}
ENV_KINDS: Registry[EnvKind] = Registry("environment kind", BUILT_IN, "iris_wm.envs")


def tie_sides(config: Any, keys: tuple[str, ...], env_keys: tuple[str, ...] = ("id",)) -> None:
    """An env kind's ``train`` and ``test`` settings: their ``env_keys`` follow the env-level key of
    the same name (``env.id``, ``env.vectorization``), and the test side's ``keys`` follow the train
    side's, unless set to the same value (else a one-line error)."""
    for name in ("train", "test"):
        side = getattr(config, name)
        for key in env_keys:
            setattr(side, key, tied(f"env.{key}", getattr(config, key), f"env.{name}.{key}", getattr(side, key)))
    for key in keys:
        value = tied(f"env.train.{key}", getattr(config.train, key), f"env.test.{key}", getattr(config.test, key))
        setattr(config.test, key, value)


def register_env_kind(kind: EnvKind) -> EnvKind:
    return ENV_KINDS.register(kind.name, kind)


def get_env_kind(name: str) -> EnvKind:
    return ENV_KINDS.get(name)
