"""What one displayed frame shows: the images side by side and the header's facts."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class View:
    panels: list[tuple[str, np.ndarray]]  # (caption, (H, W, 3) uint8 at native size), left to right
    title: str  # first header line, e.g. "Breakout · agent in the real game"
    step: int  # steps since the episode began; 0 on its first frame
    action: str  # the action that led to this frame ("-" on an episode's first frame)
    reward: float  # the reward that action received
    episode_return: float  # rewards summed up to and including this step
    done: bool  # the episode ended with this step
    extras: dict[str, str] = field(default_factory=dict)  # mode-specific header fields, same keys every frame

    @property
    def frame(self) -> np.ndarray:
        """The main image, (H, W, 3) uint8: what a recording's .npz keeps."""
        return self.panels[0][1]
