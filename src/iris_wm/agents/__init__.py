"""Agent kinds: the registry, and ``create_model``.

A kind is a record (``AgentKind``) registered by the kind's own package: its config dataclass, its
training config, a builder, its presets and its importer of the authors' checkpoints. Everything
shared (trainer, collector, evaluator, checkpoints, CLI, play tool) goes through this registry and
the ``Agent`` contract of ``base.py``; adding a kind is new files, not edits elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from iris_wm.agents.base import Agent, TrainingConfig
from iris_wm.config import build_config
from iris_wm.devices import resolve_device
from iris_wm.errors import IrisError
from iris_wm.registry import Registry


@dataclass(frozen=True)
class OriginalFormat:
    """The authors' checkpoint format of a kind: how to recognise their file and load it."""

    recognizes: Callable[[Mapping[str, Tensor]], bool]  # their state dict's keys say it is theirs
    load: Callable[[Mapping[str, Tensor], Path, Any], Agent]  # (state, source, config overrides) -> agent
    describe: Callable[[Agent, Mapping[str, Tensor]], str]  # what the import kept and dropped, one line


@dataclass(frozen=True)
class PretrainedAgent:
    """A published agent of a kind: ``iris eval --pretrained GAME`` and ``iris play --pretrained GAME``."""

    env_kind: str  # the environment kind its game belongs to (atari, crafter)
    game: str  # its canonical id there (Breakout, Crafter)
    reference: str  # hf://OWNER/REPO/FILE[@REVISION], or a local path


@dataclass(frozen=True)
class AgentKind:
    name: str
    description: str
    config_class: type  # the agent's networks and losses: ``agent.*``
    training_class: type[TrainingConfig]  # its phases' settings: ``training.*``
    build: Callable[[Any, int], Agent]  # (config, num_actions) -> a freshly initialised agent
    presets: Path | None = None  # NAME.yaml here adds this kind's part of ``preset=NAME``
    default_preset: str = "atari100k"  # the paper's protocol, when a command names no preset
    original: OriginalFormat | None = None
    # Checks of the config that need more than its values (files, devices), run before any work.
    check: Callable[[Any], None] | None = None
    pretrained: tuple[PretrainedAgent, ...] = ()  # the authors' published agents of this kind
    # The policy's sampling temperature in the test protocol (iris eval, play, benchmark) when none is
    # asked for: the one the kind's authors evaluate with.
    eval_temperature: float = 0.5


BUILT_IN = {"iris": "iris_wm.agents.iris", "iris-lm": "iris_wm.agents.iris_lm",
            "delta-iris": "iris_wm.agents.delta_iris"}
DEFAULT_AGENT_KIND = "iris"  # of a config that names none (config/train.yaml's default too)
AGENT_KINDS: Registry[AgentKind] = Registry("agent kind", BUILT_IN, "iris_wm.agents")


def register_agent_kind(kind: AgentKind) -> AgentKind:
    return AGENT_KINDS.register(kind.name, kind)


def get_agent_kind(name: str) -> AgentKind:
    return AGENT_KINDS.get(name)


def policy_temperature(agent: Agent, temperature: float | None = None) -> float:
    """``temperature``, or where it is None the test temperature of the agent's kind."""
    return get_agent_kind(agent.kind).eval_temperature if temperature is None else temperature


def find_pretrained(game: str, kind: str | None = None) -> tuple[AgentKind, PretrainedAgent]:
    """The published agent for ``game`` (any spelling) of ``kind``, or of the first kind that has one."""
    from iris_wm.games import match_game

    kinds = [get_agent_kind(kind)] if kind is not None else list(AGENT_KINDS.records().values())
    for record in kinds:
        by_game = {entry.game: entry for entry in record.pretrained}
        match, _ = match_game(game, by_game)
        if match is not None:
            return record, by_game[match]
    known = sorted({entry.game for record in kinds for entry in record.pretrained})
    _, close = match_game(game, known)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    owner = f"agent kind {kind!r}" if kind else "any agent kind"
    raise IrisError(f"no published agent for {game!r} of {owner}; {hint}published: {', '.join(known) or 'none'}")


def agent_config(kind: str, config: Mapping[str, Any] | Any | None = None) -> Any:
    """The validated config of an agent kind, from its defaults overridden by ``config``."""
    record = get_agent_kind(kind)
    built = build_config(record.config_class, config)
    if getattr(built, "kind", kind) != kind:
        raise IrisError(f"the config is for agent kind {built.kind!r}, not {kind!r}; choose agent={built.kind}")
    return built


def create_model(kind: str = "iris", num_actions: int | None = None, device: str | torch.device = "auto",
                 config: Mapping[str, Any] | Any | None = None, action_size: int | None = None) -> Agent:
    """A freshly initialised agent of ``kind`` with ``num_actions`` actions (18, the full Atari set,
    by default); ``action_size`` is TorchWM's name for the same number.

    >>> agent = create_model("iris", num_actions=6, config={"tokenizer": {"perceptual_weight": 0}})
    """
    if num_actions is not None and action_size is not None and num_actions != action_size:
        raise IrisError(f"num_actions={num_actions} and action_size={action_size} name the same number; give one")
    num_actions = next((n for n in (num_actions, action_size) if n is not None), 18)
    if num_actions < 1:
        raise IrisError(f"num_actions must be at least 1, got {num_actions}")
    return get_agent_kind(kind).build(agent_config(kind, config), num_actions).to(resolve_device(device))
