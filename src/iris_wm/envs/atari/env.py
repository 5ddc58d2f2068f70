"""Atari environments as in IRIS: the paper's wrapper stack on gymnasium 1.x + ale-py.

Inner to outer: ale-py's ``AtariEnv`` (one raw 210x160 RGB frame per step, no sticky actions,
minimal action set: the ``NoFrameskip-v4`` semantics) → time limit counted in raw frames →
optional reward clipping → no-op starts → frame skip with max-pooling of the last two resized
frames → optional end of episode on life loss.

Resizing is PIL's antialiased bilinear ``Image.resize((64, 64), BILINEAR)`` of each raw frame, as
the original. The original resized every raw frame; here only the frames that are used (the two
kept by max-and-skip, and a reset frame) are resized: resizing is a per-frame function, so the
observations are identical and the work is halved.
"""

from __future__ import annotations

import functools

import numpy as np

from iris_wm.data.frames import resize_frame
from iris_wm.envs.atari.settings import AtariConfig
from iris_wm.errors import IrisError
from iris_wm.games import match_game

try:
    import gymnasium
    from ale_py import ALEInterface, LoggerMode, roms
    from ale_py.env import AtariEnv
    from ale_py.registration import rom_id_to_name
except ImportError as error:
    raise IrisError(f"Atari environments need the 'atari' extra: pip install 'iris-wm[atari]' ({error})") from error

ALEInterface.setLoggerMode(LoggerMode.Error)  # no ALE banner on every env creation


@functools.cache
def _rom_ids_by_name() -> dict[str, str]:
    """{'Breakout': 'breakout', 'MsPacman': 'ms_pacman', ...} over the ROMs shipped with ale-py."""
    return {rom_id_to_name(rom): rom for rom in roms.get_all_rom_ids()}


def resolve_game_id(id: str) -> str:
    """The canonical game name ('Breakout') for any accepted spelling of a game id.

    Only the game is taken from an id: 'ALE/Breakout-v5' does not bring v5's sticky actions or
    frame skip; every env here has the NoFrameskip-v4 semantics and the settings of AtariConfig."""
    names = _rom_ids_by_name()
    game, close = match_game(id, names)
    if game is not None:
        return game
    hint = f"did you mean {', '.join(close)}?" if close else "no close match"
    raise IrisError(
        f"unknown Atari game {id!r} ({hint}); use a game name such as 'Breakout', "
        f"'BreakoutNoFrameskip-v4' or 'ALE/Breakout-v5' ({len(names)} ROMs ship with ale-py)"
    )


def rom_id(game: str) -> str:
    """ale-py's ROM id ('breakout', 'ms_pacman') of a game name or id."""
    return _rom_ids_by_name()[resolve_game_id(game)]


def action_names(game: str) -> list[str]:
    """Names of the minimal action set, in action-index order, e.g. ['NOOP', 'FIRE', 'RIGHT', 'LEFT']."""
    return list(_minimal_action_names(rom_id(game)))


@functools.cache
def _minimal_action_names(rom: str) -> tuple[str, ...]:
    ale = ALEInterface()
    ale.loadROM(roms.get_rom_path(rom))
    return tuple(action.name for action in ale.getMinimalActionSet())


# --------------------------------------------------------------------------------- wrappers


class NoopStart(gymnasium.Wrapper):
    """After each real reset, U{1..noop_max} NOOP frames (re-resetting if the episode ends).

    The count is drawn from the env's own ``np_random`` (seeded by ``reset(seed=...)``)."""

    def __init__(self, env: gymnasium.Env, noop_max: int):
        super().__init__(env)
        assert env.unwrapped.get_action_meanings()[0] == "NOOP"
        self.noop_max = noop_max

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        for _ in range(int(self.np_random.integers(1, self.noop_max + 1))):
            obs, _, terminated, truncated, info = self.env.step(0)
            if terminated or truncated:
                obs, info = self.env.reset()
        return obs, info


class MaxAndSkip(gymnasium.Wrapper):
    """Repeat the action ``skip`` raw frames, sum the rewards, stop early when the episode ends;
    observe the pixel-wise max of the last two frames, each resized to (size, size, 3).

    The two-frame buffer is never cleared (as the original; docs/faithfulness.md): after an early end it
    still holds frames of the previous step, so the terminal observation can mix stale frames.
    (The vector envs replace a terminal observation by the next episode's first frame: it is only
    visible here and as their ``final_obs``.) The latest raw frame is kept as ``env.unwrapped.original_obs``."""

    def __init__(self, env: gymnasium.Env, skip: int, size: int):
        super().__init__(env)
        self.skip, self.size = skip, size
        self._frames = np.zeros((2, size, size, 3), dtype=np.uint8)  # (2, size, size, 3)
        self.observation_space = gymnasium.spaces.Box(0, 255, (size, size, 3), np.uint8)

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.unwrapped.original_obs = obs
        return resize_frame(obs, self.size), info

    def step(self, action):
        total_reward = 0.0
        for i in range(self.skip):
            obs, reward, terminated, truncated, info = self.env.step(action)
            if i >= self.skip - 2:  # only the last two frames of the skip are kept
                self._frames[i - (self.skip - 2)] = resize_frame(obs, self.size)
            total_reward += reward
            if terminated or truncated:
                break
        self.unwrapped.original_obs = obs
        return self._frames.max(axis=0), total_reward, terminated, truncated, info


class EpisodicLife(gymnasium.Wrapper):
    """End the episode (terminated) when a life is lost and lives remain. The next reset then
    continues the same game with one NOOP agent step instead of a real reset (its end flags are
    ignored, as the original's)."""

    def __init__(self, env: gymnasium.Env):
        super().__init__(env)
        self._lives = 0
        self._game_over = True  # a real reset is due

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._game_over = terminated or truncated
        lives = self.unwrapped.ale.lives()
        if 0 < lives < self._lives:
            terminated = True
        self._lives = lives
        return obs, reward, terminated, truncated, info

    def reset(self, *, seed=None, options=None):
        if self._game_over or seed is not None:
            obs, info = self.env.reset(seed=seed, options=options)
        else:
            obs, _, _, _, info = self.env.step(0)
        self._lives = self.unwrapped.ale.lives()
        return obs, info


def make_atari(config: AtariConfig, seed: int | None = None) -> gymnasium.Env:
    """The wrapper stack for one env; observations (size, size, 3) uint8.

    ``seed`` seeds the env now, so that a later ``reset()`` is deterministic (as ``reset(seed=seed)``
    would); ``reset(seed=...)`` reseeds."""
    # max_num_frames_per_episode=None: no ALE limit of its own; the time limit below is the only one.
    env: gymnasium.Env = AtariEnv(
        rom_id(config.id),
        obs_type="rgb",
        frameskip=1,
        repeat_action_probability=0.0,
        full_action_space=False,
        max_num_frames_per_episode=None,
    )
    if seed is not None:
        env.seed_game(seed)
        env.load_game()
    env = gymnasium.wrappers.TimeLimit(env, config.max_episode_steps)
    if config.clip_reward:
        env = gymnasium.wrappers.TransformReward(env, lambda r: float(np.sign(r)))
    env = NoopStart(env, config.noop_max)
    env = MaxAndSkip(env, config.frame_skip, config.size)
    if config.done_on_life_loss:
        env = EpisodicLife(env)
    return env
