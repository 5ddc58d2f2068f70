"""A run folder: what ``iris train`` writes where, and who may write it.

The layout, named here once (``RunFolder``); it is an on-disk format, which resume, play, eval,
report and push read back, so it never changes::

    config/train.yaml              the resolved config the run trains with (what resume reads)
    config/resumes.yaml            each resume's accepted overrides, with the epoch they took effect
    checkpoints/latest             one line: the folder name of the last complete epoch's checkpoint
    checkpoints/epoch_NNNN/        that checkpoint: agent, optimizers, trainer state
    checkpoints/dataset/train/     the collected training episodes
    checkpoints/last.pt            in the authors' run folders: their checkpoint
    media/episodes/{train,test,imagination}/   episode videos, each with its episode beside it
    media/reconstructions/epoch_NNNN.png       test frames above their reconstructions
    media/recordings/              what ``iris play`` records
    media/prediction_error.png     the world model's open-loop error against the horizon
    media/learning_curves.png      returns and losses per epoch
    eval/*.json                    ``iris eval``'s scores; ``eval/benchmark.json`` is a sweep's result
    random_policy/*.json           the random policy's scores, beside the run's and not among them
    benchmark.log                  everything a sweep's jobs printed for this run
    metrics.jsonl, tensorboard/    every metric, every epoch
    .lock                          the writer's lock (below)

Hydra adds ``train.log`` and ``.hydra/``, and W&B (``logger.wandb=true``) ``wandb/``: named by
their own configs, and read by no iris command.

Who may write it: one process at a time, new folders that never collide, and nothing left behind
by a run that failed before its first epoch. The lock is an OS file lock (``flock``) on ``.lock``,
held until the process ends: the kernel drops it when the holder dies, however it dies, so a stale
lock never blocks. The file keeps the holder's pid, for the error message.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from iris_wm.errors import IrisError

_CONFIG_FILE, _EVAL = "config/train.yaml", "eval"  # also globbed for below a folder of runs
_EPOCH = "epoch_"  # prefix of an epoch's checkpoint folder and reconstruction figure


@dataclass(frozen=True)
class RunFolder:
    """The paths of the run folder ``root``; only ``epoch_checkpoints`` looks at the disk."""

    root: Path

    # -- config --
    @property
    def config_file(self) -> Path:  # the resolved config: its presence makes a folder a run folder
        return self.root / _CONFIG_FILE

    @property
    def resume_history(self) -> Path:  # [{from_epoch, overrides}] of each resume that changed the config
        return self.config_file.with_name("resumes.yaml")

    # -- checkpoints --
    @property
    def checkpoints(self) -> Path:  # the epochs' checkpoints, the pointer to the latest, the dataset
        return self.root / "checkpoints"

    @property
    def latest_pointer(self) -> Path:  # replaced atomically once an epoch's checkpoint is complete
        return self.checkpoints / "latest"

    def epoch_checkpoint(self, epoch: int) -> Path:  # agent.safetensors + agent.yaml, optimizers, trainer state
        return self.checkpoints / f"{_EPOCH}{epoch:04d}"

    def epoch_checkpoints(self) -> list[Path]:
        """The epoch checkpoint folders on disk: the latest, and any a kill left half written."""
        return [path for path in self.checkpoints.glob(f"{_EPOCH}*") if path.is_dir()]

    @staticmethod
    def epoch_of(checkpoint: Path) -> int:
        """The epoch of an ``epoch_checkpoint`` folder."""
        return int(checkpoint.name.removeprefix(_EPOCH))

    @property
    def train_dataset(self) -> Path:  # the training episodes, written as each one ends
        return self.checkpoints / "dataset" / "train"

    @property
    def authors_checkpoint(self) -> Path:  # the authors' run folders keep theirs in the same checkpoints/
        return self.checkpoints / "last.pt"

    # -- media --
    @property
    def media(self) -> Path:  # what is written for people to look at
        return self.root / "media"

    def episode_media(self, name: str) -> Path:  # name: train, test or imagination; videos and episodes
        return self.media / "episodes" / name

    @property
    def reconstructions(self) -> Path:
        return self.media / "reconstructions"

    def reconstruction(self, epoch: int) -> Path:  # test frames above their reconstructions after the epoch
        return self.reconstructions / f"{_EPOCH}{epoch:04d}.png"

    @property
    def recordings(self) -> Path:  # iris play's recordings, by default
        return self.media / "recordings"

    @property
    def prediction_figure(self) -> Path:  # the world model's latest open-loop errors against the horizon
        return self.media / "prediction_error.png"

    @property
    def learning_curves(self) -> Path:  # the logged curves, redrawn after each evaluation
        return self.media / "learning_curves.png"

    # -- evaluations --
    @property
    def eval_dir(self) -> Path:  # iris eval's score files (eval_TIME.json), which iris report pools
        return self.root / _EVAL

    def evaluations(self) -> list[Path]:
        """``eval_dir``'s score files on disk, oldest first (by modification time)."""
        return sorted(self.eval_dir.glob("*.json"), key=lambda path: path.stat().st_mtime)

    @property
    def benchmark_result(self) -> Path:  # a sweep run's score: written once, it marks the run finished
        return self.eval_dir / "benchmark.json"

    @property
    def benchmark_log(self) -> Path:  # what a sweep's jobs printed for this run, over all attempts
        return self.root / "benchmark.log"

    @property
    def random_policy(self) -> Path:  # iris eval --policy random: the floor, kept out of eval/'s scores
        return self.root / "random_policy"

    # -- logs --
    @property
    def metrics_file(self) -> Path:  # one JSON line per epoch
        return self.root / "metrics.jsonl"

    @property
    def tensorboard(self) -> Path:  # the same metrics as TensorBoard events
        return self.root / "tensorboard"

    @property
    def lock_file(self) -> Path:  # the writer's lock, with its pid
        return self.root / ".lock"


