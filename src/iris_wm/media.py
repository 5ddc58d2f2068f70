"""Pictures of a run: reconstruction grids (PNG) and annotated episode videos (MP4).

Frames arrive as stored, uint8 (3, H, W). Every file is written atomically, so a crash never
leaves a truncated image or video behind.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from iris_wm.atomic import atomic_write
from iris_wm.data.episode import Episode
from iris_wm.data.frames import chw_to_hwc
from iris_wm.errors import IrisError

FRAME_GAP = 2  # px between neighbouring frames, and between a real row and its reconstruction row
SAMPLE_GAP = 8  # px between samples, wider so the (real, reconstruction) pairs read as units
GRID_BACKGROUND = (200, 200, 200)  # light grey: visible against the mostly dark game frames

MACRO_BLOCK = 16  # H.264 encodes 16x16 blocks; padding to it avoids ffmpeg's implicit rescale
PANEL_WIDTH = 60  # side panel width in units of `scale` (the frame is 64): fits "make_stone_pickaxe"
PANEL_BACKGROUND = (24, 24, 24)
TEXT = (230, 230, 230)
DIM = (120, 120, 120)
TITLE = (250, 200, 80)
POSITIVE = (90, 210, 90)
NEGATIVE = (230, 90, 90)


def save_reconstructions(path: Path, originals: np.ndarray, reconstructions: np.ndarray) -> None:
    """Write one PNG: per sample, its T real frames in a row (each one's previous frame on its left),
    their reconstructions below, and below those the difference, white where they agree
    (255 - the mean over channels of |frame - reconstruction|).

    originals, reconstructions: (N, T, 3, H, W) uint8.
    """
    assert originals.shape == reconstructions.shape and originals.ndim == 5, (originals.shape, reconstructions.shape)
    assert originals.dtype == reconstructions.dtype == np.uint8
    grid = _reconstruction_grid(originals, reconstructions)
    atomic_write(path, lambda tmp: Image.fromarray(grid).save(tmp, format="PNG"))


def difference_frames(originals: np.ndarray, reconstructions: np.ndarray) -> np.ndarray:
    """(..., 3, H, W) uint8 pairs -> (..., 3, H, W) uint8 grey frames, white where they agree."""
    gap = np.abs(originals.astype(np.int16) - reconstructions.astype(np.int16)).mean(axis=-3, keepdims=True)
    return np.repeat((255 - gap).round().astype(np.uint8), 3, axis=-3)


def _reconstruction_grid(originals: np.ndarray, reconstructions: np.ndarray) -> np.ndarray:
    n, t, _, h, w = originals.shape
    rows = (originals, reconstructions, difference_frames(originals, reconstructions))
    sample_height = len(rows) * h + (len(rows) - 1) * FRAME_GAP
    grid = np.empty((n * sample_height + (n - 1) * SAMPLE_GAP, t * w + (t - 1) * FRAME_GAP, 3), np.uint8)
    grid[:] = GRID_BACKGROUND
    for sample in range(n):
        top = sample * (sample_height + SAMPLE_GAP)
        for row, frames in enumerate(frames[sample] for frames in rows):
            y = top + row * (h + FRAME_GAP)
            for step in range(t):
                x = step * (w + FRAME_GAP)
                grid[y : y + h, x : x + w] = chw_to_hwc(frames[step])
    return grid


def write_episode_video(
    path: Path,
    frames: np.ndarray,
    rewards: np.ndarray,
    actions: np.ndarray | None = None,
    action_names: list[str] | None = None,
    fps: int = 15,
    scale: int = 4,
    title: str = "",
) -> None:
    """Write an MP4: each frame upscaled (nearest) beside a panel with step, action, reward and return.

    frames: (T, 3, H, W) uint8; rewards: (T,), rewards[t] follows actions[t] taken on frames[t],
    so frame t's panel shows that step's action, its reward and the return up to and including it.
    """
    steps = len(frames)
    assert frames.ndim == 4 and frames.shape[1] == 3 and frames.dtype == np.uint8, (frames.shape, frames.dtype)
    assert steps > 0 and np.shape(rewards) == (steps,), (np.shape(rewards), steps)
    assert actions is None or np.shape(actions) == (steps,), np.shape(actions)
    rewards = np.asarray(rewards, dtype=np.float64)
    panel = _Panel(frames.shape[2] * scale, PANEL_WIDTH * scale, scale, title, np.cumsum(rewards))
    labels = [_action_label(actions, action_names, t) for t in range(steps)]

    height, width = _round_up(panel.height), _round_up(frames.shape[3] * scale + panel.width)

    def canvases():
        for t in range(steps):
            canvas = np.empty((height, width, 3), np.uint8)
            canvas[:] = PANEL_BACKGROUND  # also fills the padding up to the macro-block size
            big = chw_to_hwc(frames[t]).repeat(scale, axis=0).repeat(scale, axis=1)
            canvas[: big.shape[0], : big.shape[1]] = big
            canvas[: panel.height, big.shape[1] : big.shape[1] + panel.width] = panel.render(t, labels[t], rewards[t])
            yield canvas

    atomic_write(path, lambda tmp: encode_mp4(tmp, canvases(), (width, height), fps))


def _round_up(size: int) -> int:
    return -(-size // MACRO_BLOCK) * MACRO_BLOCK


def _action_label(actions: np.ndarray | None, action_names: list[str] | None, t: int) -> str:
    if actions is None:
        return "-"
    action = int(actions[t])
    return action_names[action] if action_names is not None else str(action)


class _Panel:
    """Draws the text column beside a frame, and the episode's return curve with the steps so far in colour."""

    def __init__(self, height: int, width: int, scale: int, title: str, returns: np.ndarray) -> None:
        self.height, self.width, self.title, self.returns = height, width, title, returns
        self.font = ImageFont.load_default(size=4 * scale)
        self.line = 6 * scale
        self.margin = 2 * scale
        self.value_x = 14 * scale  # values start in one column, past the longest label
        self.return_range = float(returns.min()), max(float(np.ptp(returns)), 1e-9)
        self.box = (self.margin, height - 16 * scale, width - self.margin, height - self.margin)
        # At most one vertex per pixel column, so long episodes stay cheap to draw every frame.
        columns = self.box[2] - self.box[0] + 1
        self.vertices = np.unique(np.linspace(0, len(returns) - 1, min(len(returns), columns)).round().astype(int))
        self.curve = [self._point(t) for t in self.vertices.tolist()]
        self.background = self._draw_background()

    def _row_y(self, row: int) -> int:
        return self.margin + row * self.line

    def _draw_background(self) -> Image.Image:
        """The parts every frame shares: the title, the labels and the whole return curve."""
        image = Image.new("RGB", (self.width, self.height), PANEL_BACKGROUND)
        draw = ImageDraw.Draw(image)
        draw.text((self.margin, self._row_y(0)), self.title, fill=TITLE, font=self.font)
        for row, label in enumerate(("step", "action", "reward", "return"), start=1):
            draw.text((self.margin, self._row_y(row)), label, fill=DIM, font=self.font)
        if len(self.curve) > 1:
            draw.line(self.curve, fill=DIM, width=1)
        return image

    def render(self, t: int, action: str, reward: float) -> np.ndarray:
        image = self.background.copy()
        draw = ImageDraw.Draw(image)
        values = [
            (f"{t + 1} / {len(self.returns)}", TEXT),
            (action, TEXT),
            (f"{reward:+.2f}", POSITIVE if reward > 0 else NEGATIVE if reward < 0 else TEXT),
            (f"{self.returns[t]:.2f}", TEXT),
        ]
        for row, (value, color) in enumerate(values, start=1):
            draw.text((self.margin + self.value_x, self._row_y(row)), value, fill=color, font=self.font)
        if len(self.curve) > 1:
            done = self.curve[: np.searchsorted(self.vertices, t, side="right")] + [self._point(t)]
            draw.line(done, fill=POSITIVE, width=2)
        x, y = self._point(t)
        draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=TITLE)
        return np.asarray(image)

    def _point(self, t: int) -> tuple[float, float]:
        """Where step t's return sits in the curve's box; a constant return draws a flat line."""
        left, top, right, bottom = self.box
        low, span = self.return_range
        x = left + (right - left) * t / max(len(self.returns) - 1, 1)
        return x, bottom - (self.returns[t] - low) / span * (bottom - top)


