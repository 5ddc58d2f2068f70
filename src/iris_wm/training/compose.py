"""Composing the training config: the schema (dataclasses) + ``config/train.yaml`` + the agent and
environment kinds (``agent=``, ``env=`` config groups) + a preset (with each kind's part) + the user's
``key=value`` overrides, checked through Hydra's compose API before a run starts, so that a bad key,
value, preset or game is one clear line and nothing is created on disk.
"""

from __future__ import annotations

import dataclasses
import itertools
import typing
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from iris_wm.agents import AGENT_KINDS, DEFAULT_AGENT_KIND, get_agent_kind
from iris_wm.config import check_bounds, describe_config_error
from iris_wm.config.renamed import check_not_renamed
from iris_wm.devices import resolve_device
from iris_wm.envs import DEFAULT_ENV_KIND, ENV_KINDS, get_env_kind
from iris_wm.errors import IrisError
from iris_wm.training.config import TrainConfig
from iris_wm.training.warm_start import check_initialization, initialization_defaults

CONFIG_MODULE = "iris_wm.config"
CONFIG_NAME = "train"
KIND_GROUPS = {"agent": get_agent_kind, "env": get_env_kind}  # config group -> its registry's look-up


def register_schema() -> None:
    """The schema and every registered kind's config group option and presets, in Hydra's store."""
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    store.store(name="train_schema", node=TrainConfig)
    for name, kind in AGENT_KINDS.records().items():
        store.store(group="agent", name=name, package="_global_", node={
            "agent": kind.config_class, "training": kind.training_class,
            "initialization": initialization_defaults(kind)})
        store_presets(store, "agent_preset", name, kind.presets)
    for name, kind in ENV_KINDS.records().items():
        store.store(group="env", name=name, node={"env": kind.config_class}, package="_global_")
        store_presets(store, "env_preset", name, kind.presets)


def store_presets(store, group: str, kind: str, folder: Path | None) -> None:
    """A kind's part of each preset NAME, as option KIND-NAME of ``group`` (train.yaml picks it)."""
    for path in sorted(folder.glob("*.yaml")) if folder is not None else ():
        store.store(group=group, name=f"{kind}-{path.stem}", node=OmegaConf.load(path), package="_global_")


def kind_of(data: dict, key: str, default: str) -> str:
    section = data.get(key)
    return section.get("kind", default) if isinstance(section, dict) else default


def to_train_config(cfg: DictConfig | dict) -> TrainConfig:
    """The typed config, with every value checked (types by OmegaConf, ranges by the dataclasses)."""
    data = cfg if isinstance(cfg, dict) else OmegaConf.to_container(cfg, resolve=False)
    agent_kind = get_agent_kind(kind_of(data, "agent", DEFAULT_AGENT_KIND))
    env_kind = get_env_kind(kind_of(data, "env", DEFAULT_ENV_KIND))
    try:
        # Merged onto a fresh schema of the chosen kinds: keys that Hydra let in with "+key=value"
        # are refused here.
        schema = OmegaConf.structured(TrainConfig)
        schema.agent = OmegaConf.structured(agent_kind.config_class)
        schema.env = OmegaConf.structured(env_kind.config_class)
        schema.training = OmegaConf.structured(agent_kind.training_class)
        schema.initialization = OmegaConf.create(initialization_defaults(agent_kind), flags={"struct": True})
        config: TrainConfig = OmegaConf.to_object(OmegaConf.merge(schema, data))
    except MissingMandatoryValue as error:
        key = getattr(error, "full_key", "") or "env.id"
        example = "Pong" if key == "env.id" else "..."
        raise IrisError(f"{key} is required: set it, e.g. iris train {key}={example}") from None
    except OmegaConfBaseException as error:
        raise IrisError(describe_config_error(error)) from None
    check_bounds(config)
    check_initialization(config.initialization, agent_kind)
    if agent_kind.check is not None:
        agent_kind.check(config.agent)
    env_kind.resolve_id(config.env.id)  # an unknown id lists close matches
    if env_kind.check is not None:
        env_kind.check(config.env)
    resolve_device(config.common.device)  # a device that is not there fails before any work
    return config


