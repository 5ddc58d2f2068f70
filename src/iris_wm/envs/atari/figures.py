"""The Atari 100k report's figures, in the style of the IRIS paper and rliable: aggregates with CIs,
per-game HNS, performance profiles and the probability of improvement."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from iris_wm.envs.atari.report import AtariReport
from iris_wm.scores import plots
from iris_wm.scores import statistics as metrics


def _padded_limits(methods: list, name: str) -> tuple[float, float]:
    # Set by hand: bars are "sticky" at their base, which defeats matplotlib's automatic margins.
    values = [r.aggregates[name] for r in methods] + [v for r in methods if r.intervals for v in r.intervals[name]]
    low, high = min(values), max(values)
    pad = 0.08 * (high - low or 1.0)
    return low - pad, high + pad


def aggregates_figure(report: AtariReport, path: Path) -> Path:
    """Four panels (mean, median, IQM, optimality gap): one CI bar and point per method."""
    methods = report.methods
    figure = plots.new_figure(14, 0.45 * len(methods) + 1.4)
    axes = figure.subplots(1, len(metrics.AGGREGATES), sharey=True)
    rows = np.arange(len(methods))[::-1]  # the subject on top
    for axis, name in zip(axes, metrics.AGGREGATES, strict=True):
        for index, (row, result) in enumerate(zip(rows, methods, strict=True)):
            point = result.aggregates[name]
            if result.intervals is not None:
                lower, upper = result.intervals[name]
                axis.barh(row, upper - lower, left=lower, height=0.6, color=plots.color(index), alpha=0.75)
            axis.vlines(point, row - 0.3, row + 0.3, color="black", linewidth=1.5)
        axis.set_xlim(*_padded_limits(methods, name))
        axis.set_title(metrics.AGGREGATE_TITLES[name] + (" (lower is better)" if name == "optimality_gap" else ""))
        axis.set_xlabel("Human normalised score")
        plots.style(axis)
    axes[0].set_yticks(rows, [result.name for result in methods])
    note = "bars: 95% stratified-bootstrap CIs, ticks: point estimates" if report.settings.reps else "point estimates"
    figure.suptitle(f"Atari 100k aggregates ({note})", y=1.02)
    figure.tight_layout()
    return plots.save(figure, path)


def per_game_figure(report: AtariReport, path: Path, games_per_row: int = 13) -> Path:
    """Mean HNS of every game, one bar per method; symlog axis: linear up to human, log beyond."""
    from matplotlib.patches import Patch

    games, methods = report.references.games, report.methods
    chunks = [games[i : i + games_per_row] for i in range(0, len(games), games_per_row)]
    figure = plots.new_figure(16, 3.6 * len(chunks) + 0.8)
    axes = np.atleast_1d(figure.subplots(len(chunks), 1))
    width = 0.84 / len(methods)
    top = max(max(r.game_means().values()) for r in methods)
    for axis, chunk in zip(axes, chunks, strict=True):
        for index, result in enumerate(methods):
            means = result.game_means()
            for position, game in enumerate(chunk):
                x = position - 0.42 + width * (index + 0.5)
                if game in means:
                    axis.bar(x, means[game], width=width, color=plots.color(index))
                else:  # named, not silently empty
                    axis.text(
                        x, 0.05, "missing", rotation=90, ha="center", va="bottom", fontsize=8, color=plots.color(index)
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
    handles = [Patch(color=plots.color(i), label=r.name) for i, r in enumerate(methods)]
    handles.append(Patch(facecolor="none", edgecolor="gray", linestyle="--", label="human (HNS = 1)"))
    figure.legend(handles=handles, loc="upper center", ncol=min(len(handles), 6), frameon=False,
                  bbox_to_anchor=(0.5, 1.0))  # fmt: skip
    figure.suptitle("Atari 100k: per-game mean human normalised score (y: linear below 1, log above)", y=1.04)
    figure.tight_layout(rect=(0, 0, 1, 0.95))
    return plots.save(figure, path)


def performance_profile_figure(report: AtariReport, path: Path) -> Path:
    """Fraction of runs x games with HNS > tau, with the bootstrap band when computed."""
    figure = plots.new_figure(7, 4.5)
    axis = figure.subplots()
    taus = metrics.PROFILE_TAUS
    for index, result in enumerate(report.methods):
        profile = metrics.performance_profile(result.hns, taus)
        axis.plot(taus, profile, color=plots.color(index), linewidth=2, label=result.name)
        if result.profile_band is not None:
            axis.fill_between(taus, result.profile_band[0], result.profile_band[1], color=plots.color(index), alpha=0.2)
    axis.axhline(0.5, color="gray", linestyle=":", linewidth=1)
    axis.set_xlim(taus[0], taus[-1])
    axis.set_ylim(0, 1)
    axis.set_xlabel(r"Human normalised score ($\tau$)")
    axis.set_ylabel(r"Fraction of runs with score > $\tau$")
    axis.set_title("Atari 100k: performance profiles (score distributions)")
    axis.legend(fontsize=8)
    plots.style(axis)
    axis.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    return plots.save(figure, path)


def improvement_figure(report: AtariReport, path: Path) -> Path:
    """P(subject > other) for every other method, with CIs; 0.5 means no difference."""
    improvements = report.improvements
    figure = plots.new_figure(6.5, 0.45 * len(improvements) + 1.4)
    axis = figure.subplots()
    rows = np.arange(len(improvements))[::-1]
    names = [result.name for result in report.methods]  # same colour per method in every figure
    for row, improvement in zip(rows, improvements, strict=True):
        if improvement.interval is not None:
            lower, upper = improvement.interval
            color = plots.color(names.index(improvement.other))
            axis.barh(row, upper - lower, left=lower, height=0.6, color=color, alpha=0.75)
        axis.vlines(improvement.probability, row - 0.3, row + 0.3, color="black", linewidth=1.5)
    axis.axvline(0.5, color="gray", linestyle="--", linewidth=1)
    axis.set_yticks(rows, [improvement.other for improvement in improvements])
    axis.set_xlim(0, 1)
    subject = improvements[0].subject if improvements else ""
    axis.set_xlabel(f"P({subject} > Y)")
    axis.set_ylabel("Algorithm Y")
    axis.set_title(f"Probability of improvement of {subject}")
    plots.style(axis)
    figure.tight_layout()
    return plots.save(figure, path)


def report_figures(report: AtariReport, folder: Path) -> list[Path]:
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
