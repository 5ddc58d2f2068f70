"""Categorical distributions over logits, without argument validation.

Validation checks the logits with a Python ``if`` on a tensor: a host sync per call, i.e. one per
sampled token of imagination on a GPU. Our logits come from our own networks; results are the same.
"""

from __future__ import annotations

from torch import Tensor
from torch.distributions import Categorical


def categorical(logits: Tensor) -> Categorical:
    return Categorical(logits=logits, validate_args=False)


def sample(logits: Tensor) -> Tensor:
    """logits (..., n) -> (...) sampled indices, temperature 1, no top-k (as the original)."""
    return categorical(logits).sample()
