"""The replay dataset: episodes held in memory, mirrored on disk one ``.npz`` file each.

Ids, FIFO eviction, incremental checkpoints, sampling and a RAM bound (docs/algorithm.md, 'Data').
Disk writes happen only in ``save_modified``, each file atomically, so a process killed at any
moment leaves every file whole and every saved episode in place; at worst the files of some
evicted episodes are left behind (``load`` evicts them again under ``max_num_episodes``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from iris_wm.data.batch import Batch
from iris_wm.data.episode import Episode
from iris_wm.data.sampling import SegmentSampler, UniformSegments, collate, frame_ids, traverse
from iris_wm.errors import IrisError

# Temp files of interrupted writes start with "." and end with ".tmp", so they never match.
ANYWHERE = UniformSegments()  # the default placement: a segment may start at any step
EPISODE_FILE = re.compile(r"episode_(\d+)\.npz")


def episode_path(directory: Path, episode_id: int) -> Path:
    return directory / f"episode_{episode_id:06d}.npz"


def parse_ram_limit(text: str) -> tuple[float, str]:
    """``"30G"`` -> (30.0, "G"): GiB of this process; ``"80%"`` -> (80.0, "%"): system RAM."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([G%])\s*", str(text))
    value = float(match.group(1)) if match else 0.0
    if match is None or value <= 0 or (match.group(2) == "%" and value >= 100):
        raise IrisError(f"max_ram_usage {text!r} is not understood; use GiB of this process such as '30G', "
                        f"or a percentage of the system's RAM strictly between 0 and 100 such as '80%'")
    return value, match.group(2)


def ram_usage(unit: str) -> float:
    """This process's resident memory in GiB (unit "G"), or the system's RAM in use in percent."""
    import psutil  # only needed once a RAM bound is set

    if unit == "G":
        return psutil.Process().memory_info().rss / 2**30
    return psutil.virtual_memory().percent


