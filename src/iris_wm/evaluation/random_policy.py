"""The uniformly random policy, played through the same collector and test protocol as an agent
(``iris eval --policy random``): the floor that learning curves are read against."""

from __future__ import annotations

import torch
from torch import Tensor


class RandomPolicy:
    """What the collector asks of an agent's policy, with uniform actions from its own seeded generator."""

    kind = "random"
    burn_in = 0  # no memory, so nothing to burn in
    device = torch.device("cpu")

    def __init__(self, num_actions: int, seed: int = 0) -> None:
        self.num_actions = num_actions
        self.generator = torch.Generator().manual_seed(seed)

    def eval(self) -> RandomPolicy:
        return self

    def act(self, obs: Tensor, should_sample: bool = True, temperature: float = 1.0) -> Tensor:
        return torch.randint(self.num_actions, (obs.shape[0],), generator=self.generator)

    def reset_policy(self, n: int, burn_in_frames: Tensor | None = None, mask: Tensor | None = None) -> None:
        pass  # stateless: each step's action is drawn afresh

    def reset_policy_rows(self, rows: Tensor) -> None:
        pass

    def clear_policy(self) -> None:
        pass
