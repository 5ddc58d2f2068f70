"""Scripted input and what the window shows."""

from __future__ import annotations

import numpy as np
import pygame


def press(*keys: int) -> None:
    """Queue key-down events, as a person's key presses arrive."""
    for key in keys:
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key))


def shown(app) -> np.ndarray:
    """The window's pixels, (H, W, 3) uint8."""
    return pygame.surfarray.array3d(app.screen).transpose(1, 0, 2)


def panel_pixel(app, x: int, y: int) -> tuple[int, ...]:
    """The window's pixel at (x, y) of the first panel's own frame (before upscaling)."""
    width, height = app.layout.panel_sizes[0]
    frame_h, frame_w = app.view.frame.shape[:2]
    return tuple(int(v) for v in shown(app)[app.layout.top + y * height // frame_h, x * width // frame_w])
