"""The authors' initialisation of transformer-era modules (IRIS's world model, Δ-IRIS's tokenizer
and world model)."""

from __future__ import annotations

from torch import nn


def init_weights(module: nn.Module) -> None:
    """N(0, 0.02) linear and embedding weights, zero linear biases, unit LayerNorms; convolutions and
    GroupNorms keep PyTorch's defaults. Use as ``module.apply(init_weights)``."""
    if isinstance(module, nn.Linear | nn.Embedding):
        module.weight.data.normal_(mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            module.bias.data.zero_()
    elif isinstance(module, nn.LayerNorm):
        module.bias.data.zero_()
        module.weight.data.fill_(1.0)
