"""Crafter metrics: per-achievement success rates, the Crafter score and the mean return.

Definitions from the Crafter paper (Hafner, ICLR 2022): over all episodes, the success rate of
an achievement is the percentage of episodes in which it was unlocked at least once; the score
is the geometric mean of (1 + success rate) over the 22 achievements, minus 1, in percent.

Episodes are read from Crafter's own ``stats.jsonl`` (one JSON object per episode with
``"reward"``, ``"length"`` and ``"achievement_<name>": count``), or from a JSON list of such
objects; a folder stands for every ``stats.jsonl`` below it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from iris_wm.crafter_score import ACHIEVEMENTS, crafter_score, success_rates
from iris_wm.errors import IrisError

PREFIX = "achievement_"


@dataclass
class CrafterResult:
    name: str
    episodes: int
    success_rates: dict[str, float]  # achievement -> percent of episodes, 0..100
    score: float  # percent
    mean_return: float | None  # None when the episodes carry no reward


def _episode_counts(episode: object, where: str) -> tuple[list[float], float | None]:
    if not isinstance(episode, dict):
        raise IrisError(f"{where}: an episode must be a JSON object with achievement_<name> counts")
    unknown = [key for key in episode if key.startswith(PREFIX) and key[len(PREFIX) :] not in ACHIEVEMENTS]
    if unknown:
        raise IrisError(f"{where}: unknown achievement {unknown[0]}; Crafter's 22 are {', '.join(ACHIEVEMENTS)}")
    counts = []
    for name in ACHIEVEMENTS:
        count = episode.get(PREFIX + name, 0)  # absent means never unlocked
        if isinstance(count, bool) or not isinstance(count, (int, float)) or not count >= 0:
            raise IrisError(f"{where}: {PREFIX}{name} = {count!r}; counts must be numbers >= 0")
        counts.append(float(count))
    reward = episode.get("reward", episode.get("return"))
    if reward is not None and (isinstance(reward, bool) or not isinstance(reward, (int, float))):
        raise IrisError(f"{where}: reward {reward!r} is not a number")
    return counts, None if reward is None else float(reward)


def _episodes_of_file(path: Path) -> list[object]:
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise IrisError(f"{path} is not valid JSON ({error}); pass Crafter's stats.jsonl") from None
    if not isinstance(data, list):
        raise IrisError(f"{path}: expected a list of episodes (Crafter's stats.jsonl format)")
    return data


def _stats_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(path.rglob("stats.jsonl"))
        if not files:
            raise IrisError(f"{path}: no stats.jsonl found; record episodes with crafter.Recorder or pass the file")
        return files
    if not path.exists():
        raise IrisError(f"{path} does not exist; check the path")
    return [path]


def is_crafter_input(path: str | Path) -> bool:
    """True for a stats.jsonl, a JSON list of achievement records, or a folder holding stats.jsonl."""
    path = Path(path)
    if path.is_dir():
        return next(path.rglob("stats.jsonl"), None) is not None and next(path.rglob("eval/*.json"), None) is None
    if path.suffix == ".jsonl":
        return True
    try:
        head = path.read_text(encoding="utf-8")[:4096]
    except (OSError, UnicodeDecodeError):
        return False
    return head.lstrip().startswith("[") and f'"{PREFIX}' in head


def _default_name(path: Path) -> str:
    # Crafter names every file stats.jsonl: the folder holding it says more.
    if path.is_file() and path.name != "stats.jsonl":
        return path.stem
    return (path.parent if path.is_file() else path).resolve().name


def read_crafter(path: str | Path, name: str | None = None) -> CrafterResult:
    """Success rates, score and mean return of every episode in a stats file or folder."""
    path = Path(path)
    counts, rewards = [], []
    for file in _stats_files(path):
        for index, episode in enumerate(_episodes_of_file(file)):
            episode_counts, reward = _episode_counts(episode, f"{file}, episode {index + 1}")
            counts.append(episode_counts)
            rewards.append(reward)
    if not counts:
        raise IrisError(f"{path}: no episodes; evaluate the agent on Crafter first")
    rates = success_rates(np.array(counts))
    known = [reward for reward in rewards if reward is not None]
    return CrafterResult(
        name=name or _default_name(path),
        episodes=len(counts),
        success_rates=dict(zip(ACHIEVEMENTS, rates.tolist(), strict=True)),
        score=crafter_score(rates),
        mean_return=float(np.mean(known)) if len(known) == len(rewards) else None,
    )


def _number(value: float | None, digits: int = 1) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def crafter_markdown(results: list[CrafterResult]) -> str:
    """A Markdown report: score and return per method, then every achievement's success rate."""
    names = [result.name for result in results]
    lines = [
        "# Crafter report",
        "",
        "Score = exp(mean ln(1 + s_i)) − 1 over the 22 achievements, s_i = success rate in % (Hafner, ICLR 2022).",
        "",
        "| Method | episodes | Score (%) | Return |",
        "|---|---:|---:|---:|",
        *(f"| {r.name} | {r.episodes} | {r.score:.2f} | {_number(r.mean_return, 2)} |" for r in results),
        "",
        "| Achievement | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for achievement in ACHIEVEMENTS:
        rates = " | ".join(f"{r.success_rates[achievement]:.1f}" for r in results)
        lines.append(f"| {achievement} | {rates} |")
    return "\n".join(lines) + "\n"


def crafter_terminal(results: list[CrafterResult]) -> str:
    """Score, return and episodes per method, as a fixed-width table."""
    width = max(len("Method"), *(len(r.name) for r in results))
    lines = [f"{'Method':<{width}}  episodes  score (%)  return"]
    for r in results:
        lines.append(f"{r.name:<{width}}  {r.episodes:>8}  {r.score:>9.2f}  {_number(r.mean_return, 2):>6}")
    return "\n".join(lines)


def crafter_json(results: list[CrafterResult]) -> dict:
    return {
        "benchmark": "crafter",
        "methods": [
            {
                "name": r.name,
                "episodes": r.episodes,
                "score": r.score,
                "mean_return": r.mean_return,
                "success_rates": r.success_rates,
            }
            for r in results
        ],
    }
