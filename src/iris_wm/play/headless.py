"""``--headless``: the same drawn frames as the window, written to an MP4 without opening one."""

from __future__ import annotations

from pathlib import Path

from iris_wm.play.recording import write_video
from iris_wm.play.render import Layout


def write_headless(source, out: Path, steps: int, *, fps: int, height: int, header: bool) -> int:
    """``steps`` frames of a source that needs no person: the first of an episode, then one per step;
    a finished episode restarts as in the window. Returns the number of frames written."""
    first = source.reset()
    layout = Layout(first, height, header)

    def views():
        view = first
        yield view
        for _ in range(steps - 1):
            # The browser plays on through its episodes; a live episode that ended restarts.
            view = source.reset() if view.done and source.moves_alone else source.step(None)
            yield view

    return write_video(out, views(), layout, fps)
