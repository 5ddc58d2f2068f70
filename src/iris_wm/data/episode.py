"""One episode of real experience, and the fixed-length segments cut from it (docs/algorithm.md, 'Data').

Step t is (frame seen, action taken after seeing it, raw reward received, whether the episode
ended after that action). The frame after the final action is not stored.

On disk an episode is one ``.npz`` file (NumPy's zip of ``.npy`` arrays, no pickle), written
atomically. It is compressed: Atari frames at 64x64 shrink 35-100x (a 1.2 GB dataset of 100k
frames becomes a few tens of MB) for ~50 µs per frame to write and ~15 µs to read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from iris_wm.atomic import atomic_write
from iris_wm.errors import IrisError

# Bumped whenever the file layout changes, so an old file is reported rather than misread.
FORMAT_VERSION = 1
EXTRA_PREFIX = "extra_"  # in the .npz: extra_<name> arrays (files without them read as no extras)


@dataclass
class Segment:
    """Steps ``start..stop`` of an episode, zero-padded where they fall outside it.

    Leading dimensions ``...`` are (L,) for one segment and (B, L) for a collated batch.
    """

    observations: np.ndarray  # (..., C, H, W) uint8
    actions: np.ndarray  # (...) int64
    rewards: np.ndarray  # (...) float32
    ends: np.ndarray  # (...) int64
    mask_padding: np.ndarray  # (...) bool: False on padding steps

    @classmethod
    def padding(cls, shape: tuple[int, ...], frame_shape: tuple[int, ...]) -> Segment:
        """All-padding arrays of leading shape ``shape``, to be filled by ``Episode.fill``."""
        return cls(
            observations=np.zeros((*shape, *frame_shape), dtype=np.uint8),
            actions=np.zeros(shape, dtype=np.int64),
            rewards=np.zeros(shape, dtype=np.float32),
            ends=np.zeros(shape, dtype=np.int64),
            mask_padding=np.zeros(shape, dtype=bool),
        )

    def row(self, i: int) -> Segment:
        """Views of row ``i`` of a (B, L) segment: writing to them writes into the batch."""
        return Segment(self.observations[i], self.actions[i], self.rewards[i], self.ends[i],
                       self.mask_padding[i])


@dataclass
class Episode:
    observations: np.ndarray  # (T, C, H, W) uint8: frame seen at step t
    actions: np.ndarray  # (T,) int64: action taken after seeing it
    rewards: np.ndarray  # (T,) float32: raw env reward received after the action
    ends: np.ndarray  # (T,) int64 in {0, 1}: the episode ended after this step
    truncated: bool = False  # the end was a time limit, not a terminal state (see training.truncation_is_end)
    # Per-step values an environment kind keeps beside the frames, name -> (T, ...) array: e.g.
    # Crafter's achievement counts so far. Not sampled for training.
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.extras = {name: np.asarray(values) for name, values in self.extras.items()}
        self.actions = np.asarray(self.actions, dtype=np.int64)
        self.rewards = np.asarray(self.rewards, dtype=np.float32)
        self.ends = np.asarray(self.ends, dtype=np.int64)
        self.truncated = bool(self.truncated)
        self._check()
        # Nothing after the first end belongs to this episode.
        first_end = np.flatnonzero(self.ends)
        if first_end.size > 0 and first_end[0] + 1 < len(self.ends):
            cut = first_end[0] + 1
            self.observations, self.actions = self.observations[:cut], self.actions[:cut]
            self.rewards, self.ends = self.rewards[:cut], self.ends[:cut]
            self.extras = {name: values[:cut] for name, values in self.extras.items()}

    def _check(self) -> None:
        obs = self.observations
        if not isinstance(obs, np.ndarray) or obs.dtype != np.uint8 or obs.ndim != 4:
            raise ValueError(f"observations must be a (T, C, H, W) uint8 array, got "
                             f"{getattr(obs, 'dtype', type(obs))} of shape {getattr(obs, 'shape', None)}")
        for name in ("actions", "rewards", "ends"):
            if getattr(self, name).shape != (len(obs),):
                raise ValueError(f"{name} must have shape ({len(obs)},), one entry per frame, "
                                 f"got {getattr(self, name).shape}")
        for name, values in self.extras.items():
            if len(values) != len(obs):
                raise ValueError(f"extra {name!r} has {len(values)} entries for {len(obs)} frames")
        if len(obs) == 0:
            raise ValueError("an episode needs at least one step")
        if not np.isin(self.ends, (0, 1)).all():
            raise ValueError("ends must be 0 or 1")

    def __len__(self) -> int:
        return len(self.observations)

    @property
    def frame_shape(self) -> tuple[int, ...]:
        return self.observations.shape[1:]

    @property
    def finished(self) -> bool:
        return bool(self.ends[-1] == 1 or self.truncated)

    def merge(self, other: Episode) -> Episode:
        """This episode extended by the next chunk of the same episode."""
        if self.finished:
            raise ValueError("cannot extend an episode that has already ended")
        return Episode(
            observations=np.concatenate((self.observations, other.observations)),
            actions=np.concatenate((self.actions, other.actions)),
            rewards=np.concatenate((self.rewards, other.rewards)),
            ends=np.concatenate((self.ends, other.ends)),
            truncated=other.truncated,
            extras={name: np.concatenate((values, other.extras[name])) for name, values in self.extras.items()
                    if name in other.extras},
        )

    def final_extras(self) -> dict[str, np.ndarray]:
        """Each extra's value at the last step (e.g. the achievements of the whole episode)."""
        return {name: values[-1] for name, values in self.extras.items()}

    def segment(self, start: int, stop: int, should_pad: bool = True) -> Segment:
        """Steps ``start..stop`` (stop excluded), zero-padded outside ``0..len``."""
        if not should_pad and (start < 0 or stop > len(self)):
            raise ValueError(f"segment {start}..{stop} leaves the episode of {len(self)} steps")
        out = Segment.padding((stop - start,), self.frame_shape)
        self.fill(out, start, stop)
        return out

    def fill(self, out: Segment, start: int, stop: int) -> None:
        """Copy the part of steps ``start..stop`` inside the episode into all-padding ``out``.

        Only the overlapping steps are copied, so sampling never copies whole episodes.
        """
        assert start < len(self) and stop > 0 and start < stop, (start, stop, len(self))
        lo, hi = max(start, 0), min(stop, len(self))
        dst = slice(lo - start, hi - start)  # left padding is -start steps when start < 0
        out.observations[dst] = self.observations[lo:hi]
        out.actions[dst] = self.actions[lo:hi]
        out.rewards[dst] = self.rewards[lo:hi]
        out.ends[dst] = self.ends[lo:hi]
        out.mask_padding[dst] = True

    def metrics(self) -> dict[str, float]:
        return {"episode_length": len(self), "episode_return": float(self.rewards.sum(dtype=np.float64))}

    def save(self, path: str | Path) -> None:
        """Write to ``path`` (``.npz``) atomically: a crash leaves the old file or the new one."""
        arrays = {"format_version": np.int64(FORMAT_VERSION), "observations": self.observations,
                  "actions": self.actions, "rewards": self.rewards, "ends": self.ends,
                  "truncated": np.bool_(self.truncated),
                  **{EXTRA_PREFIX + name: values for name, values in self.extras.items()}}

        def write(tmp: Path) -> None:
            # A file object, because given a name np.savez appends ".npz" to the temp file's.
            with open(tmp, "wb") as f:
                np.savez_compressed(f, **arrays)

        atomic_write(Path(path), write)

    @classmethod
    def load(cls, path: str | Path) -> Episode:
        try:
            with np.load(path, allow_pickle=False) as f:
                version = int(f["format_version"])
                if version != FORMAT_VERSION:
                    raise ValueError(f"format version {version}, this iris-wm reads {FORMAT_VERSION}")
                extras = {key.removeprefix(EXTRA_PREFIX): f[key] for key in f.files if key.startswith(EXTRA_PREFIX)}
                return cls(observations=f["observations"], actions=f["actions"], rewards=f["rewards"],
                           ends=f["ends"], truncated=bool(f["truncated"]), extras=extras)
        except FileNotFoundError:
            raise IrisError(f"episode file {path} does not exist; check the dataset folder") from None
        except Exception as error:  # zipfile, zlib and NumPy each fail their own way on a bad file
            raise IrisError(f"episode file {path} is corrupt or not an iris-wm episode ({error}); "
                            f"delete it to go on without that episode") from None
