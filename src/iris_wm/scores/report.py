"""What ``iris report`` asks of a report and what a report gives back, whichever family makes it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from iris_wm.errors import IrisError

Input = tuple[str | None, Path]  # (the name given with NAME=PATH or None, a score file, run folder or stats file)


@dataclass(frozen=True)
class ReportOptions:
    baselines: str | None = None  # the family's bundled reference methods: comma-separated names, 'all' or 'none'
    reps: int = 50_000  # bootstrap repetitions of the intervals; 0: none
    profile_reps: int = 2_000  # of the performance-profile bands, where a report draws them
    poi_reps: int = 1_000  # of the probability-of-improvement intervals, where a report gives them
    seed: int = 0  # of the bootstraps
    runs: int | None = None  # use the first `runs` runs of every game; None: all
    # NAME -> a score file of reference scores {env: [score]}: random and expert for any env (the normalised
    # score is (score - random) / (expert - random)); a family may take others (Atari: human)
    references: dict[str, Path] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for option in ("reps", "profile_reps", "poi_reps"):
            if getattr(self, option) < 0:
                raise IrisError(f"--{option.replace('_', '-')} must be >= 0, got {getattr(self, option)}")
        if self.runs is not None and self.runs < 1:
            raise IrisError(f"--runs must be a positive number of runs per game, got {self.runs}")


@dataclass
class Report:
    terminal: str  # what the command prints
    markdown: str  # report.md
    data: dict | list  # report.json
    draw: Callable[[Path], list[Path]] = lambda folder: []  # folder -> the figures it wrote there


def fixed_width(header: list[str], body: list[list[str]]) -> str:
    """A table for the terminal: columns padded to their widest cell."""
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
                     for line in [header, *body])


def markdown_page(title: str, note: str, header: list[str], body: list[list[str]]) -> str:
    """A Markdown page: a title, a note of what the numbers are, and the table."""
    lines = [f"# {title}", "", note, "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(line) + " |" for line in body]) + "\n"


def write_report(report: Report, out: Path, figures: bool = True) -> list[Path]:
    """report.md, report.json and (unless ``figures`` is off) the figures under ``out/figures``."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "report.md", out / "report.json"]
    written[0].write_text(report.markdown, encoding="utf-8")
    written[1].write_text(json.dumps(report.data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    if figures:
        written += report.draw(out / "figures")
    return written
