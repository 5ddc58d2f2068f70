"""A run folder's config files: the resolved config a run trains with (``config/train.yaml``), read
back by resume, eval, play and the sweep, and what ``iris resume RUN key=value`` may change in it.

Resume may change settings that extend or tune a run (its length, evaluation, device, logging), never
what the run is (its environment, agent, networks, training phases). Accepted changes are written into
the run's config, with the epoch they took effect (``config/resumes.yaml``). A config saved before a key
was renamed is read with the new key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from iris_wm.atomic import atomic_write_text
from iris_wm.config.renamed import check_not_renamed, with_current_keys
from iris_wm.errors import IrisError
from iris_wm.run_folder import RunFolder
from iris_wm.training.compose import to_train_config
from iris_wm.training.config import TrainConfig

# agent.speed.* says how the networks run, not what they are: a run may move to a GPU and use its options;
# env.vectorization how the envs run (the same steps either way): a run may move to a machine with more cores.
TUNABLE = ("common.epochs", "common.device", "common.num_threads", "agent.speed.", "env.vectorization", "evaluation.",
           "logger.", "collection.test.")
_ABSENT = object()


def changed_keys(stored: DictConfig, merged: DictConfig, overrides: list[str]) -> list[str]:
    keys = [override.split("=", 1)[0] for override in overrides]
    return [key for key in keys if OmegaConf.select(stored, key, default=_ABSENT) != OmegaConf.select(merged, key)]


def check_resume_overrides(stored: DictConfig, merged: DictConfig, overrides: list[str]) -> list[str]:
    """The keys the overrides change; an IrisError if one would change what the run is."""
    changed = changed_keys(stored, merged, overrides)
    for key in changed:
        if not any(key == tunable or (tunable.endswith(".") and key.startswith(tunable)) for tunable in TUNABLE):
            was = OmegaConf.select(stored, key, default=None)
            raise IrisError(f"{key} would change what the run is (it was {was}); resume accepts only "
                            f"{', '.join(t + '*' if t.endswith('.') else t for t in TUNABLE)}: start a new run with "
                            f"iris train for the rest")
    return changed


def record_resume(run_dir: Path, merged: DictConfig, overrides: list[str], changed: list[str], epoch: int) -> None:
    """Write the changed config and add ``{epoch, overrides}`` to ``config/resumes.yaml``."""
    if not changed:
        return
    run = RunFolder(run_dir)
    atomic_write_text(run.config_file, OmegaConf.to_yaml(merged))
    path = run.resume_history
    history = yaml.safe_load(path.read_text()) if path.is_file() else []
    applied = [o for o in overrides if o.split("=", 1)[0] in changed]
    atomic_write_text(path, yaml.safe_dump([*history, {"from_epoch": epoch, "overrides": applied}], sort_keys=False))


def write_resolved_config(run_dir: Path, cfg: DictConfig | Any) -> None:
    atomic_write_text(RunFolder(run_dir).config_file, OmegaConf.to_yaml(cfg, resolve=True))


def load_run_config(run_dir: Path, overrides: list[str]) -> tuple[DictConfig, DictConfig]:
    """A run folder's resolved config as saved, and with ``key=value`` changes applied."""
    path = RunFolder(run_dir).config_file
    if not path.is_file():
        raise IrisError(f"{run_dir} is not an iris-wm run folder (no {path}); give the folder "
                        f"iris train created, e.g. outputs/2026-01-01/12-00-00")
    check_not_renamed(overrides)
    try:
        stored = OmegaConf.create(with_current_keys(OmegaConf.to_container(OmegaConf.load(path))))
        return stored, OmegaConf.merge(stored, OmegaConf.from_dotlist(overrides))
    except OmegaConfBaseException as error:
        raise IrisError(f"{path}: {str(error).splitlines()[0]}") from None


def read_run_config(run_dir: Path, overrides: list[str]) -> TrainConfig:
    """A run folder's typed config, with optional ``key=value`` changes (e.g. more epochs)."""
    return to_train_config(load_run_config(run_dir, overrides)[1])
