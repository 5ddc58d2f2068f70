"""Saving and restoring everything a run needs to continue as if never stopped: weights,
optimizers, the epoch, every RNG state, the dataset and the logs (spec §17 item 11 lists what
the original lost)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from iris_wm.checkpoint.agent_files import WEIGHTS_FILE, load_state_strict, read_weights
from iris_wm.checkpoint.run_checkpoint import (
    OPTIMIZERS_FILE,
    TRAINER_STATE_FILE,
    latest_checkpoint,
    load_torch_file,
    save_run_checkpoint,
)
from iris_wm.errors import IrisError
from iris_wm.training.metrics_logger import truncate_after

if TYPE_CHECKING:
    from iris_wm.training.trainer import Trainer


class RunState:
    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.checkpoints = trainer.run_dir / "checkpoints"

    def save(self, epoch: int) -> None:
        t = self.trainer
        t.train_dataset.save_modified()  # episodes first: a checkpoint never refers to missing ones
        state = {
            "epoch": epoch,
            "numpy_rng": t.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "test_num_seen_episodes": t.test_dataset.num_seen_episodes,
        }
        save_run_checkpoint(self.checkpoints, epoch, t.agent, t.optimizers, state)

    def restore(self) -> int:
        """Load the last completed epoch's checkpoint; returns that epoch."""
        t = self.trainer
        folder = latest_checkpoint(self.checkpoints)
        if folder is None:
            raise IrisError(f"{t.run_dir} has no completed epoch to resume from; start it again with iris train")
        load_state_strict(t.agent, read_weights(folder / WEIGHTS_FILE), folder / WEIGHTS_FILE)
        for name, optimizer_state in load_torch_file(folder / OPTIMIZERS_FILE).items():
            t.optimizers[name].load_state_dict(optimizer_state)
        state = load_torch_file(folder / TRAINER_STATE_FILE)
        t.rng.bit_generator.state = state["numpy_rng"]
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        t.test_dataset.num_seen_episodes = state["test_num_seen_episodes"]
        epoch = state["epoch"]
        # The envs cannot be restored mid-episode: they restart, with seeds that depend on the
        # epoch so a resumed run does not replay the first episodes (the original did, §17.11).
        t.train_collector.seed += 1_000 * epoch
        t.test_collector.seed += 1_000 * epoch
        truncate_after(t.run_dir, epoch)
        return epoch
