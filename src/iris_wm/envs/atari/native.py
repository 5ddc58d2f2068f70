"""Atari's native backend: a gymnasium vector env over ale-py's C++ emulators, with the same outputs
as the wrapper stacks (``make_atari``) in gymnasium's vector envs, frame for frame
(tests/envs/test_atari_native.py checks observations, rewards, ends and final observations).

Each game is emulated by its own one-env ale-py ``AtariVectorEnv`` (C++, on its own thread), asked
for raw 210x160 RGB frames with none of its preprocessing: frameskip 1, no max-pooling, no resizing,
no no-ops, no life-loss ends, no clipping, no time limit. Its own preprocessing cannot give the
paper's observations: it max-pools raw frames *before* resizing, resizes with OpenCV's INTER_AREA
instead of PIL's bilinear, draws its no-op counts from its own C++ RNG, and (measured on Seaquest)
its reset with no-ops can return different first frames for the same no-op count. So frame skip,
max-pooling, resizing, no-op starts (counts from the same ``np_random`` stream as the wrapper stack),
life-loss ends, clipping and the time limit run here, as per-env generators that issue the same
sequence of ALE operations (frames, resets) as the wrapper stack. One env per native instance is what
lets envs take different numbers of raw frames in one step (an episode ending early in a skip,
no-ops, the NOOP step after a life loss); a single N-env native instance steps all its games together.
The known differences: a game over *during* the NOOP step that follows a life loss (the wrapper
ignores it and steps the over game once more; the native env resets at once); and the final obs of a
step that ends in a game over, which the agent never steps from: ale-py's native env reports a game's
last frame otherwise than AtariEnv (measured on Seaquest, Breakout and Pong: 24 to 44 of 33,600 raw
pixels, in the score), and in either autoreset mode, so a few pixels of it can differ.

Its infos hold ``final_obs`` and ``final_info`` (empty) where an episode ended, and nothing else: the
native games report nothing that the wrapper stack's infos (lives, frame numbers) would match.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, NamedTuple

import gymnasium
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from iris_wm.data.frames import resize_frame
from iris_wm.envs.atari.env import action_names, rom_id
from iris_wm.envs.atari.settings import AtariConfig


def ale_np_random(seed: int) -> np.random.Generator:
    """The generator ale-py's AtariEnv uses as ``np_random`` after ``reset(seed=seed)``."""
    from gymnasium.utils import seeding

    np_seed, _ale_seed = np.random.SeedSequence(seed).generate_state(n_words=2)
    return seeding.np_random(int(np_seed))[0]


class Frame(NamedTuple):
    """One raw frame of one native game. After a game over the native env has already reset: ``raw``
    is then the new episode's first frame, and ``terminal`` the game's last (as ale-py reports it)."""

    raw: np.ndarray  # (210, 160, 3) uint8
    reward: float
    game_over: bool
    lives: int
    terminal: np.ndarray | None = None  # (210, 160, 3) uint8, at a game over


@dataclass
class Reset:
    """A request from an env's program: reset its game now (reloading the ROM when seeded)."""

    seed: int | None = None


Program = Generator[Any, Frame, Any]  # yields raw actions or Reset, receives Frames


