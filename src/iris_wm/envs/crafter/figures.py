"""Crafter's report figure: the success rate of each achievement per method."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from iris_wm.envs.crafter.report import CrafterResult, score_text
from iris_wm.envs.crafter.score import ACHIEVEMENTS
from iris_wm.scores import plots


def success_rates_figure(results: list[CrafterResult], path: Path) -> Path:
    """Success rate of each achievement, one bar per method, log scale as in the Crafter paper."""
    results = [result for result in results if result.success_rates is not None]
    figure = plots.new_figure(14, 4.8)
    axis = figure.subplots()
    width = 0.8 / len(results)
    positions = np.arange(len(ACHIEVEMENTS))
    for index, result in enumerate(results):
        rates = np.array([result.success_rates[a] for a in ACHIEVEMENTS])
        # A zero rate has no log; draw it at the axis floor so the bar stays visibly empty.
        axis.bar(positions - 0.4 + width * (index + 0.5), np.maximum(rates, 0.01), width=width,
                 color=plots.color(index), label=f"{result.name} (score {score_text(result)} %)")  # fmt: skip
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
    return plots.save(figure, path)
