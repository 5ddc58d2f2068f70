"""The Crafter benchmark's definitions (Hafner, ICLR 2022): its 22 achievements, their success
rates, the Crafter score and the task's name. Shared by the environment (metrics during training) and
the reports."""

from __future__ import annotations

import numpy as np

TASK = "Crafter"  # the one task, with rewards (gym id CrafterReward-v1): its key in score files
ACHIEVEMENTS = (
    "collect_coal", "collect_diamond", "collect_drink", "collect_iron", "collect_sapling",
    "collect_stone", "collect_wood", "defeat_skeleton", "defeat_zombie", "eat_cow", "eat_plant",
    "make_iron_pickaxe", "make_iron_sword", "make_stone_pickaxe", "make_stone_sword",
    "make_wood_pickaxe", "make_wood_sword", "place_furnace", "place_plant", "place_stone",
    "place_table", "wake_up",
)  # fmt: skip


def success_rates(counts: np.ndarray) -> np.ndarray:
    """(episodes, 22) unlock counts -> (22,) percent of episodes with the achievement unlocked."""
    return 100.0 * (counts >= 1).mean(axis=0)


def crafter_score(rates: np.ndarray) -> float:
    """exp(mean(ln(1 + s))) - 1 with s in percent: a geometric mean that tolerates zero rates."""
    rates = np.asarray(rates, dtype=np.float64)
    assert rates.shape == (len(ACHIEVEMENTS),), rates.shape
    return float(np.exp(np.log1p(rates).mean()) - 1.0)


def achievement_counts(info: dict) -> dict[str, np.ndarray]:
    """What each stored step keeps: the 22 achievement counts so far, in ACHIEVEMENTS' order."""
    counts = info.get("achievements", {})
    return {"achievements": np.array([counts.get(name, 0) for name in ACHIEVEMENTS], dtype=np.int32)}


def score_metrics(final_extras: list[dict[str, np.ndarray]]) -> dict[str, float]:
    """The Crafter score and the 22 success rates (percent) over finished episodes."""
    counts = np.stack([extras["achievements"] for extras in final_extras if "achievements" in extras])
    rates = success_rates(counts)
    return {"crafter_score": crafter_score(rates),
            **{f"success/{name}": float(rate) for name, rate in zip(ACHIEVEMENTS, rates, strict=True)}}
