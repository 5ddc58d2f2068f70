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

import numpy as np

from iris_wm.envs.crafter.score import ACHIEVEMENTS
from iris_wm.envs.crafter.settings import CrafterConfig, resolve_task_id
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
