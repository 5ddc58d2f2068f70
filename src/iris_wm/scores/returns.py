"""The report of any environment's scores: per env and method, the mean over runs with its 95 %
bootstrap interval, and, given reference scores, the normalised score
(score - random) / (expert - random). It is the report of every family that has none of its own.

Inputs are score files in the published runs format (``{env_id: [score of each run]}``, what
``iris eval`` writes) and run folders (every ``eval/*.json`` below them). Reference files are in
the same format; an env's reference is the mean of its list.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from iris_wm.errors import IrisError
from iris_wm.scores import plots
from iris_wm.scores import statistics as metrics
from iris_wm.scores.files import MethodScores, pool, read_score_file, read_scores
from iris_wm.scores.report import Input, Report, ReportOptions, fixed_width, markdown_page

REFERENCE_NAMES = ("random", "expert")


@dataclass
class Row:
    env: str
    method: str
    runs: int
    mean: float
    interval: tuple[float, float] | None  # 95 % bootstrap interval of the mean; None with one run or no reps
    normalised: float | None = None  # (mean - random) / (expert - random), with references
    normalised_interval: tuple[float, float] | None = None


def load_references(files: dict[str, Path]) -> dict[str, dict[str, float]]:
    """{"random": FILE, "expert": FILE} -> {"random": {env: score}, "expert": {env: score}}; none: {}."""
    unknown = sorted(set(files) - set(REFERENCE_NAMES))
    if unknown:
        raise IrisError(f"--reference {unknown[0]}=FILE: this report normalises by random=FILE and expert=FILE")
    if files and set(files) != set(REFERENCE_NAMES):
        raise IrisError("normalising needs both --reference random=FILE and --reference expert=FILE")
    return {name: mean_scores(path) for name, path in files.items()}


def mean_scores(path: Path) -> dict[str, float]:
    """A reference file ``{env: [score, ...]}`` (any score file) -> each env's mean score."""
    return {env: float(np.mean(runs)) for env, runs in read_score_file(path, None).games.items()}


def normalise(value: float, env: str, references: dict[str, dict[str, float]]) -> float:
    random, expert = references["random"].get(env), references["expert"].get(env)
    if random is None or expert is None:
        raise IrisError(f"the reference files have no random or expert score of {env}; add it to both")
    if expert == random:
        raise IrisError(f"{env}: the random and expert reference scores are equal; fix the reference files")
    return (value - random) / (expert - random)


def build_rows(methods: list[MethodScores], references: dict[str, dict[str, float]], reps: int,
               seed: int) -> list[Row]:
    rows = []
    envs = sorted({env for method in methods for env in method.games})
    for env in envs:
        for method in methods:
            if env not in method.games:
                continue
            runs = np.asarray(method.games[env], dtype=np.float64)
            interval = tuple(metrics.mean_interval(runs, reps, seed)) if reps and len(runs) > 1 else None
            row = Row(env, method.name, len(runs), float(runs.mean()), interval)
            if references:
                row.normalised = normalise(row.mean, env, references)
                if interval is not None:
                    row.normalised_interval = tuple(normalise(v, env, references) for v in interval)
            rows.append(row)
    return rows


def _value(mean: float | None, interval: tuple[float, float] | None) -> str:
    if mean is None:
        return "-"
    return f"{mean:.2f}" + (f" [{interval[0]:.2f}, {interval[1]:.2f}]" if interval else "")


def table(rows: list[Row]) -> tuple[list[str], list[list[str]]]:
    header = ["Env", "Method", "runs", "Mean [95% CI]"]
    normalised = any(row.normalised is not None for row in rows)
    if normalised:
        header.append("Normalised [95% CI]")
    body = [[row.env, row.method, str(row.runs), _value(row.mean, row.interval)]
            + ([_value(row.normalised, row.normalised_interval)] if normalised else []) for row in rows]
    return header, body


def to_terminal(rows: list[Row]) -> str:
    return fixed_width(*table(rows))


def to_markdown(rows: list[Row]) -> str:
    return markdown_page("Scores", "Mean over runs, with the 95 % percentile bootstrap interval of the mean.",
                         *table(rows))


def to_json(rows: list[Row]) -> list[dict]:
    return [row.__dict__ for row in rows]


def returns_figure(rows: list[Row], path: Path) -> Path:
    """One panel per env: each method's mean score with its 95 % interval (normalised where given)."""
    envs = list(dict.fromkeys(row.env for row in rows))
    methods = list(dict.fromkeys(row.method for row in rows))
    normalised = all(row.normalised is not None for row in rows)
    figure = plots.new_figure(3.2 * len(envs), 0.45 * len(methods) + 1.4)
    for index, env in enumerate(envs):
        axis = figure.add_subplot(1, len(envs), index + 1)
        for row in (row for row in rows if row.env == env):
            value, interval = (row.normalised, row.normalised_interval) if normalised else (row.mean, row.interval)
            y = methods.index(row.method)
            axis.barh(y, value, color=plots.color(y), height=0.6)
            if interval is not None:
                axis.plot(interval, [y, y], color="black", linewidth=1.2)
        axis.set_yticks(range(len(methods)), methods if index == 0 else [""] * len(methods))
        axis.invert_yaxis()
        axis.set_title(env, fontsize=9)
        axis.set_xlabel("normalised score" if normalised else "mean return")
        plots.style(axis)
    figure.tight_layout()
    return plots.save(figure, path)


def report(inputs: list[Input], options: ReportOptions) -> Report:
    """Each input's scores, with the env ids as they are spelled; equal names pooled."""
    if not inputs:
        raise IrisError("nothing to report; pass score files or run folders")
    if options.baselines not in (None, "none"):
        raise IrisError(f"--baselines {options.baselines}: there are no bundled baselines for these envs; "
                        f"give reference scores with --reference random=FILE --reference expert=FILE")
    methods = pool([read_scores(path, None, name) for name, path in inputs])
    rows = build_rows(methods, load_references(options.references), options.reps, options.seed)
    return Report(to_terminal(rows), to_markdown(rows), to_json(rows),
                  lambda folder: [returns_figure(rows, folder / "scores.png")])
