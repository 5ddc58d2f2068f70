"""Choosing segments of stored episodes, collating them into a ``Batch``, and the evaluation
traversal (docs/algorithm.md, 'Data'). Segment samplers draw from a caller-owned NumPy generator:
uniform ones (IRIS) are pure; the prioritised one (Δ-IRIS) counts its draws per episode."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from iris_wm.data.batch import Batch
from iris_wm.data.episode import Episode, Segment
from iris_wm.errors import IrisError

WEIGHTINGS = ("episode", "step")
PADDING_FRAME_ID = -1  # the frame id of every padding step


def choose_segments(lengths: np.ndarray, batch_size: int, sequence_length: int, rng: np.random.Generator,
                    sample_from_start: bool = True, weighting: str = "episode") -> tuple[np.ndarray, np.ndarray]:
    """Episode index and start step of each of ``batch_size`` segments; ``lengths`` is (N,)."""
    if weighting == "episode":
        # One weight per episode, drawn with replacement, as the original does: short
        # episodes are oversampled relative to their share of the steps (docs/faithfulness.md).
        indices = rng.integers(len(lengths), size=batch_size)
    elif weighting == "step":
        # Every stored step equally likely to be a segment's anchor.
        indices = rng.choice(len(lengths), size=batch_size, p=lengths / lengths.sum())
    else:
        raise IrisError(f"unknown dataset weighting {weighting!r}; use one of {', '.join(WEIGHTINGS)}")
    chosen = lengths[indices]  # (B,)
    if sample_from_start:
        starts = rng.integers(0, chosen)  # start ~ U{0..len-1}; the segment may run past the end
    else:
        # stop ~ U{1..len}, so the last step is always real and padding is on the left.
        starts = rng.integers(1, chosen + 1) - sequence_length
    return indices, starts


class SegmentSampler:
    """Where each of a batch's segments lies: ``choose`` -> (episode indices (B,), starts (B,))."""

    def choose(self, episode_ids: np.ndarray, lengths: np.ndarray, batch_size: int, sequence_length: int,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def for_evaluation(self) -> SegmentSampler:
        """The same placement of segments, for sampling test episodes: nothing is counted."""
        return self

    def start_epoch(self, epoch: int) -> None:
        """Called before each epoch's training (the trainer calls it for every phase's sampler)."""


@dataclass(frozen=True)
class UniformSegments(SegmentSampler):
    """IRIS's: ``choose_segments`` with a fixed placement and weighting."""

    sample_from_start: bool = True
    weighting: str = "episode"

    def choose(self, episode_ids, lengths, batch_size, sequence_length, rng):
        return choose_segments(lengths, batch_size, sequence_length, rng, self.sample_from_start, self.weighting)


class PrioritizedSegments(SegmentSampler):
    """Δ-IRIS's: episode e is drawn (with replacement) with probability proportional to
    (1 / (1 + c_e))^alpha, c_e counting this sampler's earlier draws of e; then a step t uniformly
    in it, and a segment of L steps around t. ``can_sample_beyond_end``: start = t - U{0..L-1}
    (padding possible on both sides); otherwise stop = min(len, t + 1 + U{0..L-1}) and start =
    stop - L (the last step is always real). In the run's first ``uniform_epochs`` epochs (the authors': 1)
    and for evaluation, episodes are drawn uniformly; draws are counted in training all the same."""

    def __init__(self, alpha: float, can_sample_beyond_end: bool, uniform_epochs: int = 0) -> None:
        self.alpha, self.can_sample_beyond_end = alpha, can_sample_beyond_end
        self.uniform_epochs = uniform_epochs
        self.counts: dict[int, int] = {}  # episode id -> draws so far
        self.prioritize = True
        self.counting = True

    def start_epoch(self, epoch: int) -> None:
        self.prioritize = epoch > self.uniform_epochs

    def probabilities(self, episode_ids: np.ndarray) -> np.ndarray:
        counts = np.array([self.counts.get(int(i), 0) for i in episode_ids], dtype=np.float64)
        weights = (1 / (1 + counts)) ** self.alpha
        return weights / weights.sum()

    def choose(self, episode_ids, lengths, batch_size, sequence_length, rng):
        p = self.probabilities(episode_ids) if self.prioritize else None
        indices = rng.choice(len(lengths), size=batch_size, p=p)
        chosen = lengths[indices]  # (B,)
        t = rng.integers(0, chosen)
        offsets = rng.integers(0, sequence_length, size=batch_size)
        if self.can_sample_beyond_end:
            starts = t - offsets
        else:
            starts = np.minimum(chosen, t + 1 + offsets) - sequence_length
        if self.counting:
            for episode_id in episode_ids[indices].tolist():
                self.counts[episode_id] = self.counts.get(episode_id, 0) + 1
        return indices, starts

    def for_evaluation(self) -> PrioritizedSegments:
        uniform = PrioritizedSegments(self.alpha, self.can_sample_beyond_end)
        uniform.prioritize = uniform.counting = False
        return uniform

    def state_dict(self) -> dict:
        return {"episode_ids": list(self.counts), "counts": list(self.counts.values())}

    def load_state_dict(self, state: dict) -> None:
        self.counts = dict(zip(state["episode_ids"], state["counts"], strict=True))


def frame_ids(episode_ids: np.ndarray, starts: np.ndarray, length: int, mask_padding: np.ndarray) -> np.ndarray:
    """(B, L) int64 identifiers of the frames of segments (episode ``episode_ids[i]``, steps
    ``starts[i]..+length``): episode id in the high 32 bits, step in the low ones; PADDING_FRAME_ID
    on padding."""
    steps = starts[:, None] + np.arange(length)  # (B, L)
    return np.where(mask_padding, (episode_ids[:, None].astype(np.int64) << 32) | steps, PADDING_FRAME_ID)


def collate(pieces: Sequence[tuple[Episode, int]], length: int) -> Batch:
    """Stack the ``length``-step segments starting at each (episode, start) into a (B, L) batch."""
    out = Segment.padding((len(pieces), length), pieces[0][0].frame_shape)
    for i, (episode, start) in enumerate(pieces):
        episode.fill(out.row(i), start, start + length)
    # Zero-copy: the arrays were allocated for this batch alone.
    return Batch(observations=torch.from_numpy(out.observations), actions=torch.from_numpy(out.actions),
                 rewards=torch.from_numpy(out.rewards), ends=torch.from_numpy(out.ends),
                 mask_padding=torch.from_numpy(out.mask_padding))


def traverse(episodes: Sequence[Episode], batch_size: int, chunk_size: int) -> Iterator[Batch]:
    """Every step once: each episode cut into consecutive chunks (the last right-padded), grouped
    into batches of up to ``batch_size`` chunks of that episode only (batches may be ragged)."""
    for episode in episodes:
        starts = range(0, len(episode), chunk_size)
        for first in range(0, len(starts), batch_size):
            yield collate([(episode, start) for start in starts[first:first + batch_size]], chunk_size)
