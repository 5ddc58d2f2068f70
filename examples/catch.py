"""Catch: a ball falls down an 8x8 grid; move the paddle under it (actions: left, stay, right).
Reward 1 for a catch at the 7th step, when the episode ends. A random policy catches about 1 in 5."""

import gymnasium as gym
import numpy as np


class Catch(gym.Env):
    observation_space = gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)
    action_space = gym.spaces.Discrete(3)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.ball, self.row, self.paddle = int(self.np_random.integers(8)), 0, 4
        return self.frame(), {}

    def step(self, action):
        self.paddle = int(np.clip(self.paddle + int(action) - 1, 0, 7))
        self.row += 1
        done = self.row == 7
        return self.frame(), float(done and self.ball == self.paddle), done, False, {}

    def frame(self):
        cells = np.zeros((8, 8, 3), np.uint8)
        cells[self.row, self.ball] = 255
        cells[7, self.paddle] = (0, 255, 0)
        return cells.repeat(8, axis=0).repeat(8, axis=1)


gym.register("Catch-v0", entry_point=Catch)
