"""Symlog and two-hot encodings: rewards and returns of any scale as a distribution over fixed bins
(Δ-IRIS's Crafter reward head and critic; docs/delta-iris.md).

A scalar x becomes symlog(x), spread over the two neighbouring bins of 255 evenly spaced ones in
[-20, 20] so that the expectation over the bins is symlog(x) again; a prediction is read back as
symexp of the expected bin value.
"""

from __future__ import annotations

import torch
from torch import Tensor

NUM_BINS = 255
BIN_RANGE = 20.0


def symlog(x: Tensor) -> Tensor:
    return x.sign() * x.abs().log1p()


def symexp(x: Tensor) -> Tensor:
    return x.sign() * x.abs().expm1()


def bins(device: torch.device | None = None, dtype: torch.dtype = torch.float32) -> Tensor:
    """(255,) bin centres, -20 to 20."""
    return torch.linspace(-BIN_RANGE, BIN_RANGE, NUM_BINS, device=device, dtype=dtype)


def two_hot(x: Tensor) -> Tensor:
    """x (...) already in symlog space -> (..., 255) weights on the two bins around it, summing to 1."""
    centres = bins(x.device, x.dtype)
    x = x.clamp(-BIN_RANGE, BIN_RANGE - 1e-5)  # the top bin has no right neighbour
    below = torch.bucketize(x, centres, right=True) - 1  # index of the largest centre <= x
    low, high = centres[below], centres[below + 1]
    weight_high = (x - low) / (high - low)
    out = torch.zeros(*x.shape, NUM_BINS, device=x.device, dtype=x.dtype)
    out.scatter_(-1, below.unsqueeze(-1), (1 - weight_high).unsqueeze(-1))
    out.scatter_(-1, (below + 1).unsqueeze(-1), weight_high.unsqueeze(-1))
    return out


def symlog_two_hot(x: Tensor) -> Tensor:
    """Targets for a scalar x (...) of any scale -> (..., 255)."""
    return two_hot(symlog(x))


def expected_value(logits: Tensor) -> Tensor:
    """(..., 255) logits -> (...) the scalar they predict: symexp of the expected bin."""
    centres = bins(logits.device, torch.promote_types(logits.dtype, torch.float32))
    return symexp(logits.float().softmax(dim=-1) @ centres)
