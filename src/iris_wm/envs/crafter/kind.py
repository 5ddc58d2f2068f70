"""Crafter as an environment kind: ``env=crafter``."""

from pathlib import Path

from iris_wm.envs import EnvKind, register_env_kind
from iris_wm.envs.crafter.env import (
    CRAFTER_KEYS,
    CrafterEnvConfig,
    achievement_counts,
    action_names,
    describe_info,
    describe_step,
    make_crafter,
    resolve_task_id,
    score_metrics,
)
from iris_wm.envs.vector import python_vector_env

register_env_kind(EnvKind(
    name="crafter",
    description="Crafter (Hafner, ICLR 2022): 22 achievements, the Crafter score",
    config_class=CrafterEnvConfig,
    make_vector_env=python_vector_env(make_crafter),
    make_env=make_crafter,
    resolve_id=resolve_task_id,
    action_names=lambda config: action_names(config.id),
    play_keys=lambda names: CRAFTER_KEYS,
    raw_frame=lambda env: env.render(),
    presets=Path(__file__).parent / "presets",
    step_extras=achievement_counts,
    episode_metrics=score_metrics,
    curves=("test_dataset/crafter_score", "train_dataset/crafter_score"),
    score_metric="crafter_score",
    describe_info=describe_info,
    describe_step=describe_step,
))
