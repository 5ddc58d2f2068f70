"""Where a run's numbers go: `metrics.jsonl` always, TensorBoard by default, Weights & Biases on request.

`metrics.jsonl` holds one JSON object per `log` call: the metrics plus `epoch`. Each line is
flushed as it is written, so killing the process loses at most the line being written, and
`read_metrics` skips such a torn last line. Tensors become Python numbers here, the one place
where the training loop waits for the device.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from iris_wm.agents.base import Curve
from iris_wm.atomic import atomic_write, atomic_write_text
from iris_wm.errors import IrisError
from iris_wm.run_folder import RunFolder


class MetricsLogger:
    """Appends each epoch's metrics to `run_dir/metrics.jsonl`, TensorBoard and (opt-in) wandb.

    `start_epoch` is the first epoch this process logs: after a resume, TensorBoard hides the
    events a killed run wrote at or after it, as `truncate_after` does for the JSONL file.
    `wandb` holds `wandb.init` arguments; its `mode` defaults to "offline".
    """

    def __init__(
        self,
        run_dir: Path,
        use_tensorboard: bool = True,
        wandb: Mapping[str, Any] | None = None,
        start_epoch: int | None = None,
    ) -> None:
        self.run_dir = Path(run_dir)
        # Imports first: a missing package fails before anything is opened.
        summary_writer = _import_tensorboard() if use_tensorboard else None
        wandb_module = _import_wandb() if wandb is not None else None
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if start_epoch is not None:
            truncate_after(self.run_dir, start_epoch - 1)  # what a killed run logged after its checkpoint
        run = RunFolder(self.run_dir)
        _drop_torn_tail(run.metrics_file)  # appending after a torn line would merge it with the next one
        self._file = open(run.metrics_file, "a", encoding="utf-8")
        self._tensorboard = None
        if summary_writer is not None:
            self._tensorboard = summary_writer(log_dir=str(run.tensorboard), purge_step=start_epoch)
        self._wandb = _init_wandb(wandb_module, self.run_dir, dict(wandb)) if wandb_module is not None else None

    def log(self, metrics: Mapping[str, float | int | torch.Tensor], step: int) -> None:
        """Record `metrics` for epoch `step`; several calls per epoch are fine."""
        assert "epoch" not in metrics, "the epoch is the step argument"
        values = {key: _to_number(value) for key, value in metrics.items()}
        self._file.write(json.dumps({"epoch": step, **values}) + "\n")
        self._file.flush()
        if self._tensorboard is not None:
            for key, value in values.items():
                self._tensorboard.add_scalar(key, value, step)
            self._tensorboard.flush()
        if self._wandb is not None:
            self._wandb.log({"epoch": step, **values})

    def plot(self, out_png: Path, curves: Sequence[Curve]) -> bool:
        """`plot_metrics` of this run (the lines logged so far are already on disk)."""
        return plot_metrics(self.run_dir, out_png, curves)

    def close(self) -> None:
        self._file.close()
        if self._tensorboard is not None:
            self._tensorboard.close()
        if self._wandb is not None:
            self._wandb.finish()


def _to_number(value: float | int | torch.Tensor | np.generic) -> float | int:
    if isinstance(value, (torch.Tensor, np.ndarray, np.generic)):
        value = value.item()
    assert isinstance(value, (int, float)), f"metrics are scalars, got {type(value).__name__}"
    return value


def _drop_torn_tail(path: Path) -> None:
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        atomic_write(path, lambda tmp: tmp.write_bytes(data[: data.rfind(b"\n") + 1]))


def _import_tensorboard():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise IrisError(
            "TensorBoard logging needs the tensorboard package: pip install tensorboard, "
            "or set logger.tensorboard=false"
        ) from None
    return SummaryWriter


def _import_wandb():
    try:
        import wandb
    except ImportError:
        raise IrisError("Weights & Biases logging needs wandb: pip install wandb, or set logger.wandb=false") from None
    return wandb


def _init_wandb(wandb, run_dir: Path, config: dict[str, Any]):
    # Never prompt, print progress bars or wait long for a server: training must not block on it.
    os.environ.setdefault("WANDB_SILENT", "true")
    os.environ.setdefault("WANDB_INIT_TIMEOUT", "60")
    config.setdefault("mode", "offline")
    try:
        return wandb.init(dir=str(run_dir), **config)
    except TypeError as error:
        raise IrisError(f"bad logger.wandb option ({error}); see wandb.init's arguments") from None


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """All entries of `run_dir/metrics.jsonl` in order, ignoring a torn last line."""
    path = RunFolder(Path(run_dir)).metrics_file
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    entries = []
    for number, line in enumerate(lines, start=1):
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):
                break  # the process died while writing it
            raise IrisError(f"{path} line {number} is not JSON; repair or delete that line") from None
    return entries


def truncate_after(run_dir: Path, epoch: int) -> None:
    """Keep only the entries of epochs <= `epoch` (before a resumed run logs again)."""
    path = RunFolder(Path(run_dir)).metrics_file
    if path.exists():
        kept = [entry for entry in read_metrics(run_dir) if entry["epoch"] <= epoch]
        atomic_write_text(path, "".join(json.dumps(entry) + "\n" for entry in kept))


def plot_metrics(run_dir: Path, out_png: Path, curves: Sequence[Curve]) -> bool:
    """Draw the ``curves`` the run has logged as a grid of small plots; False if none yet."""
    entries = read_metrics(run_dir)
    references = {curve.key: curve for curve in curves}
    series = {curve.key: _series(entries, curve.key) for curve in curves}
    series = {key: points for key, points in series.items() if points[0]}
    if not series:
        return False
    columns = min(3, len(series))
    rows = math.ceil(len(series) / columns)
    figure = _new_figure(rows, columns)
    for index, (key, (epochs, values)) in enumerate(series.items()):
        axes = figure.add_subplot(rows, columns, index + 1)
        # markers only while sparse (test returns come every few epochs), lines alone once dense
        marker = "o" if len(epochs) <= 30 else None
        axes.plot(epochs, values, color="#0173b2", linewidth=1.2, marker=marker, markersize=2.5)
        curve = references[key]
        if curve.reference is not None:
            axes.axhline(curve.reference, color="#949494", linestyle="--", linewidth=1)
            # labelled on the line itself (x in axes fraction, y in data), where no legend hides a curve
            axes.text(0.98, curve.reference, curve.reference_label, transform=axes.get_yaxis_transform(),
                      ha="right", va="bottom", fontsize=7, color="#949494")
        axes.set_title(key, fontsize=8)
        axes.set_xlabel("epoch", fontsize=7)
        axes.tick_params(labelsize=7)
        axes.grid(alpha=0.3)
    figure.tight_layout()
    atomic_write(Path(out_png), lambda tmp: figure.savefig(tmp, format="png"))
    return True


def _series(entries: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    points = [(entry["epoch"], entry[key]) for entry in entries if key in entry and math.isfinite(entry[key])]
    return [epoch for epoch, _ in points], [value for _, value in points]


def _new_figure(rows: int, columns: int):
    # Figure + Agg canvas rather than pyplot: no GUI backend, no global figure state to leak.
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise IrisError("learning curves need matplotlib: pip install matplotlib") from None
    figure = Figure(figsize=(3.2 * columns, 2.4 * rows), dpi=120)
    FigureCanvasAgg(figure)
    return figure
