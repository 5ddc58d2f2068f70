"""One function draws a displayed frame: the window blits it, headless runs and recordings encode it.

The canvas holds the panels side by side, each scaled (nearest neighbour, so pixels stay sharp)
to one height, under an optional header with the step, action, reward, return and done flag.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from iris_wm.media import DIM, MACRO_BLOCK, NEGATIVE, PANEL_BACKGROUND, POSITIVE, TEXT, TITLE
from iris_wm.play.view import View

GAP = 4  # px between panels
MARGIN = 6
TITLE_HEIGHT = 24
CAPTION_HEIGHT = 16
CELL = (128, 34)  # one header field: a small label over its value; fits "DOWNRIGHTFIRE"
STATUS_COLOR = NEGATIVE  # recording, paused, the save question: red catches the eye


@functools.cache
def font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


class Layout:
    """Where everything goes, fixed for a session from its first view so the window and the video
    keep one size. The canvas is padded to whole 16 px macro-blocks: H.264 then needs no rescale."""

    def __init__(self, view: View, height: int, header: bool) -> None:
        self.header = header
        self.panel_sizes = [(max(1, round(pixels.shape[1] * height / pixels.shape[0])), height)
                            for _, pixels in view.panels]
        width = sum(w for w, _ in self.panel_sizes) + GAP * (len(self.panel_sizes) - 1)
        self.columns = max(1, width // CELL[0])
        rows = math.ceil((5 + len(view.extras)) / self.columns)
        captions = CAPTION_HEIGHT if len(view.panels) > 1 else 0
        self.top = MARGIN + TITLE_HEIGHT + rows * CELL[1] + captions + MARGIN if header else 0
        self.size = (_round_up(width), _round_up(self.top + height))  # (width, height)


def _round_up(size: int) -> int:
    return -(-size // MACRO_BLOCK) * MACRO_BLOCK


def render(view: View, layout: Layout, status: str = "") -> np.ndarray:
    """The displayed frame, (H, W, 3) uint8. ``status`` (e.g. "● REC") is drawn in red at the top."""
    image = Image.new("RGB", layout.size, PANEL_BACKGROUND)
    x = 0
    for (_, pixels), size in zip(view.panels, layout.panel_sizes, strict=True):
        image.paste(Image.fromarray(pixels).resize(size, Image.Resampling.NEAREST), (x, layout.top))
        x += size[0] + GAP
    draw = ImageDraw.Draw(image)
    if layout.header:
        _draw_header(draw, view, layout)
    if status:
        _draw_status(draw, status, layout)
    return np.asarray(image)


def header_fields(view: View) -> list[tuple[str, str, tuple[int, int, int]]]:
    """(label, value, colour) of each header field, in order."""
    reward_color = POSITIVE if view.reward > 0 else NEGATIVE if view.reward < 0 else TEXT
    fields = [("step", str(view.step), TEXT), ("action", view.action, TEXT),
              ("reward", f"{view.reward:+.2f}", reward_color), ("return", f"{view.episode_return:.2f}", TEXT),
              ("done", "yes" if view.done else "no", NEGATIVE if view.done else TEXT)]
    return fields + [(label, value, TEXT) for label, value in view.extras.items()]


def _draw_header(draw: ImageDraw.ImageDraw, view: View, layout: Layout) -> None:
    draw.text((MARGIN, MARGIN), view.title, fill=TITLE, font=font(16))
    for i, (label, value, color) in enumerate(header_fields(view)):
        row, column = divmod(i, layout.columns)
        x, y = MARGIN + column * CELL[0], MARGIN + TITLE_HEIGHT + row * CELL[1]
        draw.text((x, y), label, fill=DIM, font=font(11))
        draw.text((x, y + 12), value, fill=color, font=font(14))
    if len(view.panels) > 1:
        x = 0
        for (caption, _), (width, _) in zip(view.panels, layout.panel_sizes, strict=True):
            draw.text((x + MARGIN, layout.top - CAPTION_HEIGHT - 2), caption, fill=DIM, font=font(11))
            x += width + GAP


def _draw_status(draw: ImageDraw.ImageDraw, status: str, layout: Layout) -> None:
    """Top right on a dark box, over the end of a long title or the frame's corner."""
    text_width = draw.textlength(status, font=font(16))
    x = max(MARGIN, layout.size[0] - MARGIN - text_width)
    draw.rectangle((x - MARGIN, 0, layout.size[0], TITLE_HEIGHT + MARGIN), fill=PANEL_BACKGROUND)
    draw.text((x, MARGIN), status, fill=STATUS_COLOR, font=font(16))