def run_folders_below(folder: Path) -> list[RunFolder]:
    """The run folders at or below ``folder`` (those with a config file), sorted."""
    return [RunFolder(root) for root in sorted(config.parent.parent for config in Path(folder).rglob(_CONFIG_FILE))]


def evaluations_below(folder: Path) -> list[Path]:
    """Every ``eval/*.json`` at or below ``folder``: the evaluations of a run or of a folder of runs, sorted."""
    return sorted(Path(folder).rglob(f"{_EVAL}/*.json"))


_held: dict[Path, int] = {}  # run folder -> descriptor of its locked file, for the life of the process


def lock_run_folder(run_dir: Path) -> None:
    """Take ``run_dir``'s lock (a no-op if this process holds it), or raise naming the holder."""
    run_dir = Path(run_dir).resolve()
    if run_dir in _held:
        return
    path = RunFolder(run_dir).lock_file
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as error:
        raise IrisError(f"cannot create {path}: {error.strerror}; the run folder must be writable") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise IrisError(f"{run_dir} is in use by another iris process (pid {holder}); wait for it to finish or stop "
                        f"it, then try again") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _held[run_dir] = fd


def release_run_folder(run_dir: Path) -> None:
    fd = _held.pop(Path(run_dir).resolve(), None)
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def is_locked(run_dir: Path) -> bool:
    """Whether a live process holds the run folder's lock (the kernel drops it when its holder dies)."""
    path = RunFolder(Path(run_dir)).lock_file
    if not path.is_file():
        return False
    with open(path) as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(file, fcntl.LOCK_UN)
    return False


def new_run_folder(root: Path) -> Path:
    """``root/YYYY-MM-DD/hh-mm-ss``, made now; ``-2``, ``-3``... when another run took that second."""
    base = Path(root) / time.strftime("%Y-%m-%d") / time.strftime("%H-%M-%S")
    base.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 1000):
        candidate = base if attempt == 1 else base.with_name(f"{base.name}-{attempt}")
        try:
            candidate.mkdir()  # atomic: of two processes, one makes it, the other tries the next name
            return candidate
        except FileExistsError:
            continue
    raise IrisError(f"could not make a new run folder in {base.parent}; remove old ones or choose hydra.run.dir")


def check_new_folder(path: Path, key: str) -> bool:
    """A folder a new run may be written into: absent (made now; True) or empty (False)."""
    if path.is_file():
        raise IrisError(f"{key}={path} is a file; give a folder")
    if path.is_dir():
        if any(path.iterdir()):
            raise IrisError(f"{key}={path} is not empty; choose a new folder (to continue a run there: iris resume "
                            f"{path})")
        return False
    try:
        path.mkdir(parents=True)
    except OSError as error:
        raise IrisError(f"cannot create {key}={path}: {error.strerror}; choose a writable folder") from None
    return True


def remove_unstarted_run(run_dir: Path, made_it: bool) -> None:
    """After a failure before the first epoch's checkpoint: the folder's contents, and the folder
    itself if this process made it. A run with a checkpoint is left for ``iris resume``."""
    run_dir = Path(run_dir)
    if RunFolder(run_dir).latest_pointer.exists():
        return
    release_run_folder(run_dir)
    for child in list(run_dir.iterdir()) if run_dir.is_dir() else []:
        shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    if made_it:
        run_dir.rmdir()
