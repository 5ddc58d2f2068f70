"""Running ``iris train``'s jobs through Hydra: its run folders, ``-m`` sweeps, launchers and logging,
each job holding its run folder's lock and leaving nothing behind when it fails before its first
checkpoint."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig

from iris_wm.errors import IrisError, describe_os_error
from iris_wm.run_folder import lock_run_folder, release_run_folder, remove_unstarted_run
from iris_wm.training.compose import CONFIG_MODULE, CONFIG_NAME, completed, register_schema, to_train_config
from iris_wm.training.config import TrainConfig
from iris_wm.training.run_config import write_resolved_config


def launch(overrides: list[str], task: Callable[[TrainConfig, Path], int], made_folder: bool) -> int:
    """Run ``task(config, run_dir) -> exit code`` through Hydra (run folder, ``-m`` sweeps, logging),
    each job holding its run folder's lock; the first failing job's exit code. A job that fails
    before its first checkpoint leaves nothing behind (``made_folder``: this process made the run
    or sweep folder)."""
    return run_hydra(overrides, TrainJob(task, made_folder))


def run_hydra(overrides: list[str], job: Callable[[DictConfig], None]) -> int:
    """Hydra's app over our config with ``overrides`` (``--multirun`` first for a sweep): ``job(cfg)``
    runs once per job, through the launcher the overrides choose (``hydra/launcher=...``); a job's
    ``SystemExit`` ends the app with its code."""
    import hydra

    register_schema()
    main = hydra.main(config_path=f"pkg://{CONFIG_MODULE}", config_name=CONFIG_NAME, version_base="1.3")(job)
    sys.argv = ["iris train", *completed(overrides)]
    try:
        main()
    except SystemExit as exit:
        return int(exit.code or 0)
    return 0


class TrainJob:
    """One job of ``iris train``: lock the run folder, check and save the config, run the task; on
    a failure before the first checkpoint, leave nothing behind."""

    def __init__(self, task: Callable[[TrainConfig, Path], int], made_folder: bool) -> None:
        self.task, self.made_folder = task, made_folder

    def __call__(self, cfg: DictConfig) -> None:
        from hydra.core.hydra_config import HydraConfig

        run_dir = Path(HydraConfig.get().runtime.output_dir)
        made = self.made_folder or HydraConfig.get().mode.name == "MULTIRUN"  # job folders are new
        locked, code = False, 2  # 2 until the task returns: an error or a bug (whose traceback goes on up)
        try:
            lock_run_folder(run_dir)
            locked = True
            config = to_train_config(cfg)
            write_resolved_config(run_dir, cfg)
            code = self.task(config, run_dir)
        except (IrisError, OSError) as error:
            message = describe_os_error(error) if isinstance(error, OSError) else str(error)
            print(f"iris train: error: {message}", file=sys.stderr)
        finally:
            if locked and code:  # failed or interrupted: a run with no checkpoint yet cannot resume, nothing is kept
                remove_unstarted_run(run_dir, made)
            release_run_folder(run_dir)
        if code:
            sys.exit(code)
