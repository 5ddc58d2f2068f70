"""Atari 100k as an environment kind: ``env=atari``, the default."""

from pathlib import Path

import gymnasium

from iris_wm.envs import EnvKind, register_env_kind
from iris_wm.envs.atari.env import ATARI_KEYS, AtariConfig, AtariEnvConfig, action_names, make_atari, resolve_game_id
from iris_wm.envs.atari.native import NativeVectorEnv
from iris_wm.envs.vector import python_vector_env
from iris_wm.errors import IrisError

# What backend="auto" picks. Both backends give identical outputs; on this project's shared 2-core machine
# (benchmarks/bench_envs.py --num-envs 16) the native one is slower with the paper's one train env (1,130
# against 1,510 steps/s: PIL resizing in this thread dominates, and its game thread competes for the cores),
# and with 16 test envs it gave 2,020 against 1,600 in sync and 2,230 in async vectorisation.
AUTO_BACKEND = "python"


def make_vector_env(config: AtariConfig, num_envs: int, seed: int, backend: str = "auto") -> gymnasium.vector.VectorEnv:
    """``backend``: 'python' (the wrapper stacks, vectorised as ``config.vectorization`` says), 'native'
    (iris_wm.envs.atari.native), or 'auto' (see AUTO_BACKEND)."""
    if backend == "auto":
        backend = AUTO_BACKEND
    if backend == "python":
        return python_vector_env(make_atari)(config, num_envs, seed)
    if backend == "native":
        return NativeVectorEnv(config, num_envs, seed)
    raise IrisError(f"unknown env backend {backend!r}; use 'auto', 'python' or 'native'")


register_env_kind(EnvKind(
    name="atari",
    description="Atari 2600 games through ale-py, with IRIS's wrappers (gymnasium 1.x)",
    config_class=AtariEnvConfig,
    make_vector_env=make_vector_env,
    make_env=make_atari,
    resolve_id=resolve_game_id,
    action_names=lambda config: action_names(config.id),
    play_keys=lambda names: ATARI_KEYS,
    raw_frame=lambda env: env.unwrapped.original_obs,  # the 210x160 frame before resizing
    presets=Path(__file__).parent / "presets",
))
