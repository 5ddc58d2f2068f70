"""What every family's vector env shares: gymnasium's own vector envs with same-step autoreset.

A family's ``make_vector_env`` returns a ``gymnasium.vector.VectorEnv`` whose ``metadata["autoreset_mode"]``
is ``AutoresetMode.SAME_STEP``: the step that ends an episode returns the next episode's first
observation, and the ended step's observation and info are in ``infos["final_obs"]`` and
``infos["final_info"]`` (masked by ``infos["_final_obs"]``, ``infos["_final_info"]``). Env i is seeded
with seed + i when made; ``reset(seed=s)`` reseeds it with s + i, ``reset()`` continues its stream.

The families that step in Python run their ``make_env`` in a ``SyncVectorEnv`` (one after the other in
this process) or an ``AsyncVectorEnv`` (one subprocess each), as ``env.vectorization`` says: both give
the same observations, rewards and ends (tests/envs/test_vector.py).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import gymnasium

VECTORIZATIONS = ("sync", "async")


def make_python_vector_env(make_env: Callable[[int], gymnasium.Env], num_envs: int, seed: int,
                           vectorization: str | None) -> gymnasium.vector.VectorEnv:
    """``make_env(seed + i)`` for i < num_envs, in this process (sync, or None: a side's settings made
    alone, not through its env config) or one subprocess each (async)."""
    # Imported here: a family whose extra is missing says so in one line before this module needs gymnasium.
    from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv

    env_fns = [functools.partial(make_env, seed + i) for i in range(num_envs)]
    if vectorization in ("sync", None):
        return SyncVectorEnv(env_fns, autoreset_mode=AutoresetMode.SAME_STEP)
    assert vectorization == "async", vectorization
    # AsyncVectorEnv also calls env_fns[0] here, for the spaces: only other processes are workers.
    parent = os.getpid()
    return AsyncVectorEnv([functools.partial(_worker_env, fn, parent) for fn in env_fns],
                          autoreset_mode=AutoresetMode.SAME_STEP)


def python_vector_env(make_env: Callable[[Any, int | None], gymnasium.Env]
                      ) -> Callable[..., gymnasium.vector.VectorEnv]:
    """The ``make_vector_env`` of a family that steps its envs in Python: ``(side, num_envs, seed)`` ->
    ``make_env(side, seed + i)`` vectorised as the side's ``vectorization`` says."""
    def make_vector_env(side: Any, num_envs: int, seed: int) -> gymnasium.vector.VectorEnv:
        return make_python_vector_env(functools.partial(make_env, side), num_envs, seed, side.vectorization)
    return make_vector_env


def _worker_env(make_env: Callable[[], gymnasium.Env], parent: int) -> gymnasium.Env:
    if os.getpid() != parent:
        _one_passive_thread()
    return make_env()


def _one_passive_thread() -> None:
    """A worker steps one env in Python and never needs a thread pool. Forked from a process that
    imported torch, it would start torch's (as many threads as cores, spinning between ops) at its
    first torch op; on a small machine those threads would take the cores from the other workers and
    from training. So: one thread, and any OpenMP runtime started from here on sleeps when idle."""
    os.environ.update(OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE")
    torch = sys.modules.get("torch")  # never imported here for nothing: the env kinds do not need it
    if torch is not None:
        torch.set_num_threads(1)


def env_infos(infos: dict[str, Any], num_envs: int) -> list[dict[str, Any]]:
    """Gymnasium's vector infos of a step -> each env's info of that step: for an env whose episode
    ended, its ``final_info`` (the top level then holds the next episode's reset info)."""
    ended = infos.get("_final_info", np.zeros(num_envs, dtype=bool))
    return [env_info(infos["final_info"] if ended[i] else infos, i) for i in range(num_envs)]


def env_info(infos: dict[str, Any], i: int) -> dict[str, Any]:
    """Env i's entries of vector infos (nested dicts too): each key whose ``_key`` mask is set for i."""
    info = {}
    for key, value in infos.items():
        mask = infos.get(f"_{key}")
        if mask is None or not mask[i] or key in ("final_obs", "final_info"):
            continue
        info[key] = env_info(value, i) if isinstance(value, dict) else value[i]
    return info
