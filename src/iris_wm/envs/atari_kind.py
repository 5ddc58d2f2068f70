"""Atari 100k as an environment kind: ``env=atari``, the default."""

from pathlib import Path

from iris_wm.envs import EnvKind, register_env_kind
from iris_wm.envs.atari import ATARI_KEYS, AtariEnvConfig, action_names, make_atari, resolve_game_id
from iris_wm.envs.vector import make_vector_env

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
    presets=Path(__file__).parent / "presets" / "atari",
))
