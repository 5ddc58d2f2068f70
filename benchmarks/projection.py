"""What the measured steps add up to over the paper's schedule: one actor-critic epoch, one whole
epoch at a given epoch's dataset size, and a whole run (``benchmarks/speed.py`` prints them).

Every figure is a projection from a few measured steps, and says so: a phase's epoch is its
steps per epoch times its measured time per step; a whole epoch adds one collection (the paper's
200 agent steps in one environment, as measured); a run sums its epochs, each with the phases that
train in it (``start_after_epochs``) and the collection while it lasts (``stop_after_epochs``),
each phase's time per step interpolated linearly in the epoch between the epochs whose dataset
sizes were measured, held at the nearest one outside them. Evaluation and checkpoints are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from iris_wm.training.config import TrainConfig

PHASES = ("tokenizer", "world_model", "actor_critic")


@dataclass(frozen=True)
class Schedule:
    """The paper's run, as the config gives it."""

    epochs: int
    collect_until: int  # train collection runs in epochs 1..collect_until
    steps: dict[str, int]  # steps per epoch of each phase
    start_after: dict[str, int]  # a phase trains in epochs strictly after this

    @classmethod
    def of(cls, config: TrainConfig) -> Schedule:
        t = config.training
        settings = {name: getattr(t, name) for name in PHASES}
        return cls(config.common.epochs, config.collection.train.stop_after_epochs,
                   {name: s.steps_per_epoch for name, s in settings.items()},
                   {name: s.start_after_epochs for name, s in settings.items()})


@dataclass
class Projection:
    what: str
    size: str
    path: str
    seconds: float
    how: str


def epoch_seconds(schedule: Schedule, per_step: dict[int, dict[str, float]], epoch: float,
                  phases: tuple[str, ...], collection: float) -> float:
    """``phases``' epochs at the dataset size of ``epoch`` plus ``collection`` seconds. ``per_step``:
    measured epoch -> phase -> seconds per step, interpolated between the measured epochs."""
    measured = sorted(per_step)
    return collection + sum(
        schedule.steps[name] * float(np.interp(epoch, measured, [per_step[e][name] for e in measured]))
        for name in phases)


def run_seconds(schedule: Schedule, per_step: dict[int, dict[str, float]], collection: float) -> float:
    """The whole run: every epoch with the phases that train in it and its collection, if any."""
    return sum(epoch_seconds(schedule, per_step, epoch,
                             tuple(name for name in PHASES if epoch > schedule.start_after[name]),
                             collection if epoch <= schedule.collect_until else 0.0)
               for epoch in range(1, schedule.epochs + 1))


def project_paths(schedule: Schedule, size: str, per_step: dict[str, dict[int, dict[str, float]]],
                  collection: float | None, measured_steps: int, setting: str) -> list[Projection]:
    """For each path (path -> measured epoch -> phase -> seconds per step): a whole epoch at each
    measured epoch's dataset size, and the whole run."""
    collected = collection or 0.0
    steps = "/".join(str(schedule.steps[name]) for name in PHASES)
    source = (f"{steps} steps (tokenizer/world model/actor-critic) x seconds per step measured over "
              f"{measured_steps} per phase ({setting}); "
              + (f"+ {collected:.1f} s of collection" if collection is not None else "collection not measured"))
    projections = []
    for path, by_epoch in per_step.items():
        for epoch in sorted(by_epoch):
            projections.append(Projection(f"whole epoch at epoch {epoch}'s dataset", size, path,
                                          epoch_seconds(schedule, by_epoch, epoch, PHASES, collected), source))
        interpolated = ("per-step times interpolated linearly between epochs " + ", ".join(map(str, sorted(by_epoch)))
                        + ", held outside them" if len(by_epoch) > 1 else "per-step times of that one epoch")
        projections.append(Projection(
            f"{schedule.epochs}-epoch run", size, path, run_seconds(schedule, by_epoch, collected),
            f"{source}; phases from epochs {', '.join(str(schedule.start_after[n] + 1) for n in PHASES)}, "
            f"collection until epoch {schedule.collect_until}; {interpolated}; no evaluation or checkpoints"))
    return projections


def phase_epoch(what: str, size: str, path: str, step_seconds: float, steps: int, measured: int,
                setting: str) -> Projection:
    return Projection(what, size, path, steps * step_seconds,
                      f"{steps} x the median of {measured} measured steps ({setting})")


def clock(seconds: float) -> str:
    hours, rest = divmod(round(seconds), 3600)
    return f"{seconds:,.1f} s ({hours}:{rest // 60:02d}:{rest % 60:02d})"


def projection_table(projections: list[Projection]) -> str:
    lines = ["| projection | size | path | time | how |", "|---|---|---|---|---|"]
    lines += [f"| {p.what} | {p.size} | {p.path} | {clock(p.seconds)} | {p.how} |" for p in projections]
    return "\n".join(lines)
