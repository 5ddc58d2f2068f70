"""``env=atari``'s settings and the keymap of a person playing: what the registry needs of the family
without importing ale-py."""

from __future__ import annotations

from dataclasses import dataclass, field

from iris_wm.config import one_of
from iris_wm.envs import tie_sides
from iris_wm.envs.vector import VECTORIZATIONS
from iris_wm.errors import IrisError


@dataclass
class AtariConfig:
    id: str | None = "Breakout"  # any accepted spelling (see resolve_game_id)
    size: int | None = 64  # observations are (size, size, 3) uint8
    max_episode_steps: int = 20000  # in raw frames, noops included (train 20000, test 108000)
    noop_max: int = 30  # U{1..noop_max} NOOP frames after a real reset (train 30, test 1)
    frame_skip: int | None = 4  # raw frames per agent step
    done_on_life_loss: bool = True  # train True, test False
    clip_reward: bool = False  # sign of each raw frame's reward (off in the paper)
    vectorization: str | None = None  # follows env.vectorization (None, made alone: sync)

    def __post_init__(self) -> None:
        for name in ("size", "max_episode_steps", "noop_max", "frame_skip"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise IrisError(f"AtariConfig.{name} must be >= 1, got {value}")


@dataclass
class AtariEnvConfig:
    """``env=atari``: one game, with the paper's train and test settings. The test env's game, frame
    size and frame skip follow the train env's unless set (null); set to another value, they are an
    error, since an agent trained on one cannot be tested on another."""

    kind: str = "atari"
    id: str = "???"  # the game, e.g. Pong, BreakoutNoFrameskip-v4 or ALE/Breakout-v5: sets train and test
    # sync: the wrapper stacks step one after another in this process; async: a subprocess each. The same
    # numbers. Measured (benchmarks/bench_envs.py --num-envs 16, 2 cores): the paper's one train env gives
    # 1,510 steps/s sync, 1,340 async (a pipe each step, nothing to overlap); 16 test envs 1,600 sync (0.62 ms
    # a step), 2,230 async, whose workers spend 0.74 ms a step: ~1,350 steps/s per idle core. Sync: the train
    # side has one env, and async lost beside a training run on this project's shared cores (CrafterEnvConfig).
    vectorization: str = one_of(VECTORIZATIONS, "sync")
    train: AtariConfig = field(default_factory=lambda: AtariConfig(
        id=None, max_episode_steps=20_000, noop_max=30, done_on_life_loss=True))
    test: AtariConfig = field(default_factory=lambda: AtariConfig(
        id=None, size=None, frame_skip=None, max_episode_steps=108_000, noop_max=1, done_on_life_loss=False))

    def __post_init__(self) -> None:
        tie_sides(self, ("size", "frame_skip"), env_keys=("id", "vectorization"))


# The authors' Atari layout: letters for the moves, the arrow keys for the moves with FIRE.
ATARI_KEYS = {
    "space": "FIRE",
    "w": "UP", "d": "RIGHT", "a": "LEFT", "s": "DOWN",
    "t": "UPRIGHT", "r": "UPLEFT", "g": "DOWNRIGHT", "f": "DOWNLEFT",
    "up": "UPFIRE", "right": "RIGHTFIRE", "left": "LEFTFIRE", "down": "DOWNFIRE",
    "u": "UPRIGHTFIRE", "y": "UPLEFTFIRE", "j": "DOWNRIGHTFIRE", "h": "DOWNLEFTFIRE",
}