def sweep_jobs(overrides: list[str]) -> list[list[str]]:
    """The overrides of each job of a sweep (``-m key=a,b``): every combination, as Hydra runs them."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception as error:  # Hydra's parser raises its own errors for malformed overrides
        raise IrisError(f"{str(error).splitlines()[0]} (overrides are key=value)") from None
    choices = [[f"{o.get_key_element()}={value}" for value in o.sweep_string_iterator()] if o.is_sweep_override()
               else [o.input_line] for o in parsed]
    return [list(job) for job in itertools.product(*choices)]


def compose_sweep(overrides: list[str]) -> list[TrainConfig]:
    """The config of every job ``iris train [-m] OVERRIDES`` would run: a bad value in any job is an
    error before the first one starts."""
    jobs = sweep_jobs(overrides)
    configs = []
    for number, job in enumerate(jobs):
        try:
            configs.append(compose_config(job))
        except IrisError as error:
            if len(jobs) == 1:
                raise
            swept = " ".join(o for o in job if o not in overrides)
            raise IrisError(f"sweep job {number} ({swept}): {error}") from None
    return configs


def preset_parts(preset: str) -> dict[str, set[str]]:
    """For each kind group (agent, env), the kinds that have a part of ``preset``."""
    registries = {"agent": AGENT_KINDS, "env": ENV_KINDS}
    return {group: {name for name, kind in registry.records().items()
                    if kind.presets is not None and (kind.presets / f"{preset}.yaml").is_file()}
            for group, registry in registries.items()}


def with_presets(overrides: list[str]) -> list[str]:
    """The overrides, completed and checked against the presets made for particular kinds: the
    chosen agent kind's default preset when none is named; the kinds a preset is made for when it
    names only one of each; and an error for a preset with parts for some kinds but not the chosen."""
    chosen = {key: value for key, _, value in (o.partition("=") for o in overrides)}
    if any("," in chosen.get(key, "") for key in ("agent", "env", "preset")):
        return overrides  # a sweep over kinds or presets: each job is checked on its own
    added = []
    if "preset" not in chosen:
        default = get_agent_kind(chosen.get("agent", DEFAULT_AGENT_KIND)).default_preset
        added.append(f"preset={default}")
        chosen["preset"] = default
    defaults = {"agent": DEFAULT_AGENT_KIND, "env": DEFAULT_ENV_KIND}
    for group, look_up in KIND_GROUPS.items():
        look_up(chosen.get(group, defaults[group]))  # a kind that cannot load says why, before its presets do
    for group, kinds in preset_parts(chosen["preset"]).items():
        if group not in chosen and len(kinds) == 1:
            (chosen[group],) = kinds
            added.append(f"{group}={chosen[group]}")
            if group == "env" and "env.id" in chosen:
                check_game_fits_preset(chosen)
        kind = chosen.get(group, defaults[group])
        if kinds and kind not in kinds:
            raise IrisError(f"preset={chosen['preset']} is made for {group}={' or '.join(sorted(kinds))}, not "
                            f"{group}={kind}; choose one of those, or a preset made for {group}={kind}")
    return overrides + added


def check_game_fits_preset(chosen: dict[str, str]) -> None:
    """``env.id`` is a game of the env kind the preset is made for. A game of another env kind is
    refused with the chosen agent kind's presets made for that one."""
    preset, env, game = chosen["preset"], chosen["env"], chosen["env.id"]
    try:
        get_env_kind(env).resolve_id(game)
    except IrisError as error:
        owner = next((name for name, kind in ENV_KINDS.records().items() if name != env and has_game(kind, game)), None)
        if owner is None:
            raise IrisError(f"preset={preset} is made for env={env}: {error}") from None
        agent = chosen.get("agent", DEFAULT_AGENT_KIND)
        fitting = [f"preset={name}" for name in presets_for(agent, owner)]
        fix = f"{' or '.join(fitting)}, agent={agent}'s presets for it" if fitting else "a preset made for it"
        raise IrisError(f"preset={preset} is made for env={env}, but {game!r} is a game of env={owner}; choose "
                        f"{fix}") from None


