"""A Hydra launcher that runs each job of a multirun as a Ray task: Ray schedules the jobs over the
cluster's CPUs and GPUs, each job as one task with the resources its options ask.

``address``: None starts a Ray instance on this machine (``num_cpus`` of it); ``auto`` joins the
cluster this machine is a node of; ``ray://HOST:PORT`` a remote one through Ray Client. Ray is
imported only when a sweep launches.
"""

# No ``from __future__ import annotations``: Hydra's plugin scan runs this module outside
# sys.modules, where dataclasses cannot resolve string annotations.
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from hydra.core.config_store import ConfigStore
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, configure_log, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, open_dict


@dataclass
class RayLauncherConf:
    _target_: str = "hydra_plugins.iris_wm_ray_launcher.ray_launcher.RayLauncher"
    address: Optional[str] = None  # noqa: UP045 - OmegaConf reads the annotation at runtime
    num_cpus: Optional[int] = None  # noqa: UP045  # of a Ray instance started here; None: all of this machine's
    cpus_per_job: float = 1.0
    gpus_per_job: float = 0.0


ConfigStore.instance().store(group="hydra/launcher", name="iris_ray", node=RayLauncherConf, provider="iris-wm")


def run_one_job(hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig,
                overrides: list, number: int, singletons: dict) -> JobReturn:
    """One job, inside a Ray worker: its config composed there, as Hydra's launchers do."""
    Singleton.set_state(singletons)
    setup_globals()
    job_config = hydra_context.config_loader.load_sweep_config(config, overrides)
    with open_dict(job_config):
        job_config.hydra.job.id = f"ray_{number}"
        job_config.hydra.job.num = number
    return run_job(hydra_context=hydra_context, task_function=task_function, config=job_config,
                   job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")


class RayLauncher(Launcher):
    def __init__(self, address: Optional[str], num_cpus: Optional[int],  # noqa: UP045 - see the conf's note
                 cpus_per_job: float, gpus_per_job: float) -> None:
        self.address, self.num_cpus = address, num_cpus
        self.cpus_per_job, self.gpus_per_job = cpus_per_job, gpus_per_job
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.task_function: TaskFunction | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function

    def launch(self, job_overrides, initial_job_idx: int) -> list:
        import ray

        assert self.config is not None and self.hydra_context is not None and self.task_function is not None
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        local = self.address is None
        ray.init(address=self.address, num_cpus=self.num_cpus if local else None, include_dashboard=False,
                 ignore_reinit_error=True, log_to_driver=True)
        try:
            task = ray.remote(num_cpus=self.cpus_per_job, num_gpus=self.gpus_per_job, max_retries=0)(run_one_job)
            futures = [task.remote(self.hydra_context, self.task_function, self.config, list(overrides),
                                   initial_job_idx + index, Singleton.get_state())
                       for index, overrides in enumerate(job_overrides)]
            return ray.get(futures)
        finally:
            ray.shutdown()
