"""A Hydra launcher that runs each job of a multirun as a Ray task: Ray schedules the jobs over the
cluster's CPUs and GPUs, each job as one task with the resources its options ask.

``address``: None starts a Ray instance on this machine (``num_cpus`` of it); ``auto`` joins the
cluster this machine is a node of; ``ray://HOST:PORT`` a remote one through Ray Client. A process
already connected to Ray (``ray.init`` called) launches there and stays connected after. Ray is
imported only when a sweep launches.

Every task is waited for: a task that dies (its worker killed, out of memory, a node lost) stops no
other; the failures are reported once all have ended, and fail the multirun as Hydra's do.
"""

# No ``from __future__ import annotations``: Hydra's plugin scan runs this module outside
# sys.modules, where dataclasses cannot resolve string annotations.
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from hydra.core.config_store import ConfigStore
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, configure_log, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, open_dict


@dataclass
class RayLauncherConf:
    _target_: str = "hydra_plugins.iris_wm_ray_launcher.ray_launcher.RayLauncher"
    address: Optional[str] = None  # noqa: UP045 - OmegaConf reads the annotation at runtime
    num_cpus: Optional[int] = None  # noqa: UP045  # of a Ray instance started here; None: all of this machine's
    cpus_per_job: float = 1.0
    # None: 1 where the cluster has GPUs, else 0 (Ray hides the GPUs from a task that asks for none)
    gpus_per_job: Optional[float] = None  # noqa: UP045


ConfigStore.instance().store(group="hydra/launcher", name="iris_ray", node=RayLauncherConf, provider="iris-wm")


def gpus_per_job(asked: Optional[float], cluster_resources: dict) -> float:  # noqa: UP045
    """The GPUs each task requests: as asked, or one where the cluster has any."""
    if asked is not None:
        return asked
    return 1.0 if cluster_resources.get("GPU", 0) >= 1 else 0.0


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


def job_return(future, overrides: list) -> JobReturn:
    """The task's JobReturn once it has ended; a task that died outside Hydra's job (its worker
    killed, the config not loading) as a failed one."""
    import ray

    try:
        return ray.get(future)
    except ray.exceptions.RayError as error:
        return JobReturn(overrides=overrides, status=JobStatus.FAILED, _return_value=error)


def report_failures(returns: list) -> None:
    failed = [job for job in returns if job.status == JobStatus.FAILED]
    if failed:
        print(f"iris_ray: {len(failed)} of {len(returns)} jobs failed:", file=sys.stderr)
    for job in failed:
        error = job._return_value  # what Hydra raises for the first of them
        first_line = (str(error).strip().splitlines() or [""])[0][:200]
        print(f"  {' '.join(job.overrides)}: {type(error).__name__}: {first_line}", file=sys.stderr)


class RayLauncher(Launcher):
    def __init__(self, address: Optional[str], num_cpus: Optional[int],  # noqa: UP045 - see the conf's note
                 cpus_per_job: float, gpus_per_job: Optional[float]) -> None:  # noqa: UP045
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
        connect = not ray.is_initialized()
        if connect:
            local = self.address is None
            ray.init(address=self.address, num_cpus=self.num_cpus if local else None, include_dashboard=False,
                     log_to_driver=True)
        try:
            gpus = gpus_per_job(self.gpus_per_job, ray.cluster_resources())
            task = ray.remote(num_cpus=self.cpus_per_job, num_gpus=gpus, max_retries=0)(run_one_job)
            jobs = [list(overrides) for overrides in job_overrides]
            futures = [task.remote(self.hydra_context, self.task_function, self.config, overrides,
                                   initial_job_idx + index, Singleton.get_state())
                       for index, overrides in enumerate(jobs)]
            # each waited for in turn: the others run on meanwhile, whatever becomes of one
            returns = [job_return(future, overrides) for future, overrides in zip(futures, jobs, strict=True)]
        finally:
            if connect:
                ray.shutdown()
        report_failures(returns)
        return returns
