"""Crafter as an environment kind: ``env=crafter``. Registering it imports no crafter (``lazy``): its report
reads Crafter's stats anywhere."""

from importlib import import_module
from pathlib import Path

from iris_wm.envs import EnvKind, lazy, register_env_kind
from iris_wm.envs.crafter.score import achievement_counts, score_metrics
from iris_wm.envs.crafter.settings import CRAFTER_KEYS, CrafterEnvConfig, resolve_task_id
from iris_wm.envs.crafter.viewer import describe_info, describe_step
from iris_wm.envs.vector import python_vector_env
from iris_wm.scores.report import Input, Report, ReportOptions


def report(inputs: list[Input], options: ReportOptions) -> Report:
    """Score, return and success rates per method, beside the human players' runs (iris_wm.envs.crafter.report)."""
    from iris_wm.envs.crafter import figures
    from iris_wm.envs.crafter import report as crafter

    results = crafter.results_of(inputs, options)

    def draw(folder: Path) -> list[Path]:
        if not any(result.success_rates is not None for result in results):
            return []
        return [figures.success_rates_figure(results, folder / "crafter_success_rates.png")]

    return Report(crafter.crafter_terminal(results), crafter.crafter_markdown(results), crafter.crafter_json(results),
                  draw)

def check_installed(config: CrafterEnvConfig) -> None:
    """Crafter 1.8 is installed: said in one line when the config is composed, before anything is written
    (registering the kind imported none of it)."""
    import_module("iris_wm.envs.crafter.env")


register_env_kind(EnvKind(
    name="crafter",
    description="Crafter (Hafner, ICLR 2022): 22 achievements, the Crafter score",
    config_class=CrafterEnvConfig,
    make_vector_env=python_vector_env(lazy("iris_wm.envs.crafter.env", "make_crafter")),
    make_env=lazy("iris_wm.envs.crafter.env", "make_crafter"),
    resolve_id=resolve_task_id,
    action_names=lambda config: lazy("iris_wm.envs.crafter.env", "action_names")(config.id),
    play_keys=lambda names: CRAFTER_KEYS,
    raw_frame=lambda env: env.render(),
    presets=Path(__file__).parent / "presets",
    step_extras=achievement_counts,
    episode_metrics=score_metrics,
    curves=("test_dataset/crafter_score", "train_dataset/crafter_score"),
    score_metric="crafter_score",
    describe_info=describe_info,
    describe_step=describe_step,
    check=check_installed,
    claims_scores=lazy("iris_wm.envs.crafter.report", "claims"),
    report=report,
))
