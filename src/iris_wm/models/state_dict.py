"""Copying a state dict into a module with errors a user can act on."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from torch import Tensor, nn

from iris_wm.errors import IrisError


def load_state_strict(module: nn.Module, state: Mapping[str, Tensor], source: Path | str) -> None:
    """Copy ``state`` into ``module``; the first missing, unexpected or mis-shaped key is named."""
    check_keys_and_shapes(module.state_dict(), state, source)
    module.load_state_dict(dict(state), strict=True)


def check_keys_and_shapes(expected: Mapping[str, Tensor], state: Mapping[str, Tensor], source: Path | str) -> None:
    """``state`` has exactly ``expected``'s keys, with its shapes; else the first wrong key is named."""
    for key, tensor in expected.items():
        if key not in state:
            raise IrisError(f"{source}: missing tensor '{key}'; the file is truncated or from another model")
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise IrisError(f"{source}: tensor '{key}' has shape {tuple(state[key].shape)}, expected "
                            f"{tuple(tensor.shape)}; the file is from a differently configured model")
    for key in state:
        if key not in expected:
            raise IrisError(f"{source}: unexpected tensor '{key}'; the file is from another model or version")
