"""PNG figures in the style of the IRIS paper and rliable: aggregates with CIs, per-game HNS,
performance profiles, probability of improvement, and Crafter success rates.

matplotlib is imported inside the functions and used through ``Figure`` + the Agg canvas, not
pyplot, so drawing a report never changes the caller's backend or global figure state.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from iris_wm.envs.crafter.report import ACHIEVEMENTS, CrafterResult, score_text
from iris_wm.errors import IrisError
from iris_wm.evaluation import metrics
from iris_wm.evaluation.report import Report
from iris_wm.evaluation.returns import Row

# seaborn's 'colorblind' palette; the subject (first method) gets blue, as IRIS does in the paper.
COLORS = ("#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc", "#ca9161", "#fbafe4", "#949494", "#ece133", "#56b4e9")
DPI = 150


def _new_figure(width: float, height: float):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise IrisError(
            f"figures need matplotlib ({error}); pip install 'iris-wm[report]', or pass --no-figures"
        ) from None
    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def _color(index: int) -> str:
    return COLORS[index % len(COLORS)]


def _save(figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, bbox_inches="tight", facecolor="white")
    return path


def _style(axis) -> None:
    axis.spines[["top", "right"]].set_visible(False)
    axis.grid(axis="x", alpha=0.3)


def _padded_limits(methods: list, name: str) -> tuple[float, float]:
    # Set by hand: bars are "sticky" at their base, which defeats matplotlib's automatic margins.
    values = [r.aggregates[name] for r in methods] + [v for r in methods if r.intervals for v in r.intervals[name]]
    low, high = min(values), max(values)
    pad = 0.08 * (high - low or 1.0)
    return low - pad, high + pad


def aggregates_figure(report: Report, path: Path) -> Path:
    """Four panels (mean, median, IQM, optimality gap): one CI bar and point per method."""
    methods = report.methods
    figure = _new_figure(14, 0.45 * len(methods) + 1.4)
    axes = figure.subplots(1, len(metrics.AGGREGATES), sharey=True)
    rows = np.arange(len(methods))[::-1]  # the subject on top
    for axis, name in zip(axes, metrics.AGGREGATES, strict=True):
        for index, (row, result) in enumerate(zip(rows, methods, strict=True)):
            point = result.aggregates[name]
            if result.intervals is not None:
                lower, upper = result.intervals[name]
                axis.barh(row, upper - lower, left=lower, height=0.6, color=_color(index), alpha=0.75)
            axis.vlines(point, row - 0.3, row + 0.3, color="black", linewidth=1.5)
        axis.set_xlim(*_padded_limits(methods, name))
        axis.set_title(metrics.AGGREGATE_TITLES[name] + (" (lower is better)" if name == "optimality_gap" else ""))
        axis.set_xlabel("Human normalised score")
        _style(axis)
    axes[0].set_yticks(rows, [result.name for result in methods])
    note = "bars: 95% stratified-bootstrap CIs, ticks: point estimates" if report.settings.reps else "point estimates"
    figure.suptitle(f"Atari 100k aggregates ({note})", y=1.02)
    figure.tight_layout()
    return _save(figure, path)


def per_game_figure(report: Report, path: Path, games_per_row: int = 13) -> Path:
    """Mean HNS of every game, one bar per method; symlog axis: linear up to human, log beyond."""
    from matplotlib.patches import Patch

    games, methods = report.references.games, report.methods
    chunks = [games[i : i + games_per_row] for i in range(0, len(games), games_per_row)]
    figure = _new_figure(16, 3.6 * len(chunks) + 0.8)
    axes = np.atleast_1d(figure.subplots(len(chunks), 1))
    width = 0.84 / len(methods)
    top = max(max(r.game_means().values()) for r in methods)
    for axis, chunk in zip(axes, chunks, strict=True):
        for index, result in enumerate(methods):
            means = result.game_means()
            for position, game in enumerate(chunk):
                x = position - 0.42 + width * (index + 0.5)
                if game in means:
                    axis.bar(x, means[game], width=width, color=_color(index))
                else:  # named, not silently empty
                    axis.text(
                        x, 0.05, "missing", rotation=90, ha="center", va="bottom", fontsize=8, color=_color(index)
                    )
        axis.axhline(0, color="black", linewidth=0.8)
        axis.axhline(1, color="gray", linestyle="--", linewidth=1)
        axis.set_yscale("symlog", linthresh=1, linscale=1.5)
        axis.set_ylim(min(-0.2, min(min(r.game_means().values()) for r in methods) * 1.2), top * 1.5)
        ticks = [tick for tick in (0, 0.25, 0.5, 0.75, 1, 2, 5, 10, 20, 50) if tick <= top * 1.5]
        axis.set_yticks(ticks, [f"{tick:g}" for tick in ticks])
        axis.minorticks_off()
        axis.set_xticks(range(len(chunk)), chunk, rotation=20, ha="right")
        axis.set_xlim(-0.6, len(chunk) - 0.4)
        axis.set_ylabel("Mean HNS")
        axis.spines[["top", "right"]].set_visible(False)
        axis.grid(axis="y", alpha=0.3)
    handles = [Patch(color=_color(i), label=r.name) for i, r in enumerate(methods)]
    handles.append(Patch(facecolor="none", edgecolor="gray", linestyle="--", label="human (HNS = 1)"))
    figure.legend(handles=handles, loc="upper center", ncol=min(len(handles), 6), frameon=False,
                  bbox_to_anchor=(0.5, 1.0))  # fmt: skip
    figure.suptitle("Atari 100k: per-game mean human normalised score (y: linear below 1, log above)", y=1.04)
    figure.tight_layout(rect=(0, 0, 1, 0.95))
    return _save(figure, path)


def performance_profile_figure(report: Report, path: Path) -> Path:
    """Fraction of runs x games with HNS > tau, with the bootstrap band when computed."""
    figure = _new_figure(7, 4.5)
    axis = figure.subplots()
    taus = metrics.PROFILE_TAUS
    for index, result in enumerate(report.methods):
        profile = metrics.performance_profile(result.hns, taus)
        axis.plot(taus, profile, color=_color(index), linewidth=2, label=result.name)
        if result.profile_band is not None:
            axis.fill_between(taus, result.profile_band[0], result.profile_band[1], color=_color(index), alpha=0.2)
    axis.axhline(0.5, color="gray", linestyle=":", linewidth=1)
    axis.set_xlim(taus[0], taus[-1])
    axis.set_ylim(0, 1)
    axis.set_xlabel(r"Human normalised score ($\tau$)")
    axis.set_ylabel(r"Fraction of runs with score > $\tau$")
    axis.set_title("Atari 100k: performance profiles (score distributions)")
    axis.legend(fontsize=8)
    _style(axis)
    axis.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    return _save(figure, path)


def improvement_figure(report: Report, path: Path) -> Path:
    """P(subject > other) for every other method, with CIs; 0.5 means no difference."""
    improvements = report.improvements
    figure = _new_figure(6.5, 0.45 * len(improvements) + 1.4)
    axis = figure.subplots()
    rows = np.arange(len(improvements))[::-1]
    names = [result.name for result in report.methods]  # same colour per method in every figure
    for row, improvement in zip(rows, improvements, strict=True):
        if improvement.interval is not None:
            lower, upper = improvement.interval
            color = _color(names.index(improvement.other))
            axis.barh(row, upper - lower, left=lower, height=0.6, color=color, alpha=0.75)
        axis.vlines(improvement.probability, row - 0.3, row + 0.3, color="black", linewidth=1.5)
    axis.axvline(0.5, color="gray", linestyle="--", linewidth=1)
    axis.set_yticks(rows, [improvement.other for improvement in improvements])
    axis.set_xlim(0, 1)
    subject = improvements[0].subject if improvements else ""
    axis.set_xlabel(f"P({subject} > Y)")
    axis.set_ylabel("Algorithm Y")
    axis.set_title(f"Probability of improvement of {subject}")
    _style(axis)
    figure.tight_layout()
    return _save(figure, path)


def report_figures(report: Report, folder: Path) -> list[Path]:
    """Every Atari figure of the report, written under ``folder``; returns their paths."""
    folder = Path(folder)
    paths = [
        aggregates_figure(report, folder / "aggregates.png"),
        per_game_figure(report, folder / "per_game_hns.png"),
        performance_profile_figure(report, folder / "performance_profile.png"),
    ]
    if report.improvements:
        paths.append(improvement_figure(report, folder / "probability_of_improvement.png"))
    return paths


def crafter_figure(results: list[CrafterResult], path: Path) -> Path:
    """Success rate of each achievement, one bar per method, log scale as in the Crafter paper."""
    results = [result for result in results if result.success_rates is not None]
    figure = _new_figure(14, 4.8)
    axis = figure.subplots()
    width = 0.8 / len(results)
    positions = np.arange(len(ACHIEVEMENTS))
    for index, result in enumerate(results):
        rates = np.array([result.success_rates[a] for a in ACHIEVEMENTS])
        # A zero rate has no log; draw it at the axis floor so the bar stays visibly empty.
        axis.bar(positions - 0.4 + width * (index + 0.5), np.maximum(rates, 0.01), width=width,
                 color=_color(index), label=f"{result.name} (score {score_text(result)} %)")  # fmt: skip
    axis.set_yscale("log")
    axis.set_ylim(0.01, 100)
    axis.set_yticks([0.01, 0.1, 1, 10, 100], ["0.01", "0.1", "1", "10", "100"])
    axis.set_xticks(positions, [a.replace("_", " ").title() for a in ACHIEVEMENTS], rotation=60, ha="right")
    axis.set_ylabel("Success rate (%)")
    axis.set_title("Crafter: success rate of each achievement")
    axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # beside the bars, never over them
    axis.spines[["top", "right"]].set_visible(False)
    axis.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    return _save(figure, path)


def returns_figure(rows: list[Row], path: Path) -> Path:
    """One panel per env: each method's mean score with its 95 % interval (normalised where given)."""
    envs = list(dict.fromkeys(row.env for row in rows))
    methods = list(dict.fromkeys(row.method for row in rows))
    normalised = all(row.normalised is not None for row in rows)
    figure = _new_figure(3.2 * len(envs), 0.45 * len(methods) + 1.4)
    for index, env in enumerate(envs):
        axis = figure.add_subplot(1, len(envs), index + 1)
        env_rows = [row for row in rows if row.env == env]
        for row in env_rows:
            value, interval = (row.normalised, row.normalised_interval) if normalised else (row.mean, row.interval)
            y = methods.index(row.method)
            axis.barh(y, value, color=_color(y), height=0.6)
            if interval is not None:
                axis.plot(interval, [y, y], color="black", linewidth=1.2)
        axis.set_yticks(range(len(methods)), methods if index == 0 else [""] * len(methods))
        axis.invert_yaxis()
        axis.set_title(env, fontsize=9)
        axis.set_xlabel("normalised score" if normalised else "mean return")
        _style(axis)
    figure.tight_layout()
    return _save(figure, path)
