"""Learning curves over seeds (``iris report --curves``): each run's test return against environment steps,
read from its metrics.jsonl; per env and method, the median over runs and their interquartile band, beside
reference returns (the random policy, published scores) drawn as lines; a table of the final returns.

A run is a folder with ``config/train.yaml`` and ``metrics.jsonl``; a folder of runs (a benchmark sweep, a
folder of seeds) stands for every run below it. Runs of one method with the same config evaluate at the same
steps; where they do not, each step's statistics cover the runs evaluated there."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from iris_wm.errors import IrisError
from iris_wm.run_folder import RunFolder, run_folders_below
from iris_wm.scores import plots
from iris_wm.scores import statistics as stats
from iris_wm.scores.report import Input, Report, ReportOptions, fixed_width, markdown_page
from iris_wm.training.metrics_logger import read_metrics

STEPS, RETURN = "train_dataset/#steps", "test_dataset/return"  # env steps so far, the test return at an evaluation


@dataclass
class RunCurve:
    env: str
    family: str
    steps: np.ndarray  # (evaluations,) env steps collected when each evaluation ran
    returns: np.ndarray  # (evaluations,) mean test return
    minutes: float  # wall-clock of the epochs up to the last evaluation


@dataclass
class MethodCurve:
    env: str
    family: str
    method: str
    steps: np.ndarray  # (points,)
    median: np.ndarray  # (points,) over the runs evaluated at each point
    low: np.ndarray  # 25th percentile
    high: np.ndarray  # 75th percentile
    finals: np.ndarray  # (runs,) each run's last test return
    final_steps: int  # the fewest env steps of a run's last evaluation
    minutes: float  # the median over runs of their minutes up to their last evaluation
    interval: tuple[float, float] | None = None  # 95 % bootstrap interval of the finals' median


def reference_returns(path: Path) -> dict[str, float]:
    """A reference file's return per env, to draw beside test returns: an ``iris eval`` file's measured mean
    return (its score may be the family's own metric, as Crafter's), else a score file's mean score."""
    from iris_wm.scores.files import load_json
    from iris_wm.scores.returns import mean_scores

    data = load_json(Path(path))
    details = data.get("details") if isinstance(data, dict) else None
    envs = [key for key in data if key != "details"] if isinstance(data, dict) else []
    if isinstance(details, dict) and "mean" in details and len(envs) == 1:
        return {envs[0]: float(details["mean"])}
    return mean_scores(path)


def find_runs(path: Path) -> list[Path]:
    runs = [run.root for run in run_folders_below(path) if run.metrics_file.is_file()]
    if not runs:
        raise IrisError(f"{path}: no run folder (config/train.yaml and metrics.jsonl) in it; --curves reads runs")
    return runs


def read_run(run_dir: Path) -> RunCurve | None:
    """A run's test returns; None for a run that has not evaluated yet."""
    env = (yaml.safe_load(RunFolder(run_dir).config_file.read_text()) or {}).get("env", {})
    metrics = read_metrics(run_dir)
    points = [(entry[STEPS], entry[RETURN]) for entry in metrics if RETURN in entry and STEPS in entry]
    if not points:
        return None
    steps, returns = np.array(points, dtype=np.float64).T
    last = max(i for i, entry in enumerate(metrics) if RETURN in entry)
    minutes = 60 * sum(entry.get("duration_hours", 0.0) for entry in metrics[: last + 1])
    return RunCurve(str(env.get("id")), str(env.get("kind")), steps.astype(np.int64), returns, minutes)


def method_curves(inputs: list[Input], options: ReportOptions) -> list[MethodCurve]:
    """Per (env, method): the runs of every input of that name, pooled as seeds."""
    groups: dict[tuple[str, str], list[RunCurve]] = {}
    for name, path in inputs:
        method = name or Path(path).resolve().name
        for run in filter(None, map(read_run, find_runs(path))):
            groups.setdefault((run.env, method), []).append(run)
    if not groups:
        raise IrisError("no run has evaluated yet (no test return in metrics.jsonl); report its curves later")
    return [_summarise(env, method, runs, options) for (env, method), runs in sorted(groups.items())]


