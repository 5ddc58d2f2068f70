"""Who may write a run folder: one process at a time, new folders that never collide, and nothing
left behind by a run that failed before its first epoch.

The lock is an OS file lock (``flock``) on ``RUN/.lock``, held until the process ends: the kernel
drops it when the holder dies, however it dies, so a stale lock never blocks. The file keeps the
holder's pid, for the error message.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from pathlib import Path

from iris_wm.errors import IrisError

LOCK_FILE = ".lock"
_held: dict[Path, int] = {}  # run folder -> descriptor of its locked file, for the life of the process


def lock_run_folder(run_dir: Path) -> None:
    """Take ``run_dir``'s lock (a no-op if this process holds it), or raise naming the holder."""
    run_dir = Path(run_dir).resolve()
    if run_dir in _held:
        return
    path = run_dir / LOCK_FILE
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
    if (run_dir / "checkpoints" / "latest").exists():
        return
    release_run_folder(run_dir)
    for child in list(run_dir.iterdir()) if run_dir.is_dir() else []:
        shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    if made_it:
        run_dir.rmdir()
