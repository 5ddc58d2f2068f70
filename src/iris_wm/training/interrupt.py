"""Stopping at a safe point on SIGTERM (what SLURM and ``timeout`` send) or SIGINT (Ctrl-C).

The handler only records the signal; the training loop calls ``check_stop()`` between steps,
which raises ``Interrupted`` there. A second Ctrl-C stops at once. Everything on disk is then as
after a completed step: finished episodes and the last epoch's checkpoint.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


class Interrupted(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # the shell's convention: 130 for SIGINT, 143 for SIGTERM


_requested: int | None = None


def check_stop() -> None:
    if _requested is not None:
        raise Interrupted(_requested)


def _record(signum: int, frame) -> None:
    global _requested
    if _requested == signal.SIGINT and signum == signal.SIGINT:
        raise KeyboardInterrupt  # asked twice: no waiting for a safe point
    _requested = signum


@contextmanager
def stop_at_safe_points() -> Iterator[None]:
    """SIGTERM and SIGINT make the next ``check_stop()`` raise ``Interrupted``."""
    global _requested
    _requested = None
    previous = {signum: signal.signal(signum, _record) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _requested = None


def interrupted_message(stop: Interrupted, run_dir, completed_epochs: int) -> str:
    if completed_epochs == 0:
        return f"interrupted ({stop}) before the first epoch ended; nothing was kept"
    return f"interrupted ({stop}) after epoch {completed_epochs}; continue with `iris resume {run_dir}`"
