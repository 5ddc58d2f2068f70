"""Atomic file writes: a temporary file in the target's folder, flushed, then renamed over it.

A crash at any moment leaves either the old file or the new one, never a torn one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from iris_wm.errors import IrisError


def file_mode() -> int:
    """What the user's umask makes of a new file (mkstemp's files are private whatever the umask)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)`` then move the result to ``path``, with the permissions the umask gives."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except OSError as error:
        raise IrisError(f"could not write {path}: {error.strerror or error}; free disk space or choose "
                        f"another folder (the previous file, if any, is untouched)") from None
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text))


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_writable(path: Path, option: str, folder: bool) -> None:
    """Before any work: ``path`` (a file, or a ``folder``) can be written, its missing parents made.
    Nothing is created."""
    path = Path(path)
    if folder and path.is_file():
        raise IrisError(f"{option} {path} is a file; give a folder")
    if not folder and path.is_dir():
        raise IrisError(f"{option} {path} is a folder; give a file name")
    ancestor = _nearest_existing(path if folder else path.parent)
    if not ancestor.is_dir():
        raise IrisError(f"{option} {path} cannot be made: {ancestor} is a file; choose another path")
    if not os.access(ancestor, os.W_OK):
        raise IrisError(f"{option} {path} cannot be written: {ancestor} is not writable; choose another path")
