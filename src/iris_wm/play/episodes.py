"""Browsing a run's saved episodes frame by frame: train (the replay dataset), test and imagined.

Every category is a folder of ``episode_*.npz`` files in the dataset's format (``Episode.save``),
sorted by name: train episodes are the dataset itself, test and imagined ones are saved beside
their videos in ``media/episodes/``. An episode is read only when shown, so a large dataset opens
at once. A missing or empty category is reported in the header, never a crash (docs/play.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from iris_wm.data.episode import Episode
from iris_wm.data.frames import chw_to_hwc
from iris_wm.errors import IrisError
from iris_wm.play.keymap import BROWSER_KEYS
from iris_wm.play.view import View
from iris_wm.run_folder import RunFolder


def episode_folders(run_dir: Path) -> dict[str, Path]:
    run = RunFolder(run_dir)
    return {"train": run.train_dataset, "test": run.episode_media("test"),
            "imagination": run.episode_media("imagination")}


class EpisodeBrowser:
    """Steps only on a key (``moves_alone`` is False). Commands are the values of BROWSER_KEYS;
    None plays on: the next frame, after the last one the next episode (what a headless video shows).

    Frame t's header shows the action taken on it and the reward that action earned, as the
    episode videos do (a stored episode has no frame after its last action)."""

    keymap = dict(BROWSER_KEYS)
    moves_alone = False

    def __init__(self, run_dir: Path, action_names: list[str], describe_step=None) -> None:
        self.run_dir, self.action_names = run_dir, action_names
        self.describe_step = describe_step  # the env kind's: a stored step's extras -> header fields
        self.folders = episode_folders(run_dir)
        self.files = {name: sorted(folder.glob("episode_*.npz")) if folder.is_dir() else []
                      for name, folder in self.folders.items()}
        if not any(self.files.values()):
            looked = ", ".join(str(folder.relative_to(run_dir)) for folder in self.folders.values())
            raise IrisError(f"{run_dir} has no saved episodes to browse (looked for episode_*.npz in {looked})")
        self.category = next(name for name, files in self.files.items() if files)
        self.index, self.t = 0, 0
        self._load()

    def _load(self) -> None:
        self.episode = Episode.load(self.files[self.category][self.index])
        self.returns = np.cumsum(self.episode.rewards, dtype=np.float64)

    def reset(self) -> View:
        self.t = 0
        return self._view()

    def step(self, command: str | None = None) -> View:
        notice = ""
        last = len(self.episode) - 1
        moves = {"previous frame": -1, "next frame": 1, "back 10": -10, "forward 10": 10}
        if command in moves:
            self.t = min(max(self.t + moves[command], 0), last)
        elif command == "first frame":
            self.t = 0
        elif command in ("previous episode", "next episode"):
            self._open(self.category, self.index + (1 if command == "next episode" else -1))
        elif command in self.files:
            if self.files[command]:
                self._open(command, 0)
            else:
                notice = f"no {command} episodes in {self.folders[command].relative_to(self.run_dir)} · "
        elif command is None:
            if self.t < last:
                self.t += 1
            else:
                self._open(self.category, self.index + 1)
        return self._view(notice)

    def _open(self, category: str, index: int) -> None:
        """Episode ``index`` of a category (wrapping around), at its first frame."""
        self.category, self.index, self.t = category, index % len(self.files[category]), 0
        self._load()

    def _view(self, notice: str = "") -> View:
        """The frame shown; a notice (a category with no episodes) leads the title, where it is seen."""
        e, t = self.episode, self.t
        name = self.files[self.category][self.index].stem
        title = f"{notice}[{self.category}] {name} ({self.index + 1}/{len(self.files[self.category])})"
        frame = chw_to_hwc(e.observations[t])
        extras = {"frame": f"{t + 1}/{len(e)}"}
        if self.describe_step and e.extras:
            before = {name: values[t - 1] for name, values in e.extras.items()} if t > 0 else None
            extras |= self.describe_step({name: values[t] for name, values in e.extras.items()}, before)
        return View([(self.category, frame)], title, t, self.action_names[int(e.actions[t])], float(e.rewards[t]),
                    float(self.returns[t]), bool(e.ends[t]), extras)