def encode_mp4(path: Path, canvases, size: tuple[int, int], fps: int) -> None:
    """Write (H, W, 3) uint8 canvases, all of ``size`` (W, H) in whole macro-blocks, as an MP4 at ``path``."""
    ffmpeg, codec = _ffmpeg()
    # The temporary file's suffix is not .mp4, so the container is named explicitly; veryfast
    # encodes ~1.5x faster than x264's default at the same size for these simple frames.
    presets = ["-preset", "veryfast"] if codec == "libx264" else []
    writer = ffmpeg.write_frames(
        str(path),
        size,
        fps=fps,
        codec=codec,
        pix_fmt_out="yuv420p",  # what browsers and players decode
        quality=8,  # crf 10 for libx264: pixel art and small text stay crisp
        output_params=["-f", "mp4", "-movflags", "+faststart", *presets],
        macro_block_size=MACRO_BLOCK,
        ffmpeg_log_level="error",
    )
    writer.send(None)
    try:
        for canvas in canvases:
            writer.send(canvas)
    finally:
        writer.close()  # ends ffmpeg even when drawing a frame failed


@functools.cache
def _ffmpeg():
    """The imageio-ffmpeg module and the best available MP4 codec (libx264, else mpeg4)."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise IrisError(
            "episode videos need imageio-ffmpeg: pip install imageio-ffmpeg (it bundles ffmpeg), "
            "or set the number of episodes to save to 0"
        ) from None
    listing = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-encoders"], capture_output=True, text=True, check=False
    )
    if re.search(r"^\s*V\S*\s+libx264\s", listing.stdout, re.MULTILINE):
        return imageio_ffmpeg, "libx264"
    warnings.warn("this ffmpeg has no libx264; episode videos use the MPEG-4 part 2 codec", stacklevel=2)
    return imageio_ffmpeg, "mpeg4"


class EpisodeMediaDir:
    """A folder of episode videos: the `keep` newest ids, plus the best episode seen so far.

    Files are `episode_{id:06d}_epoch_{epoch:03d}.mp4`, each with the episode itself beside it as
    `.npz` (for the episode browser of `iris play -e`); when `keep` of them exist the smallest
    id goes first. The best is `best_episode_{id:06d}_epoch_{epoch:03d}_return_{return:.2f}.mp4`:
    the return lives in the name so the record survives a restart with no second file to keep
    consistent. Returns compare at that 0.01 resolution. keep=0 disables the folder.
    """

    EPISODE = re.compile(r"^episode_(\d+)_epoch_\d+\.mp4$")
    BEST = re.compile(r"^best_episode_\d+_epoch_\d+_return_(-?\d+\.\d+)\.mp4$")

    def __init__(self, directory: Path, keep: int) -> None:
        assert keep >= 0, keep
        self.directory, self.keep = Path(directory), keep
        self.best_return = self._best_on_disk()

    def save(self, episode_id: int, epoch: int, episode: Episode, **video) -> Path | None:
        """Write one episode's video (keyword arguments go to write_episode_video); None when disabled."""
        if self.keep == 0:
            return None
        episodes = self._episodes()
        for stale in episodes[: max(0, len(episodes) - self.keep + 1)]:
            stale.unlink(missing_ok=True)
            stale.with_suffix(".npz").unlink(missing_ok=True)
        name = f"episode_{episode_id:06d}_epoch_{epoch:03d}"
        path = self.directory / f"{name}.mp4"
        write_episode_video(path, episode.observations, episode.rewards, episode.actions, **video)
        episode.save(path.with_suffix(".npz"))
        episode_return = round(float(np.sum(episode.rewards, dtype=np.float64)), 2)
        if self.best_return is None or episode_return > self.best_return:
            self._replace_best(path, f"best_{name}_return_{episode_return:.2f}.mp4")
            self.best_return = episode_return
        return path

    def _episodes(self) -> list[Path]:
        """Saved episodes, smallest id first."""
        matches = [(self.EPISODE.match(p.name), p) for p in self.directory.glob("episode_*.mp4")]
        return [p for _, p in sorted((int(m.group(1)), p) for m, p in matches if m)]

    def _bests(self) -> list[tuple[float, Path]]:
        matches = [(self.BEST.match(p.name), p) for p in self.directory.glob("best_episode_*.mp4")]
        return sorted((float(m.group(1)), p) for m, p in matches if m)

    def _best_on_disk(self) -> float | None:
        bests = self._bests()
        return bests[-1][0] if bests else None

    def _replace_best(self, source: Path, name: str) -> None:
        # Copy before deleting the old best, so a crash in between leaves two bests, never none;
        # the next start reads the highest of them.
        atomic_write(self.directory / name, lambda tmp: shutil.copyfile(source, tmp))
        for _, old in self._bests():
            if old.name != name:
                old.unlink(missing_ok=True)
