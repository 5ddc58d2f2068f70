"""Any registered gymnasium environment with pixels as an environment family: ``env=gym``."""

import functools
from pathlib import Path

import gymnasium

from iris_wm.envs import EnvKind, register_env_kind
from iris_wm.envs.gym.env import GymConfig, GymEnvConfig, action_names, check_config, make_gym, resolve_env_id
from iris_wm.envs.gym.keys import play_keys
from iris_wm.envs.vector import make_python_vector_env


def make_gym_vector_env(config: GymConfig, num_envs: int, seed: int) -> gymnasium.vector.VectorEnv:
    return make_python_vector_env(functools.partial(make_gym, config), num_envs, seed, config.vectorization)


register_env_kind(EnvKind(
    name="gym",
    description="any registered gymnasium env with pixels (MiniGrid, CarRacing, classic control from render())",
    config_class=GymEnvConfig,
    make_vector_env=make_gym_vector_env,
    make_env=make_gym,
    resolve_id=resolve_env_id,
    action_names=action_names,
    play_keys=play_keys,
    raw_frame=lambda env: env.raw_frame,  # the env's own frame, before resizing
    presets=Path(__file__).parent / "presets",
    check=check_config,
))
