"""What the viewer's header shows of a Crafter episode: the player's vitals, inventory and achievements."""

from __future__ import annotations

import numpy as np

from iris_wm.envs.crafter.score import ACHIEVEMENTS


def describe_step(extras: dict[str, np.ndarray], before: dict[str, np.ndarray] | None) -> dict[str, str]:
    """The episode browser's header: achievements unlocked at this step, and how many so far."""
    counts = extras["achievements"]
    previous = before["achievements"] if before is not None else np.zeros_like(counts)
    new = [name for name, now, then in zip(ACHIEVEMENTS, counts, previous, strict=True) if now > then]
    return {"unlocked": ", ".join(new) or "-", "achievements": f"{int((counts > 0).sum())}/22"}


def describe_info(info: dict) -> dict[str, str]:
    """The viewer's header: what the player carries and what it has achieved in this episode."""
    inventory = ", ".join(f"{name} {count}" for name, count in info.get("inventory", {}).items()
                          if count and name not in ("health", "food", "drink", "energy"))
    vitals = " ".join(f"{name[0]}{info['inventory'][name]}" for name in ("health", "food", "drink", "energy")
                      if name in info.get("inventory", {}))
    done = [name for name, count in info.get("achievements", {}).items() if count]
    return {"vitals": vitals or "-", "inventory": inventory or "-",
            "achievements": f"{len(done)}/22 " + ", ".join(done) if done else "0/22"}
