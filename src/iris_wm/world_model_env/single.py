"""One imagined episode at a time as a ``gymnasium.Env``: ``WorldModelVectorEnv`` with one row,
NumPy out, and the usual single-env contract (the caller resets after an episode ends)."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np

from iris_wm.errors import IrisValueError
from iris_wm.world_model_env.vector import WorldModelVectorEnv


class WorldModelEnv(gymnasium.Env):
    """The world model of ``agent`` as a single env; the options are ``WorldModelVectorEnv``'s."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(self, agent, starts, horizon: int | None = None, observation_format: str = "uint8",
                 flush_context: bool = False, device=None, game: str | None = None,
                 render_mode: str | None = None) -> None:
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise IrisValueError(f"render_mode={render_mode!r} is unknown; use None or 'rgb_array'")
        self.vector = WorldModelVectorEnv(agent, starts, 1, horizon, observation_format, "numpy", flush_context,
                                          device, game)
        self.observation_space = self.vector.single_observation_space
        self.action_space = self.vector.single_action_space
        self.render_mode = render_mode
        self._ended = True

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        observations, infos = self.vector.reset(seed=seed, options=options)
        self._ended = False
        return observations[0], first_row(infos)

    def step(self, action):
        if self._ended:
            raise IrisValueError("the episode has ended (or never started): call reset() before step()")
        observations, rewards, terminated, truncated, _ = self.vector.step(np.asarray([action]))
        self._ended = bool(terminated[0] or truncated[0])
        return observations[0], float(rewards[0]), bool(terminated[0]), bool(truncated[0]), {}

    def render(self):
        frames = self.vector.render()
        return None if frames is None else frames[0]


def first_row(infos: dict[str, np.ndarray]) -> dict[str, Any]:
    """Vector infos -> the single env's: each key's value of row 0, where it has one."""
    return {key: value[0].item() for key, value in infos.items() if not key.startswith("_") and infos[f"_{key}"][0]}
