"""What every environment family does to its frames: one resize, the paper's."""

from __future__ import annotations

import numpy as np
from PIL import Image


def resize_frame(frame: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) uint8 → (size, size, 3) uint8 with PIL's bilinear filter (antialiased when
    shrinking, so each pixel averages the area it covers), exactly as the original IRIS."""
    return np.asarray(Image.fromarray(frame).resize((size, size), Image.Resampling.BILINEAR))
