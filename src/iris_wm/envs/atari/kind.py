"""Atari 100k as an environment kind: ``env=atari``, the default. Registering it imports no ale-py (``lazy``):
its report reads score files anywhere."""

from pathlib import Path

from iris_wm.envs import EnvKind, lazy, register_env_kind
from iris_wm.envs.atari.settings import ATARI_KEYS, AtariEnvConfig
from iris_wm.errors import IrisError
from iris_wm.games import ATARI_100K_GAMES
from iris_wm.scores.report import Input, Report, ReportOptions

# What backend="auto" picks. Both backends give identical outputs; on this project's shared 2-core machine
# (benchmarks/bench_envs.py --num-envs 16) the native one is slower with the paper's one train env (1,130
# against 1,510 steps/s: PIL resizing in this thread dominates, and its game thread competes for the cores),
# and with 16 test envs it gave 2,020 against 1,600 in sync and 2,230 in async vectorisation.
AUTO_BACKEND = "python"


def make_vector_env(config, num_envs: int, seed: int, backend: str = "auto"):
    """``backend``: 'python' (the wrapper stacks, vectorised as ``config.vectorization`` says), 'native'
    (iris_wm.envs.atari.native), or 'auto' (see AUTO_BACKEND)."""
    if backend == "auto":
        backend = AUTO_BACKEND
    if backend == "python":
        from iris_wm.envs.atari.env import make_atari
        from iris_wm.envs.vector import python_vector_env

        return python_vector_env(make_atari)(config, num_envs, seed)
    if backend == "native":
        from iris_wm.envs.atari.native import NativeVectorEnv

        return NativeVectorEnv(config, num_envs, seed)
    raise IrisError(f"unknown env backend {backend!r}; use 'auto', 'python' or 'native'")


def report(inputs: list[Input], options: ReportOptions) -> Report:
    """Human-normalised aggregates against the published baselines (iris_wm.envs.atari.report)."""
    from iris_wm.envs.atari import figures
    from iris_wm.envs.atari import report as atari

    result = atari.report_of(inputs, options)
    return Report(atari.to_terminal(result), atari.to_markdown(result), atari.to_json(result),
                  lambda folder: figures.report_figures(result, folder))


register_env_kind(EnvKind(
    name="atari",
    description="Atari 2600 games through ale-py, with IRIS's wrappers (gymnasium 1.x)",
    config_class=AtariEnvConfig,
    make_vector_env=make_vector_env,
    make_env=lazy("iris_wm.envs.atari.env", "make_atari"),
    resolve_id=lazy("iris_wm.envs.atari.env", "resolve_game_id"),
    action_names=lambda config: lazy("iris_wm.envs.atari.env", "action_names")(config.id),
    play_keys=lambda names: ATARI_KEYS,
    raw_frame=lambda env: env.unwrapped.original_obs,  # the 210x160 frame before resizing
    presets=Path(__file__).parent / "presets",
    claims_scores=lazy("iris_wm.envs.atari.report", "claims"),
    report=report,
    game_sets={"atari26": ATARI_100K_GAMES},
    reference_returns=lazy("iris_wm.envs.atari.scores", "reference_returns"),
))
