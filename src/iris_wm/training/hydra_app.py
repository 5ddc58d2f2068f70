"""Hydra composition of the training config: schema (dataclasses) + ``config/train.yaml`` + the
agent and environment kinds (``agent=``, ``env=`` config groups) + a preset (with each kind's part)
+ the user's ``key=value`` overrides.

Overrides are checked with Hydra's compose API before the run starts, so that a bad key, value,
preset or game is one clear line and nothing is created on disk.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from iris_wm.agents import AGENT_KINDS, get_agent_kind
from iris_wm.config import describe_config_error
from iris_wm.envs import ENV_KINDS, get_env_kind
from iris_wm.errors import IrisError
from iris_wm.training.config import TrainConfig

CONFIG_MODULE = "iris_wm.config"
CONFIG_NAME = "train"
RESOLVED_CONFIG = Path("config") / "train.yaml"  # inside a run folder


def register_schema() -> None:
    """The schema and every registered kind's config group option and presets, in Hydra's store."""
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    store.store(name="train_schema", node=TrainConfig)
    for name, kind in AGENT_KINDS.records().items():
        store.store(group="agent", name=name, node={"agent": kind.config_class, "training": kind.training_class},
                    package="_global_")
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
    agent_kind = get_agent_kind(kind_of(data, "agent", "iris"))
    env_kind = get_env_kind(kind_of(data, "env", "atari"))
    try:
        # Merged onto a fresh schema of the chosen kinds: keys that Hydra let in with "+key=value"
        # are refused here.
        schema = OmegaConf.structured(TrainConfig)
        schema.agent = OmegaConf.structured(agent_kind.config_class)
        schema.env = OmegaConf.structured(env_kind.config_class)
        schema.training = OmegaConf.structured(agent_kind.training_class)
        config: TrainConfig = OmegaConf.to_object(OmegaConf.merge(schema, data))
    except MissingMandatoryValue as error:
        key = getattr(error, "full_key", "") or "env.id"
        raise IrisError(f"{key} is required: say which game, e.g. iris train {key}=Pong") from None
    except OmegaConfBaseException as error:
        raise IrisError(describe_config_error(error)) from None
    env_kind.resolve_id(config.env.id)  # an unknown id lists close matches
    return config


def first_combination(overrides: list[str]) -> list[str]:
    """A sweep (``-m key=a,b``) checked through its first job's overrides."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    return [f"{o.get_key_element()}={next(iter(o.sweep_string_iterator()))}" if o.is_sweep_override()
            else o.input_line for o in parsed]


def compose_config(overrides: list[str]) -> TrainConfig:
    """The config ``iris train OVERRIDES`` would run with, or an IrisError naming what is wrong."""
    from hydra import compose, initialize_config_module
    from hydra.errors import HydraException

    register_schema()
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
            cfg = compose(CONFIG_NAME, overrides=first_combination(overrides))
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


def launch(overrides: list[str], task: Callable[[TrainConfig, Path], None]) -> None:
    """Run ``task(config, run_dir)`` through Hydra (run folder, ``-m`` sweeps, logging)."""
    import hydra
    from hydra.core.hydra_config import HydraConfig

    register_schema()

    @hydra.main(config_path=f"pkg://{CONFIG_MODULE}", config_name=CONFIG_NAME, version_base="1.3")
    def main(cfg: DictConfig) -> None:
        run_dir = Path(HydraConfig.get().runtime.output_dir)
        config = to_train_config(cfg)
        write_resolved_config(run_dir, cfg)
        try:
            task(config, run_dir)
        except IrisError as error:
            print(f"iris train: error: {error}", file=sys.stderr)
            sys.exit(2)

    sys.argv = ["iris train", *overrides]
    main()


def write_resolved_config(run_dir: Path, cfg: DictConfig | Any) -> None:
    from iris_wm.atomic import atomic_write_text

    atomic_write_text(run_dir / RESOLVED_CONFIG, OmegaConf.to_yaml(cfg, resolve=True))


def read_run_config(run_dir: Path, overrides: list[str]) -> TrainConfig:
    """A run folder's resolved config, with optional ``key=value`` changes (e.g. more epochs)."""
    path = run_dir / RESOLVED_CONFIG
    if not path.is_file():
        raise IrisError(f"{run_dir} is not an iris-wm run folder (no {RESOLVED_CONFIG}); give the folder "
                        f"iris train created, e.g. outputs/2026-01-01/12-00-00")
    try:
        cfg = OmegaConf.merge(OmegaConf.load(path), OmegaConf.from_dotlist(overrides))
    except OmegaConfBaseException as error:
        raise IrisError(f"{path}: {str(error).splitlines()[0]}") from None
    return to_train_config(cfg)
