"""One optimizer per training phase: Adam, or AdamW with decay groups; a constant learning rate."""

from __future__ import annotations

import torch
from torch import nn


def decay_groups(module: nn.Module, weight_decay: float) -> list[dict]:
    """minGPT's rule: decay the weights of linear and 1-D convolution layers; not biases, LayerNorm
    or embedding weights. Parameters sorted by name within each group, as the original."""
    decayed = {f"{name}.weight" for name, m in module.named_modules() if isinstance(m, nn.Linear | nn.Conv1d)}
    params = {name: p for name, p in module.named_parameters() if p.requires_grad}
    decay = sorted(name for name in params if name in decayed)
    no_decay = sorted(name for name in params if name not in decayed)
    return [{"params": [params[n] for n in decay], "weight_decay": weight_decay},
            {"params": [params[n] for n in no_decay], "weight_decay": 0.0}]


def make_optimizer(module: nn.Module, learning_rate: float, weight_decay: float,
                   fused: bool | None = None) -> torch.optim.Optimizer:
    """Adam when the phase has no weight decay, AdamW with decay groups when it has. Frozen
    parameters (LPIPS) are left out. ``fused`` steps every parameter in one kernel; None (auto)
    fuses on CUDA only: the CPU's fused kernel is not measured yet, so not chosen."""
    if fused is None:
        fused = next(module.parameters()).is_cuda
    options = {"fused": True} if fused else {}
    if weight_decay > 0:
        return torch.optim.AdamW(decay_groups(module, weight_decay), lr=learning_rate, **options)
    return torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=learning_rate, **options)


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict) -> None:
    """A checkpoint's optimizer state, stepped by this run's kernel: torch restores a saved group's
    ``fused`` flag with its numbers, which would silently undo a resumed run's kernel choice."""
    for group, saved in zip(optimizer.param_groups, state["param_groups"], strict=True):
        saved["fused"] = group.get("fused")
    optimizer.load_state_dict(state)