def _summarise(env: str, method: str, runs: list[RunCurve], options: ReportOptions) -> MethodCurve:
    steps = np.unique(np.concatenate([run.steps for run in runs]))
    at = [np.array([run.returns[run.steps == step][0] for run in runs if step in run.steps]) for step in steps]
    finals = np.array([run.returns[-1] for run in runs])
    interval = None
    if options.reps and len(runs) > 1:
        interval = tuple(float(v) for v in stats.median_interval(finals, options.reps, options.seed))
    low, median, high = np.array([np.percentile(values, (25, 50, 75)) for values in at]).T  # (points,) each
    return MethodCurve(env, runs[0].family, method, steps, median, low, high, finals,
                       int(min(run.steps[-1] for run in runs)), float(np.median([run.minutes for run in runs])),
                       interval)


def curves_report(curves: list[MethodCurve], references: dict[str, dict[str, float]]) -> Report:
    """``references``: env -> {name: return}, drawn as lines and given as columns."""
    names = list(dict.fromkeys(name for env_refs in references.values() for name in env_refs))
    header = ["Env", "Method", "runs", "env steps", "minutes per run", "final median [95% CI]", *names]
    body = [[c.env, c.method, str(len(c.finals)), str(c.final_steps), f"{c.minutes:.0f}", _final(c),
             *(_number(references.get(c.env, {}).get(name)) for name in names)] for c in curves]
    note = ("Test return against env steps; the final median over runs of each run's last test return, with the "
            "95 % percentile-bootstrap interval of that median; minutes per run: the median wall-clock up to the "
            "last evaluation; reference returns beside.")
    return Report(fixed_width(header, body), markdown_page("Learning curves", note, header, body),
                  _json(curves, references),
                  lambda folder: [curves_figure(curves, references, folder / "learning_curves.png")])


def _final(curve: MethodCurve) -> str:
    text = f"{np.median(curve.finals):.2f}"
    return text + (f" [{curve.interval[0]:.2f}, {curve.interval[1]:.2f}]" if curve.interval else "")


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _json(curves: list[MethodCurve], references: dict[str, dict[str, float]]) -> dict:
    return {"curves": [{"env": c.env, "method": c.method, "steps": c.steps.tolist(), "median": c.median.tolist(),
                        "q25": c.low.tolist(), "q75": c.high.tolist(), "finals": c.finals.tolist(),
                        "final_median": float(np.median(c.finals)), "final_interval": c.interval,
                        "minutes_per_run": c.minutes}
                       for c in curves],
            "references": references}


def curves_figure(curves: list[MethodCurve], references: dict[str, dict[str, float]], path: Path) -> Path:
    """One panel per env: each method's median test return over its runs with the interquartile band, and
    the references as dashed lines."""
    envs = list(dict.fromkeys(c.env for c in curves))
    methods = list(dict.fromkeys(c.method for c in curves))
    figure = plots.new_figure(4.2 * len(envs), 3.4)
    for index, env in enumerate(envs):
        axis = figure.add_subplot(1, len(envs), index + 1)
        for curve in (c for c in curves if c.env == env):
            color = plots.color(methods.index(curve.method))
            axis.plot(curve.steps, curve.median, color=color, linewidth=2,
                      label=f"{curve.method} ({len(curve.finals)} runs)")
            axis.fill_between(curve.steps, curve.low, curve.high, color=color, alpha=0.2)
        for number, (name, value) in enumerate(references.get(env, {}).items()):
            axis.axhline(value, color="gray", linestyle=("--", ":", "-.")[number % 3], linewidth=1, label=name)
        axis.set_title(env, fontsize=9)
        axis.set_xlabel("env steps")
        axis.set_ylabel("test return")
        axis.legend(fontsize=7)
        plots.style(axis)
    figure.tight_layout()
    return plots.save(figure, path)
