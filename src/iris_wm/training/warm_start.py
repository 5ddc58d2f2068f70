"""Warm starts (the authors' ``initialization`` section): a new run whose chosen components start
from another agent of the same kind, ours or the authors', local or ``hf://``.

``initialization.path_to_checkpoint=PATH initialization.load_<phase>=true`` for each of the kind's
training phases (the authors' ``load_<component>`` keys): the keys come from the kind's phases, so
every kind has its own without a line here. A component is found
in the other agent by the name it has in the agent's state dict; a shape that differs names the
component and the config keys in which the two agents differ.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from torch import nn

from iris_wm.agents import AgentKind
from iris_wm.agents.base import Agent, Phase, PhaseSettings
from iris_wm.config import config_to_dict
from iris_wm.errors import IrisError

PATH_KEY = "path_to_checkpoint"


def trained_components(kind: AgentKind) -> list[str]:
    """The kind's training phases, by name: its training config's PhaseSettings fields."""
    training = kind.training_class()
    return [f.name for f in fields(training) if isinstance(getattr(training, f.name), PhaseSettings)]


def initialization_defaults(kind: AgentKind) -> dict[str, Any]:
    """The ``initialization`` section of a kind: no checkpoint, no component loaded."""
    return {PATH_KEY: None, **{f"load_{name}": False for name in trained_components(kind)}}


def check_initialization(section: dict[str, Any], kind: AgentKind) -> None:
    defaults = initialization_defaults(kind)
    for key, value in section.items():
        if key not in defaults:
            raise IrisError(f"initialization.{key} is not a key of agent {kind.name}; its keys: "
                            f"{', '.join(defaults)}")
        if key != PATH_KEY and not isinstance(value, bool):
            raise IrisError(f"initialization.{key}={value!r} must be true or false")
    chosen = [key for key, value in section.items() if key != PATH_KEY and value]
    if chosen and not section.get(PATH_KEY):
        raise IrisError(f"initialization.{chosen[0]}=true needs initialization.{PATH_KEY}=PATH (a checkpoint of "
                        f"agent {kind.name}: a run or checkpoint folder, the authors' last.pt, or hf://...)")


def warm_start(agent: Agent, phases: list[Phase], section: dict[str, Any]) -> list[str]:
    """Copy the chosen components' weights from ``section``'s checkpoint into ``agent``; their names."""
    from iris_wm.checkpoint import load_agent

    chosen = [phase for phase in phases if section.get(f"load_{phase.name}")]
    if not chosen:
        return []
    path = section[PATH_KEY]
    source = load_agent(path, device="cpu")  # with its own config (the authors': the paper's), to compare
    if source.kind != agent.kind:
        raise IrisError(f"initialization.{PATH_KEY}={path} is a {source.kind} agent; a warm start of agent "
                        f"{agent.kind} needs one of the same kind")
    state = source.state_dict()
    for phase in chosen:
        # The agent's component that holds the phase's module, whole: with the state that trains
        # alongside it (e.g. a target network that follows the trained one).
        prefix = module_name(agent, phase.module).split(".")[0]
        component = getattr(agent, prefix)
        weights = {}
        for key, tensor in component.state_dict().items():
            theirs = state.get(f"{prefix}.{key}")
            if theirs is None:
                raise IrisError(f"initialization: {path} has no tensor {prefix}.{key} for the {phase.name}; it is "
                                f"not a complete {agent.kind} checkpoint")
            if theirs.shape != tensor.shape:
                raise IrisError(f"initialization: the {phase.name}'s {key} has shape {tuple(theirs.shape)} in {path} "
                                f"and {tuple(tensor.shape)} here: {differing_keys(source, agent, prefix)}")
            weights[key] = theirs
        component.load_state_dict(weights)
    return [phase.name for phase in chosen]


def module_name(agent: nn.Module, module: nn.Module) -> str:
    return next(name for name, candidate in agent.named_modules() if candidate is module)


def differing_keys(source: Agent, agent: Agent, prefix: str) -> str:
    """The config keys (those of the component first) in which the two agents differ."""
    if source.num_actions != agent.num_actions:
        return f"the number of actions differs ({source.num_actions} there, {agent.num_actions} here)"
    theirs, ours = _flat(config_to_dict(source.config)), _flat(config_to_dict(agent.config))
    differing = [key for key in ours if theirs.get(key) != ours[key]]
    own = [key for key in differing if key.startswith(f"{prefix}.")] or differing
    if not own:
        return "their configs agree, so the checkpoint's shapes do not follow its config"
    return "; ".join(f"agent.{key} differs ({theirs.get(key)} there, {ours[key]} here)" for key in own[:3])


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat |= _flat(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat

