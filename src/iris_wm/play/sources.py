"""Frame sources that step by themselves: the agent in the real game, a person or the agent in the
world model. Each gives a ``View`` per step; the app and the headless writer only draw them.

A source has ``reset() -> View``, ``step(command) -> View``, a ``keymap`` (key name -> command)
and ``moves_alone``: whether it steps every frame even when no key is pressed.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from iris_wm.agents.base import Agent
from iris_wm.data.frames import chw_to_hwc, hwc_to_chw, to_float, to_uint8
from iris_wm.envs import EnvKind
from iris_wm.models.distributions import sample
from iris_wm.play.keymap import action_keymap
from iris_wm.play.view import View


def to_tensor(frame: np.ndarray, device: torch.device) -> Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float in [0, 1], as the models take frames."""
    return to_float(hwc_to_chw(torch.tensor(frame, device=device))).unsqueeze(0)  # a copy: may be read-only


def to_pixels(frames: Tensor) -> np.ndarray:
    """(1, 3, H, W) float in [0, 1] -> (H, W, 3) uint8."""
    return chw_to_hwc(to_uint8(frames[0])).cpu().numpy()


class Policy:
    """The agent's policy choosing one env's actions. It decides as soon as a frame arrives, so the
    header can show the critic's value of the frame on screen; ``step`` then takes that action."""

    def __init__(self, agent: Agent, temperature: float) -> None:
        self.agent, self.temperature = agent, temperature
        self.action, self.value = 0, 0.0

    def reset(self) -> None:
        self.agent.reset_policy(1)

    @torch.no_grad()
    def decide(self, seen: Tensor) -> None:
        """seen (1, 3, 64, 64) in [0, 1]: the frame as the policy sees it."""
        logits, values = self.agent.policy_step(seen, seen=True)
        self.action = int(sample(logits[0] / self.temperature))
        self.value = float(values[0])


class EpisodeCounter:
    """Step count and return of the running episode, and the View fields they fill."""

    def __init__(self, title: str, action_names: list[str]) -> None:
        self.title, self.action_names = title, action_names
        self.step, self.episode_return = 0, 0.0

    def start(self, panels: list[tuple[str, np.ndarray]], extras: dict[str, str]) -> View:
        self.step, self.episode_return = 0, 0.0
        return View(panels, self.title, 0, "-", 0.0, 0.0, False, extras)

    def advance(self, panels, action: int, reward: float, done: bool, extras: dict[str, str]) -> View:
        self.step += 1
        self.episode_return += reward
        return View(panels, self.title, self.step, self.action_names[action], reward, self.episode_return,
                     done, extras)


class RealGameSource:
    """The agent plays the real test game. With ``reconstruction`` three panels: the env kind's
    large frame (Atari: the raw 210x160 one), the 64x64 input and what the agent's policy sees of it
    (``Agent.seen_frames``). The env kind's ``describe_info`` adds to the header."""

    keymap: dict[str, int] = {}
    moves_alone = True

    def __init__(self, agent: Agent, env, env_kind: EnvKind, game: str, action_names: list[str],
                 temperature: float, reconstruction: bool) -> None:
        self.agent, self.env, self.env_kind, self.reconstruction = agent, env, env_kind, reconstruction
        self.policy = Policy(agent, temperature)
        self.episode = EpisodeCounter(f"{game} · agent in the real game", action_names)

    def reset(self) -> View:
        obs, info = self.env.reset()
        self.policy.reset()
        return self.episode.start(self._observe(obs), self._extras(info))

    def step(self, command: object = None) -> View:
        action = self.policy.action
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self.episode.advance(self._observe(obs), action, float(reward), terminated or truncated,
                                    self._extras(info))

    @torch.no_grad()
    def _observe(self, obs: np.ndarray) -> list[tuple[str, np.ndarray]]:
        seen = self.agent.seen_frames(to_tensor(obs, self.agent.device))
        self.policy.decide(seen)
        raw = self.env_kind.raw_frame(self.env)
        if not self.reconstruction:
            return [("game", raw)]
        return [(f"game {raw.shape[0]}x{raw.shape[1]}", raw), (f"input {obs.shape[0]}x{obs.shape[1]}", obs),
                ("what the agent sees", to_pixels(seen))]

    def _extras(self, info: dict) -> dict[str, str]:
        described = self.env_kind.describe_info(info) if self.env_kind.describe_info else {}
        return {"value": f"{self.policy.value:.2f}", **described}


class WorldModelSource:
    """Imagination: a person (keys -> actions, NOOP when no key) or the agent acts inside the world
    model. The real test game only supplies the first frame of each episode. The world model's
    memory restarts from the current frame when its context is full, or every ``flush_every`` steps."""

    moves_alone = True

    def __init__(self, agent: Agent, real_env, env_kind: EnvKind, game: str, action_names: list[str],
                 policy: Policy | None, flush_every: int | None) -> None:
        self.agent, self.real, self.policy, self.flush_every = agent, real_env, policy, flush_every
        self.imagination = agent.imagination()
        self.keymap = {} if policy else action_keymap(env_kind.play_keys(action_names), action_names)
        who = "agent" if policy else "you"
        self.episode = EpisodeCounter(f"{game} · {who} in the world model", action_names)

    @property
    def memory(self) -> int:
        return self.imagination.memory

    def reset(self) -> View:
        obs, _ = self.real.reset()
        frames = self.imagination.reset_from_initial_observations(to_tensor(obs, self.agent.device))
        if self.policy:
            self.policy.reset()
        return self.episode.start(self._observe(frames), self._extras())

    def step(self, command: int | None = None) -> View:
        action = self.policy.action if self.policy else (command or 0)
        frames, rewards, ends = self.imagination.step(torch.tensor([action], device=self.agent.device))
        if self.flush_every and self.memory > self.flush_every:
            self.imagination.flush_context()
        return self.episode.advance(self._observe(frames), action, float(rewards[0]), bool(ends[0]),
                                    self._extras())

    def _observe(self, frames: Tensor) -> list[tuple[str, np.ndarray]]:
        if self.policy:
            self.policy.decide(frames)  # imagined frames are what the policy sees already
        return [("imagined", to_pixels(frames))]

    def _extras(self) -> dict[str, str]:
        limit = self.imagination.context_frames
        if self.flush_every:
            limit = min(limit, self.flush_every)
        extras = {"memory": f"{self.memory}/{limit} frames"}
        return extras | ({"value": f"{self.policy.value:.2f}"} if self.policy else {})
