"""How a sweep's jobs are dispatched: Hydra multirun launchers, chosen by ``--launcher``.

- ``local``: Hydra's basic launcher, the jobs one after the other in this process;
- ``submitit``: the submitit launcher's SLURM executor (one array job, ``--array-parallelism`` at a
  time), ``submitit-local``: its local executor (the jobs as local processes, as on a node);
- ``ray``: iris-wm's Hydra launcher over Ray tasks (``hydra_plugins/iris_wm_ray_launcher``), on the
  cluster at ``--ray-address`` or a Ray instance started on this machine.

The cluster launchers come with the ``cluster`` extra and are imported only when chosen.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field, fields
from pathlib import Path

from iris_wm.errors import IrisError

DEFAULT_TIMEOUT_MIN = 4 * 24 * 60  # a submitit job's time limit: one paper-sized run on one GPU, with room


@dataclass(frozen=True)
class Launcher:
    option: str  # Hydra's hydra/launcher option
    modules: tuple[str, ...]  # what it needs installed
    gpus_key: str | None  # its hydra.launcher key of a job's GPUs; None: it has no such setting


LAUNCHERS = {
    "local": Launcher("basic", (), None),
    "submitit": Launcher("submitit_slurm", ("submitit", "hydra_plugins.hydra_submitit_launcher"), "gpus_per_node"),
    "submitit-local": Launcher("submitit_local", ("submitit", "hydra_plugins.hydra_submitit_launcher"),
                               "gpus_per_node"),
    "ray": Launcher("iris_ray", ("ray", "hydra_plugins.iris_wm_ray_launcher"), "gpus_per_job"),
}


def _sbatch(text: str, local: bool = False):
    """A SLURM option, ``text`` its help; ``local``: submitit's local executor takes it too."""
    return field(default=None, metadata={"help": text, "local": local})


@dataclass(frozen=True)
class SlurmOptions:
    """sbatch settings of each job (``--partition`` ...), each named as the submitit launcher's
    config key: only with ``--launcher submitit`` (those marked local also with submitit-local)."""

    partition: str | None = _sbatch("the partition the jobs run in (sbatch --partition)")
    account: str | None = _sbatch("the account the jobs are charged to (sbatch --account)")
    qos: str | None = _sbatch("the quality of service of the jobs (sbatch --qos)")
    constraint: str | None = _sbatch("node features each job needs, e.g. a100 (sbatch --constraint)")
    cpus_per_task: int | None = _sbatch("CPU cores of each run (sbatch --cpus-per-task)", local=True)
    mem_gb: int | None = _sbatch("memory of each run in GB (sbatch --mem)", local=True)
    timeout_min: int | None = _sbatch(f"time limit of each run in minutes (sbatch --time; default "
                                      f"{DEFAULT_TIMEOUT_MIN}); a run stopped by it resumes at the next launch",
                                      local=True)
    array_parallelism: int | None = _sbatch("runs of the array job at once (the sbatch --array throttle; default 256)")

    def given(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


def slurm_flag(name: str) -> str:
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class LaunchOptions:
    """``--launcher`` and the options of its engine."""

    launcher: str = "local"
    slurm: SlurmOptions = SlurmOptions()
    gpus_per_run: int | None = None  # None: the launcher's default (Ray: 1 where the cluster has GPUs)
    ray_address: str | None = None

    def check(self) -> None:
        """Before any work: the launcher's extra is installed and every option belongs to it."""
        launcher = LAUNCHERS[self.launcher]
        missing = [module for module in launcher.modules if not _importable(module)]
        if missing:
            raise IrisError(f"--launcher {self.launcher} needs {missing[0].split('.')[-1]}, which is not installed: "
                            f"pip install 'iris-wm[cluster]'")
        local_options = {f.name for f in fields(SlurmOptions) if f.metadata["local"]}
        for key in self.slurm.given():
            if self.launcher != "submitit" and not (self.launcher == "submitit-local" and key in local_options):
                raise IrisError(f"{slurm_flag(key)} is a SLURM option: use it with --launcher submitit")
        if self.gpus_per_run is not None:
            if launcher.gpus_key is None:
                raise IrisError("--gpus-per-run goes with --launcher submitit, submitit-local or ray; the local "
                                "launcher trains each run in this process, on common.device")
            if self.gpus_per_run < 0:
                raise IrisError(f"--gpus-per-run must be at least 0, got {self.gpus_per_run}")
        if self.ray_address is not None and self.launcher != "ray":
            raise IrisError("--ray-address goes with --launcher ray")

    def overrides(self, sweep: Path) -> list[str]:
        """Hydra overrides that choose and configure the launcher."""
        launcher = LAUNCHERS[self.launcher]
        settings: dict[str, object] = {}
        if self.launcher.startswith("submitit"):
            settings = {"submitit_folder": sweep / "submitit" / "%j", "name": "iris-benchmark",
                        "timeout_min": DEFAULT_TIMEOUT_MIN, **self.slurm.given()}
        if self.gpus_per_run is not None:
            settings[launcher.gpus_key] = self.gpus_per_run
        if self.ray_address is not None:
            settings["address"] = self.ray_address
        return [f"hydra/launcher={launcher.option}",
                *(f"hydra.launcher.{key}={value}" for key, value in settings.items())]


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False
