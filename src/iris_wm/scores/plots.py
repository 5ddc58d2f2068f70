"""What every report figure shares: a matplotlib figure that leaves the caller's state alone, the palette
and the saving.

matplotlib is imported inside ``new_figure`` and used through ``Figure`` + the Agg canvas, not pyplot, so
drawing a report never changes the caller's backend or global figure state.
"""

from __future__ import annotations

from pathlib import Path

from iris_wm.errors import IrisError

# seaborn's 'colorblind' palette; the subject (first method) gets blue, as IRIS does in the paper.
COLORS = ("#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc", "#ca9161", "#fbafe4", "#949494", "#ece133", "#56b4e9")
DPI = 150


def new_figure(width: float, height: float):
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


def color(index: int) -> str:
    return COLORS[index % len(COLORS)]


def save(figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, bbox_inches="tight", facecolor="white")
    return path


def style(axis) -> None:
    axis.spines[["top", "right"]].set_visible(False)
    axis.grid(axis="x", alpha=0.3)
