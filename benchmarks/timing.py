"""How ``benchmarks/speed.py`` times a measurement: each path ``repeats`` times after ``warmup``
untimed runs, taking turns, with its FLOPs counted eagerly and, on CUDA, its peak memory."""

from __future__ import annotations

import contextlib
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode


@dataclass
class Row:
    measurement: str
    size: str
    path: str
    setting: str  # batch sizes and the like
    unit: str  # what ``amount`` counts
    amount: float  # units of work per run
    seconds: list[float]
    flops: float  # matmul, convolution and attention FLOPs of one run (torch's FLOP counter)
    speedup: float | None = None  # over this measurement's reference path, same run
    peak_memory: float | None = None  # bytes: the most the device held allocated during one run (CUDA)
    per_step: dict[str, float] | None = None  # epoch rows: each phase's median seconds per step
    like_epoch: int | None = None  # epoch rows: the paper's epoch whose dataset size they reproduce

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def rate(self) -> float:
        return self.amount / self.median


class Bench:
    def __init__(self, device: torch.device, repeats: int, warmup: int,
                 on_rows: Callable[[list[Row]], None] = lambda rows: None) -> None:
        self.device, self.repeats, self.warmup = device, repeats, warmup
        self.on_rows = on_rows  # after each measurement: a long run killed midway keeps what it measured
        self.rows: list[Row] = []

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def timed(self, run: Callable[[], None]) -> tuple[float, float | None]:
        """Seconds of one run, and on CUDA the most memory allocated during it."""
        self.sync()
        if self.cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
        start = time.perf_counter()
        run()
        self.sync()
        seconds = time.perf_counter() - start
        return seconds, torch.cuda.max_memory_allocated(self.device) if self.cuda else None

    def compare(self, measurement: str, size: str, setting: str, unit: str, amount: float,
                paths: dict[str, Callable[[], None]]) -> list[Row]:
        """Time each path ``repeats`` times, taking turns so that drifts in the machine's speed
        touch every path alike; the first path is the baseline of the speed-ups. The first
        warm-up run of each path also counts its FLOPs (eagerly: the same computation)."""
        flops = {}
        for path, run in paths.items():
            # torch.compile does not run under a dispatch mode: count a compiled path's FLOPs eagerly
            with torch.compiler.set_stance("force_eager"), FlopCounterMode(display=False) as counter:
                run()
            flops[path] = counter.get_total_flops()
            for _ in range(self.warmup - 1):
                run()
        seconds: dict[str, list[float]] = {path: [] for path in paths}
        peaks: dict[str, list[float]] = {path: [] for path in paths}
        for _ in range(self.repeats):
            for path, run in paths.items():
                elapsed, peak = self.timed(run)
                seconds[path].append(elapsed)
                if peak is not None:
                    peaks[path].append(peak)
        rows = [Row(measurement, size, path, setting, unit, amount, seconds[path], flops[path],
                    peak_memory=max(peaks[path], default=None)) for path in paths]
        for row in rows:
            row.speedup = rows[0].median / row.median if len(rows) > 1 else None
            print(f"  {measurement} [{size}] {row.path}: {row.median:.3f} s", file=sys.stderr, flush=True)
        self.rows += rows
        self.on_rows(self.rows)
        return rows


def table(rows: list[Row]) -> str:
    lines = ["| measurement | size | setting | path | median s | spread s | rate | GFLOP/s | peak GiB | vs reference |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        speedup = f"{r.speedup:.2f}x" if r.speedup is not None else ""
        arithmetic = f"{r.flops / r.median / 1e9:,.1f}" if r.flops else ""
        memory = f"{r.peak_memory / 2**30:.2f}" if r.peak_memory is not None else ""
        lines.append(f"| {r.measurement} | {r.size} | {r.setting} | {r.path} | {r.median:.3f} | "
                     f"{min(r.seconds):.3f}-{max(r.seconds):.3f} | {r.rate:,.3g} {r.unit}/s | {arithmetic} | "
                     f"{memory} | {speedup} |")
    return "\n".join(lines)


@contextlib.contextmanager
def tf32(on: bool) -> Iterator[None]:
    """TF32 matmuls and cuDNN convolutions for a block only (``agent.speed.tf32`` switches them for the
    whole process): the paths measured beside a TF32 one keep float32."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = on
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def with_tf32(run: Callable[[], None]) -> Callable[[], None]:
    def under_tf32() -> None:
        with tf32(True):
            run()
    return under_tf32
