"""Saving and restoring everything a run needs to continue as if never stopped: the agent's
weights, the optimizers, the epoch, every RNG state, and the state of each part of the trainer
(datasets, collectors) through their ``state_dict`` / ``load_state_dict``. The episodes themselves
are on disk already, and the metrics log is cut back to the checkpoint's epoch by the logger."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from iris_wm.checkpoint.agent_files import WEIGHTS_FILE, read_weights
from iris_wm.checkpoint.run_checkpoint import (
    OPTIMIZERS_FILE,
    TRAINER_STATE_FILE,
    latest_checkpoint,
    load_torch_file,
    save_run_checkpoint,
)
from iris_wm.errors import IrisError
from iris_wm.models.state_dict import load_state_strict
from iris_wm.run_folder import RunFolder
from iris_wm.training.optim import load_optimizer_state


@runtime_checkable
class Stateful(Protocol):
    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class RunState:
    def __init__(self, run: RunFolder, agent: nn.Module, optimizers: dict[str, torch.optim.Optimizer],
                 rng: np.random.Generator, parts: dict[str, Stateful]) -> None:
        self.run = run
        self.agent, self.optimizers, self.rng, self.parts = agent, optimizers, rng, parts

    def save(self, epoch: int) -> None:
        """Write the epoch's checkpoint; the trainer has saved the epoch's episodes before."""
        state = {
            "epoch": epoch,
            "numpy_rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "parts": {name: part.state_dict() for name, part in self.parts.items()},
        }
        save_run_checkpoint(self.run, epoch, self.agent, self.optimizers, state)

    def restore(self) -> int:
        """Load the last completed epoch's checkpoint; returns that epoch."""
        folder = latest_checkpoint(self.run)
        if folder is None:
            raise IrisError(f"{self.run.root} has no completed epoch to resume from; start it again with iris train")
        load_state_strict(self.agent, read_weights(folder / WEIGHTS_FILE), folder / WEIGHTS_FILE)
        for name, optimizer_state in load_torch_file(folder / OPTIMIZERS_FILE).items():
            load_optimizer_state(self.optimizers[name], optimizer_state)
        state = load_torch_file(folder / TRAINER_STATE_FILE)
        self.rng.bit_generator.state = state["numpy_rng"]
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        for name, part in self.parts.items():
            part.load_state_dict(state["parts"][name])
        return state["epoch"]
