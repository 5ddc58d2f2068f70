"""Device choice: ``auto`` takes CUDA when present; nothing in the project hard-codes a device."""

from __future__ import annotations

import torch

from iris_wm.errors import IrisError


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise IrisError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise IrisError(f"device {device!r} was asked for but CUDA is not available; use device=cpu or auto")
    return resolved
