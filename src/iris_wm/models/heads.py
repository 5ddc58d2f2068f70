"""Prediction heads that read chosen positions of each block of a token sequence (the world models'
observation / latent, reward and end heads)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Head(nn.Module):
    """An MLP applied to the positions of a chunk whose in-block index is in ``block_positions``."""

    def __init__(self, block_positions: list[int], tokens_per_block: int, embed_dim: int, out_dim: int) -> None:
        super().__init__()
        self.block_positions = frozenset(block_positions)
        self.tokens_per_block = tokens_per_block
        self.head_module = nn.Sequential(nn.Linear(embed_dim, embed_dim), nn.ReLU(), nn.Linear(embed_dim, out_dim))
        self._indices: dict[tuple[int, int, torch.device], Tensor] = {}

    def indices(self, start: int, length: int, device: torch.device) -> Tensor:
        """Offsets within the chunk [start, start+length) that this head reads; built once per chunk
        geometry in Python so that selecting them never waits on the device."""
        key = (start, length, device)
        if torch.compiler.is_compiling():
            # A constant of the compiled graph; filling the dict would add a guard on its keys, and
            # a recompile on the next call.
            return self._offsets(start, length, device)
        if key not in self._indices:
            self._indices[key] = self._offsets(start, length, device)
        return self._indices[key]

    def _offsets(self, start: int, length: int, device: torch.device) -> Tensor:
        offsets = [i for i in range(length) if (start + i) % self.tokens_per_block in self.block_positions]
        return torch.tensor(offsets, dtype=torch.long, device=device)

    def forward(self, x: Tensor, start: int) -> Tensor:
        """x (B, T, E) -> (B, n, out) for the n positions this head reads."""
        return self.head_module(x[:, self.indices(start, x.shape[1], x.device)])