class NativeVectorEnv(gymnasium.vector.VectorEnv):
    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, config: AtariConfig, num_envs: int, seed: int):
        self.config, self.num_envs = config, num_envs
        self.single_observation_space = gymnasium.spaces.Box(0, 255, (config.size, config.size, 3), np.uint8)
        self.single_action_space = gymnasium.spaces.Discrete(len(action_names(config.id)))
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        from ale_py.vector_env import AtariVectorEnv

        self._games = [
            AtariVectorEnv(
                rom_id(config.id),
                1,
                num_threads=1,
                img_height=210,
                img_width=160,
                grayscale=False,
                stack_num=1,
                frameskip=1,
                maxpool=False,
                noop_max=0,
                use_fire_reset=False,
                episodic_life=False,
                reward_clipping=False,
                repeat_action_probability=0.0,
                full_action_space=False,
                max_num_frames_per_episode=1 << 30,  # the time limit is ours
                autoreset_mode="SameStep",
            )
            for _ in range(num_envs)
        ]
        self._rngs = [ale_np_random(seed + i) for i in range(num_envs)]
        self._elapsed = [0] * num_envs  # raw frames since the game's reset, as TimeLimit counts
        self._lives = [0] * num_envs
        self._game_over = [True] * num_envs  # a real reset is due (not a life-loss one)
        # The two resized frames kept by max-and-skip, never cleared (as the wrapper's).
        self._frames = np.zeros((num_envs, 2, config.size, config.size, 3), dtype=np.uint8)

    # -- driving the per-env programs --------------------------------------------------------

    def _run(self, programs: list[Program]) -> list[Any]:
        """Run one program per env; their return values. Each env's next frame is requested as
        soon as its program has consumed the last one, so the games emulate while we resize."""
        results: list[Any] = [None] * self.num_envs
        running = [i for i in range(self.num_envs) if self._advance(i, programs[i], None, results)]
        while running:
            running = [i for i in running if self._advance(i, programs[i], self._receive(i), results)]
        return results

    def _advance(self, i: int, program: Program, frame: Frame | None, results: list[Any]) -> bool:
        try:
            request = program.send(frame)
            while isinstance(request, Reset):  # rare (time limit, reseeding): done synchronously
                obs, info = self._games[i].reset(seed=request.seed)
                request = program.send(Frame(obs[0, 0], 0.0, False, int(info["lives"][0])))
        except StopIteration as stop:
            results[i] = stop.value
            return False
        self._games[i].send(np.array([request], dtype=np.int64))
        return True

    def _receive(self, i: int) -> Frame:
        obs, reward, terminated, _, info = self._games[i].recv()  # obs (1, 1, 210, 160, 3)
        terminal = info["final_obs"][0, 0] if terminated[0] else None
        return Frame(obs[0, 0], float(reward[0]), bool(terminated[0]), int(info["lives"][0]), terminal)

    # -- the wrapper stack, one raw frame at a time ------------------------------------------

    def _max_and_skip(self, i: int, action: int) -> Program:
        """MaxAndSkip over the time limit and reward clipping; returns (obs, reward, truncated, last Frame)."""
        skip, size = self.config.frame_skip, self.config.size
        total = 0.0
        for k in range(skip):
            frame = yield action
            self._elapsed[i] += 1
            total += float(np.sign(frame.reward)) if self.config.clip_reward else frame.reward
            truncated = self._elapsed[i] >= self.config.max_episode_steps
            if k >= skip - 2:  # at a game over the wrapper keeps the game's last frame: the step's final obs
                raw = frame.raw if frame.terminal is None else frame.terminal
                self._frames[i, k - (skip - 2)] = resize_frame(raw, size)
            if frame.game_over or truncated:
                break
        return self._frames[i].max(axis=0), total, truncated, frame

    def _noop_start(self, i: int, frame: Frame | None, seed: int | None) -> Program:
        """NoopStart; ``frame``: the first frame of a game the native env has just reset, or None
        to reset it here. Returns (first obs, lives)."""
        if frame is None:
            frame = yield Reset(seed)
        self._elapsed[i] = 0
        for _ in range(int(self._rngs[i].integers(1, self.config.noop_max + 1))):
            frame = yield 0
            self._elapsed[i] += 1
            if frame.game_over:  # already reset by the native env
                self._elapsed[i] = 0
            elif self._elapsed[i] >= self.config.max_episode_steps:
                frame = yield Reset()
                self._elapsed[i] = 0
        return resize_frame(frame.raw, self.config.size), frame.lives

    def _reset(self, i: int, frame: Frame | None, seed: int | None) -> Program:
        """The stack's reset: a life-loss one (one NOOP agent step) or a real one; the first obs."""
        if self.config.done_on_life_loss and not self._game_over[i] and seed is None:
            obs, _, _, last = yield from self._max_and_skip(i, 0)  # its ends are ignored
            lives = last.lives
        else:
            obs, lives = yield from self._noop_start(i, frame, seed)
        self._lives[i] = lives
        return obs

    def _step(self, i: int, action: int) -> Program:
        """One agent step, then the same-step autoreset; returns (obs, reward, terminated, truncated,
        the step's own obs where the episode ended, else None)."""
        obs, reward, truncated, last = yield from self._max_and_skip(i, action)
        terminated = last.game_over
        if self.config.done_on_life_loss:  # EpisodicLife
            self._game_over[i] = last.game_over or truncated
            terminated = last.game_over or 0 < last.lives < self._lives[i]
            self._lives[i] = last.lives
        if not (terminated or truncated):
            return obs, reward, terminated, truncated, None
        first = yield from self._reset(i, last if last.game_over else None, None)
        return first, reward, terminated, truncated, obs

    # -- gymnasium's VectorEnv ---------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        """(N, size, size, 3) uint8 and empty infos. ``seed`` reseeds env i with seed + i; None
        continues the streams seeded at construction. ``options`` are not used (as AtariEnv's)."""
        if seed is not None:
            self._rngs = [ale_np_random(seed + i) for i in range(self.num_envs)]
        seeds = [None if seed is None else seed + i for i in range(self.num_envs)]
        return np.stack(self._run([self._reset(i, None, s) for i, s in enumerate(seeds)])), {}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        results = self._run([self._step(i, int(a)) for i, a in enumerate(actions)])
        obs, rewards, terminated, truncated, finals = zip(*results, strict=True)
        infos: dict[str, Any] = {}
        for i, final in enumerate(finals):
            if final is not None:
                infos = self._add_info(infos, {"final_obs": final, "final_info": {}}, i)
        return (np.stack(obs), np.array(rewards, dtype=np.float64), np.array(terminated, dtype=bool),
                np.array(truncated, dtype=bool), infos)

    def close_extras(self, **kwargs: Any) -> None:
        for game in self._games:
            game.close()
