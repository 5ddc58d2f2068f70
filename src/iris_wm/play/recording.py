"""Clips: the views of a recording (or of an episode kept in save mode) written as an MP4 of what
the window showed, plus an ``.npz`` of the main frames at their native size and the step facts.

Views, not drawn canvases, are kept while recording: a 210x160 frame is ~100 kB where a drawn
canvas is a few MB, and the canvases are drawn again, by the same function, when the clip is saved.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from iris_wm.atomic import atomic_write
from iris_wm.media import encode_mp4
from iris_wm.play.render import Layout, render
from iris_wm.play.view import View


def new_stem(directory: Path, prefix: str) -> Path:
    """``directory/<prefix>_<date>_<time>``, with a counter when that name is taken."""
    stem = directory / f"{prefix}_{time.strftime('%Y-%m-%d_%H-%M-%S')}"
    candidate, n = stem, 1
    while candidate.with_suffix(".mp4").exists():
        candidate, n = stem.with_name(f"{stem.name}_{n}"), n + 1
    return candidate


def write_video(path: Path, views, layout: Layout, fps: int) -> int:
    """Draw each view and encode them as an MP4 at ``path``; ``views`` may be a generator. Returns
    the number of frames written."""
    count = 0

    def canvases():
        nonlocal count
        for view in views:
            count += 1
            yield render(view, layout)

    atomic_write(path, lambda tmp: encode_mp4(tmp, canvases(), layout.size, fps))
    return count


def save_clip(views: list[View], layout: Layout, fps: int, stem: Path) -> Path:
    """``stem.mp4`` (drawn as displayed) and ``stem.npz``: frames (T, H, W, 3) uint8, the main panel
    at native size; actions (T,) names; rewards (T,) float32; dones (T,) bool. Returns the MP4's path."""
    path = stem.with_suffix(".mp4")
    write_video(path, views, layout, fps)
    arrays = {"frames": np.stack([view.frame for view in views]),
              "actions": np.array([view.action for view in views]),  # unicode, loads without pickle
              "rewards": np.array([view.reward for view in views], dtype=np.float32),
              "dones": np.array([view.done for view in views])}

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: given a name, np.savez would append ".npz"
            np.savez_compressed(f, **arrays)

    atomic_write(stem.with_suffix(".npz"), write)
    return path
