"""A training loss together with its named terms, shared by every component's ``compute_loss``."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass
class Losses:
    total: Tensor  # scalar, with grad: what the optimizer steps on
    terms: dict[str, Tensor]  # name -> detached scalar, for logging

    @classmethod
    def from_terms(cls, **terms: Tensor) -> Losses:
        """Sum the named scalar terms; keep detached copies so logging holds no graph alive.

        The terms stay tensors (no ``.item()``): reading them on the host is the logger's choice,
        so a training step on the GPU never waits for it.
        """
        assert len(terms) > 0, "a loss needs at least one term"  # len(): torch.compile cannot assert on a dict
        total = sum(terms.values())
        return cls(total=total, terms={name: term.detach() for name, term in terms.items()})

    def with_metrics(self, **metrics: Tensor) -> Losses:
        """Also log ``metrics`` (scalars that are not part of the total), e.g. a codebook's usage."""
        return Losses(total=self.total, terms=self.terms | {name: value.detach() for name, value in metrics.items()})