def has_game(env_kind, game: str) -> bool:
    try:
        env_kind.resolve_id(game)
    except IrisError:
        return False
    return True


def presets_for(agent: str, env: str) -> list[str]:
    """The agent kind's presets that may run on the env kind (made for it, or for no env kind)."""
    folder = get_agent_kind(agent).presets
    names = sorted(path.stem for path in folder.glob("*.yaml")) if folder is not None else []
    return [name for name in names if not (made_for := preset_parts(name)["env"]) or env in made_for]


def mapping_keys(prefix: str, config_class: type) -> set[str]:
    """The dotted keys of ``config_class``'s free-form mappings (``dict`` fields, e.g. env.make_kwargs)."""
    keys = set()
    for name, hint in typing.get_type_hints(config_class).items():
        types = [hint, *typing.get_args(hint)]  # dict, or dict | None
        if any(typing.get_origin(t) is dict or t is dict for t in types):
            keys.add(f"{prefix}.{name}")
        keys |= {key for t in types if dataclasses.is_dataclass(t) for key in mapping_keys(f"{prefix}.{name}", t)}
    return keys


def open_mappings(overrides: list[str]) -> list[str]:
    """``KEY={a: 1}`` of a free-form mapping as Hydra's ``++KEY={a: 1}``: the mapping's keys are the user's
    to choose, which Hydra's struct mode refuses otherwise."""
    chosen = {key: value for key, _, value in (o.partition("=") for o in overrides)}
    if any("," in chosen.get(key, "") for key in KIND_GROUPS):
        return overrides  # a sweep over kinds: each job is composed on its own
    classes = {"env": get_env_kind(chosen.get("env", DEFAULT_ENV_KIND)).config_class,
               "agent": get_agent_kind(chosen.get("agent", DEFAULT_AGENT_KIND)).config_class}
    keys = set().union(*(mapping_keys(group, cls) for group, cls in classes.items()))
    return [f"++{o}" if o.partition("=")[0] in keys else o for o in overrides]


def completed(overrides: list[str]) -> list[str]:
    """The overrides as Hydra composes them: with the presets' kinds, free-form mappings opened."""
    return open_mappings(with_presets(overrides))


def compose_config(overrides: list[str]) -> TrainConfig:
    """The config ``iris train OVERRIDES`` would run with, or an IrisError naming what is wrong."""
    from hydra import compose, initialize_config_module
    from hydra.errors import HydraException

    check_not_renamed(overrides)
    for override in overrides:  # a kind that is unknown or cannot load says why, before Hydra does
        key, _, value = override.partition("=")
        if key in KIND_GROUPS:
            KIND_GROUPS[key](value)
    overrides = completed(overrides)
    register_schema()
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
            cfg = compose(CONFIG_NAME, overrides=overrides)
    except (HydraException, OmegaConfBaseException) as error:
        raise IrisError(describe_composition_error(error)) from None
    return to_train_config(cfg)


def describe_composition_error(error: Exception) -> str:
    """One line from Hydra's multi-line errors: the key and the reason, or the valid choices."""
    cause = error if isinstance(error, OmegaConfBaseException) else error.__cause__
    if isinstance(cause, OmegaConfBaseException):
        return describe_config_error(cause)
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if "Available options in" in str(error):
        start = next(i for i, line in enumerate(lines) if line.startswith("Available options")) + 1
        options = [line for line in lines[start:] if not line.startswith("Config search path")]
        options = options[: next((i for i, o in enumerate(options) if "provider=" in o), len(options))]
        return f"{lines[0]}; choose one of: {', '.join(options)}"
    return f"{lines[0]} (see iris train --help)"
