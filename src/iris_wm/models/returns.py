"""λ-returns: the actor-critic's targets over an imagined trajectory (docs/algorithm.md, 'Actor-critic')."""

from __future__ import annotations

import torch
from torch import Tensor


@torch.no_grad()
def compute_lambda_returns(
    rewards: Tensor, values: Tensor, ends: Tensor, gamma: float, lambda_: float
) -> Tensor:
    """G_t = r_t + gamma (1 - d_t) [(1 - lambda) V_{t+1} + lambda G_{t+1}] for t < H-1; G_{H-1} = V_{H-1}.

    rewards, values: (B, H) float; ends: (B, H) bool (the sampled end flag of each step).
    Returns G: (B, H), without grad: returns are targets, never a path for gradients.
    The last step's reward is unused: G_{H-1} bootstraps from the value alone.
    Computed in at least float32 so that bf16 values do not round the targets.
    """
    assert rewards.ndim == 2 and rewards.shape == values.shape == ends.shape, "expected (B, H) tensors"
    dtype = torch.promote_types(values.dtype, torch.float32)
    rewards, values = rewards.to(dtype), values.to(dtype)
    continues = ends.logical_not().to(dtype)  # 1 - d_t: an end stops the bootstrap

    returns = torch.empty_like(values)
    returns[:, -1] = values[:, -1]
    for t in reversed(range(values.size(1) - 1)):
        blended = (1 - lambda_) * values[:, t + 1] + lambda_ * returns[:, t + 1]  # (B,)
        returns[:, t] = rewards[:, t] + gamma * continues[:, t] * blended
    return returns
