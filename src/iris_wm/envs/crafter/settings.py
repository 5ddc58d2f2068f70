"""``env=crafter``'s settings, its task id and the keymap of a person playing: what the registry needs of the
family without importing crafter."""

from __future__ import annotations

from dataclasses import dataclass, field

from iris_wm.config import at_least, one_of
from iris_wm.envs import tie_sides
from iris_wm.envs.crafter.score import TASK
from iris_wm.envs.vector import VECTORIZATIONS
from iris_wm.errors import IrisError

# A person's layout, as the authors' viewer.
CRAFTER_KEYS = {
    "a": "move_left", "d": "move_right", "w": "move_up", "s": "move_down",
    "space": "do", "tab": "sleep",
    "r": "place_stone", "t": "place_table", "f": "place_furnace", "p": "place_plant",
    "1": "make_wood_pickaxe", "2": "make_stone_pickaxe", "3": "make_iron_pickaxe",
    "4": "make_wood_sword", "5": "make_stone_sword", "6": "make_iron_sword",
}  # fmt: skip


@dataclass
class CrafterConfig:
    id: str | None = TASK
    size: int | None = at_least(16, 64)  # observations are (size, size, 3) uint8
    max_episode_steps: int = at_least(1, 10_000)  # Crafter's episode length: an end here is a truncation
    area: int = at_least(9, 64)  # the world is area x area cells
    view: int = at_least(3, 9)  # the player sees view x view cells (the last 2 rows: the inventory)
    vectorization: str | None = None  # follows env.vectorization (None, made alone: sync)


@dataclass
class CrafterEnvConfig:
    """``env=crafter``: train and test settings (the same by default, as the authors'). The test
    side's frame size follows the train side's unless set."""

    kind: str = "crafter"
    id: str = TASK
    # sync: the envs step one after another in this process; async: a subprocess each. The same numbers.
    # Measured with 16 envs (benchmarks/bench_envs.py --env crafter --num-envs 16): a step costs 1.2 ms in
    # sync, ~800 steps/s on any machine; async workers 1.4 ms and this process 0.065 ms a step, so async gives
    # ~700 steps/s per idle core (4 cores ~2,800, up to ~10,000 with 16). On this project's 2 shared cores:
    # async 1,080 against 835 when idle, but 610 against 780 beside a training run, so sync.
    vectorization: str = one_of(VECTORIZATIONS, "sync")
    train: CrafterConfig = field(default_factory=lambda: CrafterConfig(id=None))
    test: CrafterConfig = field(default_factory=lambda: CrafterConfig(id=None, size=None))

    def __post_init__(self) -> None:
        tie_sides(self, ("size",), env_keys=("id", "vectorization"))


def resolve_task_id(id: str) -> str:
    if id.strip().lower().removesuffix("-v1") in ("crafter", "crafterreward"):
        return TASK
    raise IrisError(f"unknown Crafter task {id!r}: env=crafter has one task, 'Crafter' (CrafterReward-v1); "
                    f"for an Atari game choose env=atari")
