"""Δ-IRIS's vector quantizer: cosine similarity to an EMA codebook, with dead-code revival
(docs/delta-iris.md, 'Tokenizer').

The codebook is not learned by gradient. Every training forward moves each used code towards the
mean direction of the vectors assigned to it (EMA 0.99), tracks how often each code is used
(EMA 0.98), and, while the usage entropy is low, re-seeds codes that fell out of use with vectors
of the current batch. Only the commitment term reaches the encoder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

CODEBOOK_DECAY = 0.99
FREQUENCY_DECAY = 0.98
COMMITMENT_WEIGHT = 0.02


@dataclass
class QuantizerOutput:
    tokens: Tensor  # (..., ) int64 code indices
    q: Tensor  # (..., input_dim): post-projected codes, straight-through to the encoder in training
    commitment_loss: Tensor  # scalar
    metrics: dict[str, Tensor]  # codewords_revived, codebook_entropy (training forwards only)


class Quantizer(nn.Module):
    def __init__(self, codebook_size: int, codebook_dim: int, input_dim: int,
                 max_codebook_updates_with_revival: int | None) -> None:
        super().__init__()
        self.max_codebook_updates_with_revival = max_codebook_updates_with_revival
        # Registration order = the authors' checkpoint key order.
        self.register_buffer("num_codebook_updates", torch.tensor(0))
        self.register_buffer("codebook", torch.empty(codebook_size, codebook_dim).uniform_(
            -1 / codebook_size, 1 / codebook_size))
        self.register_buffer("codewords_freqs", torch.full((codebook_size,), 1 / codebook_size))
        self.pre_quant_proj = nn.Linear(input_dim, codebook_dim)
        self.post_quant_proj = nn.Linear(codebook_dim, input_dim)

    @property
    def codebook_size(self) -> int:
        return self.codebook.shape[0]

    def forward(self, z: Tensor) -> QuantizerOutput:
        """z (..., input_dim) -> tokens (...), straight-through codes (..., input_dim)."""
        e = F.normalize(self.pre_quant_proj(z), dim=-1)  # (..., D), unit length
        tokens = (e @ self.codebook.t()).argmax(dim=-1)  # nearest code by cosine similarity
        q = self.codebook[tokens]  # (..., D), the codebook before this step's update
        commitment_loss = COMMITMENT_WEIGHT * (e - q.detach()).pow(2).mean()
        metrics = self.update_codebook(e.detach().flatten(0, -2), tokens.flatten()) if self.training else {}
        q = e + (q - e).detach()
        return QuantizerOutput(tokens, self.post_quant_proj(q), commitment_loss, metrics)

    def embed_tokens(self, tokens: Tensor) -> Tensor:
        """tokens (...) -> (..., input_dim): what the decoder reads for them."""
        return self.post_quant_proj(self.codebook[tokens])

    @torch.no_grad()
    def update_codebook(self, e: Tensor, tokens: Tensor) -> dict[str, Tensor]:
        """One EMA step from a batch of unit vectors e (N, D) assigned to ``tokens`` (N,)."""
        n, size = e.shape[0], self.codebook_size
        e = e.to(self.codebook.dtype)
        counts = torch.bincount(tokens, minlength=size).to(e.dtype)  # (C,)
        sums = torch.zeros_like(self.codebook).index_add_(0, tokens, e)
        means = F.normalize(sums / counts.clamp(min=1).unsqueeze(1), dim=-1)  # unused codes: zero vectors
        self.codebook.mul_(CODEBOOK_DECAY).add_(means, alpha=1 - CODEBOOK_DECAY)
        self.codewords_freqs.mul_(FREQUENCY_DECAY).add_(counts / n, alpha=1 - FREQUENCY_DECAY)
        entropy = usage_entropy(self.codewords_freqs)
        revived = self.revive_dead_codes(e, entropy) if self.may_revive(entropy) else torch.zeros(())
        self.codebook.copy_(F.normalize(self.codebook, dim=-1))
        self.num_codebook_updates += 1
        return {"codewords_revived": revived, "codebook_entropy": entropy}

    def may_revive(self, entropy: Tensor) -> bool:
        """Revival is allowed for the first ``max_codebook_updates_with_revival`` updates (always when
        None), and afterwards only when usage has collapsed below 1 bit."""
        limit = self.max_codebook_updates_with_revival
        if limit is None or int(self.num_codebook_updates) < limit:
            return True
        return bool(entropy < 1)

    def revive_dead_codes(self, e: Tensor, entropy: Tensor) -> Tensor:
        """Re-seed codes used less than a tenth of uniform usage with distinct random batch vectors,
        when the usage entropy is more than 2 bits below its maximum. Returns how many were dead."""
        size = self.codebook_size
        if entropy >= math.log2(size) - 2:
            return torch.zeros(())
        dead = torch.nonzero(self.codewords_freqs < 1 / (10 * size)).squeeze(1)
        chosen = dead[torch.randperm(len(dead), device=dead.device)][: e.shape[0]]
        self.codebook[chosen] = e[torch.randperm(e.shape[0], device=e.device)[: len(chosen)]]
        self.codewords_freqs[chosen] = 1 / size
        return torch.tensor(float(len(dead)))


def usage_entropy(freqs: Tensor) -> Tensor:
    """Entropy in bits of the usage frequencies (zero ones contribute nothing)."""
    p = freqs[freqs > 0]
    return -(p * p.log2()).sum()
