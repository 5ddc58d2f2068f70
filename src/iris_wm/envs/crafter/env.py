"""Crafter (Hafner, ICLR 2022) as a gymnasium environment.

``crafter.Env(reward=True)`` keeps the old gym API (``reset() -> obs``, 4-tuple ``step``) and
ends episodes with one ``done``. Here it is a ``gymnasium.Env``: ``reset(seed=) -> (obs, info)``,
``terminated`` on the player's death, ``truncated`` at the step limit (10,000 by default), 64x64
RGB uint8 observations, the 17 actions by name. ``reset(seed=s)`` builds the world from ``s``
(the same seed gives the same world and, with the same actions, the same episode in any process:
``determinism``); later ``reset()`` calls go on to the next worlds of that seed, as Crafter
numbers its episodes.

The reward is Crafter's: +1 the first time an episode unlocks each achievement, and the change in
health / 10. ``info["achievements"]`` counts each of the 22 achievements so far in the episode:
stored with every step, it gives the Crafter score (``iris_wm.envs.crafter.score``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from iris_wm.config import at_least, one_of
from iris_wm.envs import tie_sides
from iris_wm.envs.crafter.score import ACHIEVEMENTS, TASK, crafter_score, success_rates
from iris_wm.envs.vector import VECTORIZATIONS
from iris_wm.errors import IrisError

try:
    import crafter
    import gymnasium
    from crafter import constants
except ImportError as error:
    raise IrisError(f"Crafter needs the 'crafter' extra: pip install 'iris-wm[crafter]' ({error})") from error

if not hasattr(crafter, "Env") or len(constants.actions) != 17 or set(constants.achievements) != set(ACHIEVEMENTS):
    raise IrisError(f"the installed crafter {getattr(crafter, '__version__', '')} lacks Crafter 1.8's API "
                    f"(17 actions, 22 achievements); pip install 'crafter>=1.8,<2'")

from iris_wm.envs.crafter.determinism import order_chunks  # noqa: E402  (needs Crafter 1.8's engine)

ACTION_NAMES = tuple(constants.actions)
VIEW_SIZE = 576  # pixels of the frame the viewer shows large: 64 per cell of the 9x9 view
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


def action_names(id: str) -> list[str]:
    resolve_task_id(id)
    return list(ACTION_NAMES)


class CrafterEnv(gymnasium.Env):
    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, config: CrafterConfig, seed: int | None = None, render_mode: str = "rgb_array") -> None:
        self.config, self.render_mode = config, render_mode
        size = config.size
        self.observation_space = gymnasium.spaces.Box(0, 255, (size, size, 3), dtype=np.uint8)
        self.action_space = gymnasium.spaces.Discrete(len(ACTION_NAMES))
        self._first_seed = seed  # the seed of the first reset() when it names none
        self._game: crafter.Env | None = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        seed = self._first_seed if seed is None else seed
        self._first_seed = None
        if seed is not None or self._game is None:
            world_seed = seed if seed is not None else int(self.np_random.integers(2**31 - 1))
            c = self.config
            # Creatures in a fixed order, else the same seed and actions give other episodes in other processes.
            self._game = order_chunks(crafter.Env(area=(c.area, c.area), view=(c.view, c.view), size=(c.size, c.size),
                                                  reward=True, length=c.max_episode_steps, seed=world_seed))
        obs = self._game.reset()
        player = self._game._player  # crafter gives no info at reset; the player is where it lives
        return obs, {"achievements": dict(player.achievements), "inventory": dict(player.inventory)}

    def step(self, action: int):
        obs, reward, done, info = self._game.step(int(action))
        info = {key: value.copy() if isinstance(value, np.ndarray) else value for key, value in info.items()}
        terminated = info["discount"] == 0  # the player died
        return obs, float(reward), bool(terminated), bool(done and not terminated), info

    def render(self) -> np.ndarray:
        return self._game.render((VIEW_SIZE, VIEW_SIZE))


def make_crafter(config: CrafterConfig, seed: int | None = None) -> CrafterEnv:
    resolve_task_id(config.id)
    return CrafterEnv(config, seed)


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
