"""Where imagined episodes start: real segments of frames and of the actions between them.

Each start is ``1 + burn_in`` frames, as the segments training's imagination starts from: the last
frame is where the episode starts, the ones before it are the context the kind's world model burns
in (Δ-IRIS's; IRIS's world model takes the last frame alone). Starts shorter than that are padded
on the left with black frames and action 0, as training pads segments near an episode's start.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from iris_wm.data.dataset import EPISODE_FILE, EpisodeDataset
from iris_wm.data.episode import Episode
from iris_wm.data.frames import to_uint8
from iris_wm.data.sampling import choose_segments, collate
from iris_wm.errors import IrisValueError
from iris_wm.run_folder import RunFolder

FRAME_SHAPE = (3, 64, 64)  # what every kind's world model takes


@dataclass
class Drawn:
    frames: Tensor  # (n, L + 1, 3, 64, 64) uint8, on the host
    actions: Tensor  # (n, L) int64
    info: dict[str, np.ndarray]  # per start, what identifies it in the bank: name -> (n,) array


class TensorStarts:
    """Given segments: frames (N, T, 3, 64, 64) or single frames (N, 3, 64, 64), uint8 or float in
    [0, 1], with the T - 1 actions (N, T - 1) between them (none for single frames: zeros)."""

    game: str | None = None

    def __init__(self, frames: Tensor | np.ndarray, actions: Tensor | np.ndarray | None = None) -> None:
        frames = torch.as_tensor(frames).cpu()
        if frames.ndim == 4:
            frames = frames.unsqueeze(1)
        if frames.ndim != 5 or tuple(frames.shape[2:]) != FRAME_SHAPE or len(frames) == 0:
            raise IrisValueError(f"start frames have shape {tuple(frames.shape)}; give (N, 3, 64, 64) frames or "
                                 f"(N, T, 3, 64, 64) segments, N >= 1 (frames of another size are another env's)")
        if frames.is_floating_point():
            frames = to_uint8(frames)
        elif frames.dtype != torch.uint8:
            raise IrisValueError(f"start frames are {frames.dtype}; give uint8 frames, or float frames in [0, 1]")
        n, t = frames.shape[:2]
        actions = torch.zeros(n, t - 1, dtype=torch.long) if actions is None else torch.as_tensor(actions).cpu()
        if tuple(actions.shape) != (n, t - 1) or actions.is_floating_point():
            raise IrisValueError(f"start actions have shape {tuple(actions.shape)} and dtype {actions.dtype}; "
                                 f"give the ({n}, {t - 1}) integer actions between the frames of each segment")
        self.frames, self.actions = frames, actions.long()

    @property
    def largest_action(self) -> int:
        return int(self.actions.max()) if self.actions.numel() else 0

    def draw(self, rng: np.random.Generator, n: int, length: int) -> Drawn:
        rows = rng.integers(len(self.frames), size=n)
        frames, actions = self.frames[rows], self.actions[rows]
        missing = length - frames.shape[1]
        if missing > 0:  # black frames and action 0 before the segment
            frames = torch.cat([frames.new_zeros(n, missing, *FRAME_SHAPE), frames], dim=1)
            actions = torch.cat([actions.new_zeros(n, missing), actions], dim=1)
        return Drawn(frames[:, -length:], actions[:, actions.shape[1] - (length - 1):], {"start": rows})


class EpisodeStarts:
    """Stored episodes: each start ends at a step drawn uniformly from an episode drawn uniformly,
    as IRIS's actor-critic draws the segments it imagines from."""

    def __init__(self, episodes: list[tuple[int, Episode]], game: str | None = None) -> None:
        if not episodes:
            raise IrisValueError("no episodes to start from; give a run folder or dataset folder with episodes")
        shape = episodes[0][1].frame_shape
        if tuple(shape) != FRAME_SHAPE:
            raise IrisValueError(f"the start episodes have frames of shape {tuple(shape)}, the world model takes "
                                 f"{FRAME_SHAPE}: give episodes of the environment it learned")
        self.ids = np.array([episode_id for episode_id, _ in episodes], dtype=np.int64)
        self.episodes = [episode for _, episode in episodes]
        self.lengths = np.array([len(episode) for episode in self.episodes], dtype=np.int64)  # (N,)
        self.game = game

    @property
    def largest_action(self) -> int:
        return max(int(episode.actions.max()) for episode in self.episodes)

    def draw(self, rng: np.random.Generator, n: int, length: int) -> Drawn:
        indices, starts = choose_segments(self.lengths, n, length, rng, sample_from_start=False)
        batch = collate([(self.episodes[i], start) for i, start in zip(indices.tolist(), starts.tolist(),
                                                                        strict=True)], length)
        # the actions between the frames: each step's action but the last one's
        return Drawn(batch.observations, batch.actions[:, :-1],
                     {"start": self.ids[indices], "start_step": starts + length - 1})


def run_game(run_dir: Path) -> str | None:
    """The game a run folder's config names (``env.id``), or None where it names none."""
    import yaml

    try:
        config = yaml.safe_load(RunFolder(run_dir).config_file.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    game = (config.get("env") or {}).get("id") if isinstance(config, dict) else None
    return str(game) if game is not None else None


def episode_starts(path: Path) -> EpisodeStarts:
    """The stored training episodes of a run folder, or the episodes of a dataset folder."""
    run = RunFolder(path)
    if run.train_dataset.is_dir():  # the episodes training collected; the run's config names the game
        folder, game = run.train_dataset, run_game(path)
    elif path.is_dir() and any(EPISODE_FILE.fullmatch(p.name) for p in path.iterdir()):
        folder, game = path, None
    else:
        raise IrisValueError(f"no episodes in {path}: give a run folder, a folder of episode_NNNNNN.npz files, "
                             f"or a tensor of start frames")
    dataset = EpisodeDataset.load(folder, "starts")
    return EpisodeStarts([(i, dataset.get_episode(i)) for i in dataset.episode_ids], game)


def make_starts(starts) -> TensorStarts | EpisodeStarts:
    """``starts`` as given: a run or dataset folder, frames, or (frames, actions)."""
    if isinstance(starts, TensorStarts | EpisodeStarts):
        return starts
    if isinstance(starts, str | Path):
        path = Path(starts)
        if not path.exists():
            raise IrisValueError(f"starts folder {path} does not exist; give a run folder or a dataset folder")
        return episode_starts(path)
    if isinstance(starts, tuple) and len(starts) == 2:
        return TensorStarts(*starts)
    if isinstance(starts, Tensor | np.ndarray):
        return TensorStarts(starts)
    raise IrisValueError(f"starts of type {type(starts).__name__} are not understood; give a run folder, a dataset "
                         f"folder, frames (N, [T,] 3, 64, 64) or a (frames, actions) pair")