class EpisodeDataset:
    """Episodes by id (0, 1, 2, ... in order of arrival), oldest evicted first when full.

    ``directory`` None keeps the dataset in memory only (the test dataset). ``max_ram_usage``
    ("30G" or "80%"): the first time it is exceeded, the current number of steps
    becomes a permanent cap (``step_cap``, which a trainer may save and restore), and every later
    ``add_episode`` first evicts the oldest episodes until the new total fits.
    """

    def __init__(self, directory: str | Path | None, name: str, max_num_episodes: int | None = None,
                 max_ram_usage: str | None = None) -> None:
        if max_num_episodes is not None and max_num_episodes < 1:
            raise IrisError(f"max_num_episodes of dataset {name!r} is {max_num_episodes}; use 1 or more, "
                            f"or leave it unset for no limit")
        self.directory = None if directory is None else Path(directory)
        self.name = name  # metric prefix
        self.max_num_episodes = max_num_episodes
        self.ram_limit = None if max_ram_usage is None else parse_ram_limit(max_ram_usage)
        self.step_cap: int | None = None
        self.num_seen_episodes = 0  # the next id; clear() keeps it so ids are never reused
        self.num_steps = 0
        self._episodes: dict[int, Episode] = {}  # id -> episode, oldest first
        self._modified: set[int] = set()  # ids whose files save_modified must write
        self._deleted: set[int] = set()  # ids whose files save_modified must delete
        if self.directory is not None:
            if self.directory.is_dir() and any(EPISODE_FILE.fullmatch(p.name) for p in self.directory.iterdir()):
                raise IrisError(f"{self.directory} already holds episodes; resume from it "
                                f"(EpisodeDataset.load) or choose an empty folder")
            self.directory.mkdir(parents=True, exist_ok=True)

    @classmethod
    def load(cls, directory: str | Path, name: str, max_num_episodes: int | None = None,
             max_ram_usage: str | None = None) -> EpisodeDataset:
        """Every episode saved in ``directory``, ids as saved; new ids continue after the largest."""
        directory = Path(directory)
        if not directory.is_dir():
            raise IrisError(f"dataset folder {directory} does not exist; check the run folder, or start a new run")
        found = sorted((int(m.group(1)), path) for path in directory.iterdir()
                       if (m := EPISODE_FILE.fullmatch(path.name)))
        dataset = cls(None, name, max_num_episodes, max_ram_usage)
        for episode_id, path in found:
            dataset._insert(episode_id, Episode.load(path))
        dataset.num_seen_episodes = found[-1][0] + 1 if found else 0
        dataset._modified.clear()  # they are on disk already
        dataset.directory = directory  # set only now: the constructor refuses a non-empty folder
        # A kill between saving a new episode and deleting an evicted one leaves one too many.
        while dataset._is_full(incoming_steps=0, incoming_episodes=0):
            dataset._evict_oldest()
        return dataset

    def state_dict(self) -> dict:
        """What the episodes themselves do not tell: the next id, and the RAM cap once reached."""
        return {"num_seen_episodes": self.num_seen_episodes, "step_cap": self.step_cap}

    def load_state_dict(self, state: dict) -> None:
        self.num_seen_episodes = max(self.num_seen_episodes, state["num_seen_episodes"])
        self.step_cap = state["step_cap"]
        while self._is_full(incoming_steps=0, incoming_episodes=0):
            self._evict_oldest()

    @property
    def num_episodes(self) -> int:
        return len(self._episodes)

    @property
    def episode_ids(self) -> list[int]:
        return list(self._episodes)

    def add_episode(self, episode: Episode) -> int:
        if self.ram_limit is not None and self.step_cap is None and self._ram_exceeded():
            self.step_cap = self.num_steps
        while self._episodes and self._is_full(incoming_steps=len(episode), incoming_episodes=1):
            self._evict_oldest()
        episode_id = self.num_seen_episodes
        self._insert(episode_id, episode)
        self.num_seen_episodes += 1
        return episode_id

    def get_episode(self, episode_id: int) -> Episode:
        if episode_id not in self._episodes:
            raise KeyError(f"episode {episode_id} is not in dataset {self.name!r} (evicted or never added)")
        return self._episodes[episode_id]

    def update_episode(self, episode_id: int, chunk: Episode) -> None:
        """Extend an in-progress episode with its next steps."""
        old = self.get_episode(episode_id)
        self._episodes[episode_id] = old.merge(chunk)
        self.num_steps += len(chunk)
        self._modified.add(episode_id)

    def clear(self) -> None:
        self._deleted.update(self._episodes)
        self._modified.clear()
        self._episodes.clear()
        self.num_steps = 0

    def save_modified(self) -> None:
        """Write every episode added or updated since the last call, then delete evicted ones' files."""
        if self.directory is None:
            self._modified.clear()
            self._deleted.clear()
            return
        # Ids leave the sets one by one, so a failed write is retried by the next call.
        for episode_id in sorted(self._modified):
            self._episodes[episode_id].save(episode_path(self.directory, episode_id))
            self._modified.discard(episode_id)
        for episode_id in sorted(self._deleted):
            episode_path(self.directory, episode_id).unlink(missing_ok=True)
            self._deleted.discard(episode_id)

    def sample_batch(self, batch_size: int, sequence_length: int, rng: np.random.Generator,
                     sampler: SegmentSampler = ANYWHERE) -> Batch:
        """``batch_size`` segments of ``sequence_length`` steps, placed by ``sampler``; frames stay uint8."""
        if not self._episodes:
            raise ValueError(f"dataset {self.name!r} is empty: collect episodes before sampling")
        episodes = list(self._episodes.values())
        lengths = np.fromiter(map(len, episodes), dtype=np.int64, count=len(episodes))  # (N,)
        ids = np.array(list(self._episodes), dtype=np.int64)
        indices, starts = sampler.choose(ids, lengths, batch_size, sequence_length, rng)
        batch = collate([(episodes[i], start) for i, start in zip(indices.tolist(), starts.tolist(), strict=True)],
                        sequence_length)
        batch.frame_ids = torch.from_numpy(frame_ids(ids[indices], starts, sequence_length,
                                                     batch.mask_padding.numpy()))
        return batch

    def traverse(self, batch_size: int, chunk_size: int) -> Iterator[Batch]:
        """Evaluation pass over every stored step once, episode by episode."""
        return traverse(list(self._episodes.values()), batch_size, chunk_size)

    def _insert(self, episode_id: int, episode: Episode) -> None:
        if self._episodes:
            expected = next(iter(self._episodes.values())).frame_shape
            if episode.frame_shape != expected:
                raise ValueError(f"episode frames of shape {episode.frame_shape} in a dataset of {expected} frames")
        self._episodes[episode_id] = episode
        self.num_steps += len(episode)
        self._modified.add(episode_id)

    def _evict_oldest(self) -> None:
        episode_id = next(iter(self._episodes))
        self.num_steps -= len(self._episodes.pop(episode_id))
        self._modified.discard(episode_id)
        self._deleted.add(episode_id)

    def _is_full(self, incoming_steps: int, incoming_episodes: int) -> bool:
        too_many = (self.max_num_episodes is not None
                    and len(self._episodes) + incoming_episodes > self.max_num_episodes)
        too_big = self.step_cap is not None and self.num_steps + incoming_steps > self.step_cap
        return too_many or too_big

    def _ram_exceeded(self) -> bool:
        limit, unit = self.ram_limit
        return ram_usage(unit) > limit
