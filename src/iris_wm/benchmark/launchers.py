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
from dataclasses import dataclass, fields
from pathlib import Path

from iris_wm.errors import IrisError

# --launcher -> (Hydra's hydra/launcher option, the modules it needs)
LAUNCHERS = {
    "local": ("basic", ()),
    "submitit": ("submitit_slurm", ("submitit", "hydra_plugins.hydra_submitit_launcher")),
    "submitit-local": ("submitit_local", ("submitit", "hydra_plugins.hydra_submitit_launcher")),
    "ray": ("iris_ray", ("ray", "hydra_plugins.iris_wm_ray_launcher")),
}
DEFAULT_TIMEOUT_MIN = 4 * 24 * 60  # a submitit job's time limit: one paper-sized run on one GPU, with room


@dataclass(frozen=True)
class SlurmOptions:
    """sbatch settings of each job (``--partition`` ...): only with ``--launcher submitit``."""

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    gpus_per_node: int | None = None
    cpus_per_task: int | None = None
    mem_gb: int | None = None
    timeout_min: int | None = None
    array_parallelism: int | None = None

    def given(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


def slurm_flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def check_launcher(name: str, slurm: SlurmOptions, ray_address: str | None) -> None:
    """Before any work: the launcher's extra is installed and every option belongs to it."""
    option, modules = LAUNCHERS[name]
    missing = [module for module in modules if not _importable(module)]
    if missing:
        raise IrisError(f"--launcher {name} needs {missing[0].split('.')[-1]}, which is not installed: "
                        f"pip install 'iris-wm[cluster]'")
    local_executor_options = {"cpus_per_task", "mem_gb", "timeout_min", "gpus_per_node"}
    for key in slurm.given():
        if name != "submitit" and not (name == "submitit-local" and key in local_executor_options):
            raise IrisError(f"{slurm_flag(key)} is a SLURM option: use it with --launcher submitit")
    if ray_address is not None and name != "ray":
        raise IrisError("--ray-address goes with --launcher ray")


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def launcher_overrides(name: str, slurm: SlurmOptions, ray_address: str | None, sweep: Path) -> list[str]:
    """Hydra overrides that choose and configure the launcher."""
    option, _ = LAUNCHERS[name]
    overrides = [f"hydra/launcher={option}"]
    if name.startswith("submitit"):
        given = {"timeout_min": DEFAULT_TIMEOUT_MIN, **slurm.given()}
        overrides += [f"hydra.launcher.submitit_folder={sweep / 'submitit' / '%j'}",
                      "hydra.launcher.name=iris-benchmark"]
        overrides += [f"hydra.launcher.{key}={value}" for key, value in given.items()]
    if name == "ray" and ray_address is not None:
        overrides.append(f"hydra.launcher.address={ray_address}")
    return overrides

