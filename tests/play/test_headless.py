"""--headless: the same drawn frames written to an MP4, no window, through the CLI."""

from __future__ import annotations

import imageio_ffmpeg
import numpy as np

from iris_wm import save_agent
from iris_wm.cli import main
from tests.play.conftest import TRAIN_COLORS, tiny_agent


def read_mp4(path) -> tuple[tuple[int, int], list[np.ndarray]]:
    """((width, height), frames (H, W, 3) uint8) of an MP4."""
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    width, height = meta["size"]
    return (width, height), [np.frombuffer(f, np.uint8).reshape(height, width, 3) for f in reader]


def test_a_video_of_the_agent_in_the_world_model(run_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)  # a server: no display is needed
    out = tmp_path / "imagination.mp4"
    assert main(["play", str(run_dir), "-a", "-h", "--headless", "--steps", "12", "--out", str(out),
                 "--flush-every", "3", "--device", "cpu"]) == 0
    size, frames = read_mp4(out)
    # One 64x64 panel at 480 px under a header of 3 x 3 fields (480 // 150 columns): 6+24+3*34+6 = 138 px.
    assert size == (480, 624) and len(frames) == 12
    header, panel = frames[0][:138], frames[0][144:]
    assert header.std() > 5 and panel.std() > 5  # text in the header, an imagined frame below it
    assert not np.array_equal(frames[1][144:], frames[6][144:])  # imagination moves on


def test_a_video_of_saved_episodes_plays_through_them(run_dir, tmp_path):
    out = tmp_path / "episodes.mp4"
    assert main(["play", str(run_dir), "-e", "--headless", "--steps", "14", "--out", str(out), "--height", "64"]) == 0
    size, frames = read_mp4(out)
    assert size == (64, 64) and len(frames) == 14
    center = [tuple(frame[40, 40].astype(int)) for frame in frames]
    red, green, _ = TRAIN_COLORS
    # Twelve frames of train episode 0, then episode 1 (colours within the codec's error).
    assert all(np.abs(np.subtract(c, red)).max() < 30 for c in center[:12])
    assert all(np.abs(np.subtract(c, green)).max() < 30 for c in center[12:])


def test_a_checkpoint_outside_a_run_folder_plays_the_game_named_with_env(tmp_path, capsys):
    checkpoint = save_agent(tiny_agent(), tmp_path / "checkpoint")
    out = tmp_path / "game.mp4"
    assert main(["play", str(checkpoint), "-r", "--headless", "--steps", "3", "--out", str(out),
                 "--env", "Breakout", "--height", "96", "--device", "cpu"]) == 0
    size, frames = read_mp4(out)
    assert size == (288, 96) and len(frames) == 3  # 73 + 4 + 96 + 4 + 96 = 273 px, in whole macro-blocks
