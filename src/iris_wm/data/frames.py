"""What happens to a frame on its way from an env to a model and back, in one place.

Envs give (H, W, 3) uint8 images, resized here. From the collector on, frames are (3, H, W):
stored as uint8, given to the models as float in [0, 1] (k / 255), and turned back into uint8
when stored or shown. No other module multiplies or divides frames by 255
(tests/data/test_frames.py checks), so that every site rounds the same way, or says why not.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch import Tensor

Frames = np.ndarray | Tensor


def resize_frame(frame: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) uint8 → (size, size, 3) uint8 with PIL's bilinear filter (antialiased when
    shrinking, so each pixel averages the area it covers), exactly as the original IRIS."""
    return np.asarray(Image.fromarray(frame).resize((size, size), Image.Resampling.BILINEAR))


def hwc_to_chw(frames: Frames) -> Frames:
    """(..., H, W, 3) as envs give them -> (..., 3, H, W) as the models take them; a view."""
    return np.moveaxis(frames, -1, -3) if isinstance(frames, np.ndarray) else frames.movedim(-1, -3)


def chw_to_hwc(frames: Frames) -> Frames:
    """(..., 3, H, W) -> (..., H, W, 3) as images are shown and saved; a view."""
    return np.moveaxis(frames, -3, -1) if isinstance(frames, np.ndarray) else frames.movedim(-3, -1)


def to_float(frames: Tensor) -> Tensor:
    """uint8 (...) -> float32 (...) in [0, 1]: k becomes k / 255."""
    assert frames.dtype == torch.uint8, frames.dtype  # so .float() copies and dividing in place is safe
    return frames.float().div_(255)


def to_uint8(frames: Tensor) -> Tensor:
    """float (...) -> uint8 (...): clamped to [0, 1], then rounded to the nearest of the 256
    levels (ties to even). The clamp keeps a frame a little out of range from wrapping around;
    frames in range are unchanged by it, so the round trip to_uint8(to_float(x)) is x."""
    return frames.clamp(0, 1).mul(255).round().to(torch.uint8)


def to_uint8_truncated(frames: Tensor) -> Tensor:
    """float (...) -> uint8 (...): clamped to [0, 1], then truncated (x * 255 rounded down).
    The original IRIS stores its imagined frames so, kept for faithfulness: elsewhere, use
    to_uint8."""
    return frames.clamp(0, 1).mul(255).to(torch.uint8)


def quantize(frames: Tensor) -> Tensor:
    """float (...) -> float (...), the frame as it would be stored: clamped to [0, 1] and rounded to
    the 256 uint8 levels, staying float (Δ-IRIS's decoder quantizes its frames so)."""
    return frames.clamp(0, 1).mul(255).round().div(255)
