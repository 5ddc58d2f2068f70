"""A training run's checkpoint: agent, optimizers, trainer state, written so that a kill at any
moment leaves a complete, consistent checkpoint behind.

Each epoch's checkpoint goes into its own folder ``checkpoints/epoch_NNNN/``; only when every file
of it is written does the one-line file ``checkpoints/latest`` (atomically replaced) point to it,
and then older folders are removed. The dataset lives beside, in ``checkpoints/dataset/``
(``iris_wm.run_folder`` names these paths).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import torch

from iris_wm.atomic import atomic_write, atomic_write_text
from iris_wm.checkpoint.agent_files import save_agent
from iris_wm.errors import IrisError
from iris_wm.run_folder import RunFolder

OPTIMIZERS_FILE = "optimizers.pt"
TRAINER_STATE_FILE = "trainer_state.pt"


def save_run_checkpoint(run: RunFolder, epoch: int, agent: torch.nn.Module, optimizers: dict[str, Any],
                        trainer_state: dict[str, Any]) -> Path:
    folder = run.epoch_checkpoint(epoch)
    if folder.exists():
        shutil.rmtree(folder)  # left by a run killed while writing it: never pointed to
    save_agent(agent, folder)
    optimizer_states = {name: optimizer.state_dict() for name, optimizer in optimizers.items()}
    atomic_write(folder / OPTIMIZERS_FILE, lambda tmp: torch.save(optimizer_states, tmp))
    atomic_write(folder / TRAINER_STATE_FILE, lambda tmp: torch.save(trainer_state, tmp))
    atomic_write_text(run.latest_pointer, folder.name + "\n")
    for old in run.epoch_checkpoints():
        if old != folder:
            shutil.rmtree(old)
    return folder


def latest_checkpoint(run: RunFolder) -> Path | None:
    pointer = run.latest_pointer
    if not pointer.is_file():
        return None
    folder = run.checkpoints / pointer.read_text().strip()
    if not folder.is_dir():
        raise IrisError(f"{pointer} names {folder.name}, which is missing; the run folder was damaged")
    return folder


def completed_epochs(run: RunFolder) -> int:
    """The epoch of the current checkpoint (0 before the first)."""
    folder = latest_checkpoint(run)
    return 0 if folder is None else RunFolder.epoch_of(folder)


def load_torch_file(path: Path) -> Any:
    """Plain tensors and containers only (``weights_only=True``): nothing in the file runs code."""
    if not path.is_file():
        raise IrisError(f"{path} is missing; the checkpoint is incomplete")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # corrupt zip, truncated file or refused pickle: all mean the same to a user
        raise IrisError(f"{path} cannot be read ({str(error).splitlines()[0][:120]}); the checkpoint is "
                        f"corrupt") from None
