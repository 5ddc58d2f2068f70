"""Any registered gymnasium environment with pixels as an environment family: ``env=gym``."""

from pathlib import Path

from iris_wm.envs import EnvKind, register_env_kind
from iris_wm.envs.gym.env import GymEnvConfig, action_names, check_config, make_gym, resolve_env_id
from iris_wm.envs.gym.keys import play_keys
from iris_wm.envs.vector import python_vector_env

register_env_kind(EnvKind(
    name="gym",
    description="any registered gymnasium env with pixels (MiniGrid, CarRacing, classic control from render())",
    config_class=GymEnvConfig,
    make_vector_env=python_vector_env(make_gym),
    make_env=make_gym,
    resolve_id=resolve_env_id,
    action_names=action_names,
    play_keys=play_keys,
    raw_frame=lambda env: env.raw_frame,  # the env's own frame, before resizing
    presets=Path(__file__).parent / "presets",
    check=check_config,
))
