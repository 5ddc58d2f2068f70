"""Categorical distributions over logits, without argument validation.

Validation checks the logits with a Python ``if`` on a tensor: a host sync per call, i.e. one per
sampled token of imagination on a GPU. Our logits come from our own networks; results are the same.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.distributions import Categorical


def categorical(logits: Tensor) -> Categorical:
    return Categorical(logits=logits, validate_args=False)


def sample(logits: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """logits (..., n) -> (...) sampled indices, temperature 1, no top-k (as the original). With a
    ``generator`` the draw is ``Categorical.sample``'s own (one multinomial over the flattened rows),
    from that generator instead of torch's global one: from equal seeds, equal indices."""
    distribution = categorical(logits)
    if generator is None:
        return distribution.sample()
    probs = distribution.probs
    return torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1, True, generator=generator).view(probs.shape[:-1])
