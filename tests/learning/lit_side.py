"""A pixel task that a policy learns in minutes, for the learning regression test: each step lights the left
or the right half of the frame, and pressing that side (action 0: left, 1: right) earns +1; an episode is
8 steps. The random policy's return is 4 on average, the best one's 8. A world model learns it only if its
reward head ties the reward to the frame and the action, and a policy only from the world model's rewards.

Registered with gymnasium as ``LitSide-v0`` when imported (``env.import_module=tests.learning.lit_side``)."""

import gymnasium
import numpy as np

STEPS = 8


class LitSide(gymnasium.Env):
    observation_space = gymnasium.spaces.Box(0, 255, (64, 64, 3), np.uint8)
    action_space = gymnasium.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.side = 0, int(self.np_random.integers(2))
        return self.frame(), {}

    def step(self, action):
        reward = float(int(action) == self.side)
        self.t += 1
        self.side = int(self.np_random.integers(2))
        return self.frame(), reward, False, self.t >= STEPS, {}

    def frame(self) -> np.ndarray:
        frame = np.full((64, 64, 3), 40, np.uint8)
        frame[:, 32 * self.side: 32 * (self.side + 1)] = (250, 220, 60)
        return frame


if "LitSide-v0" not in gymnasium.registry:
    gymnasium.register("LitSide-v0", entry_point=LitSide)
