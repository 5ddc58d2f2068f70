"""Tiny Δ-IRIS inputs: the delta-cpu-smoke preset's networks and random batches."""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import OmegaConf

from iris_wm.data.batch import Batch

SMOKE_PRESET = Path(__file__).resolve().parents[3] / "src/iris_wm/agents/delta_iris/presets/delta-cpu-smoke.yaml"
NUM_ACTIONS = 5


def tiny_config(**overrides) -> dict:
    """The smoke preset's ``agent:`` section (64 codes of 16 dims, 10-block 2-layer GPT of width 64,
    horizon 6, burn-in 3), with ``overrides`` merged in."""
    config = OmegaConf.to_container(OmegaConf.load(SMOKE_PRESET))["agent"]
    return OmegaConf.to_container(OmegaConf.merge(config, overrides))


def make_batch(b: int, t: int, seed: int = 0, mask: torch.Tensor | None = None) -> Batch:
    g = torch.Generator().manual_seed(seed)
    obs = torch.randint(0, 256, (b, t, 3, 64, 64), generator=g).float() / 255
    act = torch.randint(0, NUM_ACTIONS, (b, t), generator=g)
    rewards = torch.randint(-1, 2, (b, t), generator=g).float()
    ends = torch.zeros(b, t, dtype=torch.long)
    mask = torch.ones(b, t, dtype=torch.bool) if mask is None else mask
    return Batch(obs, act, rewards, ends, mask)
