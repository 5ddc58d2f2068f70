"""A batch of dataset segments: what every component's ``compute_loss`` takes."""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import Tensor

from iris_wm.data.frames import to_float


@dataclass
class Batch:
    # (B, T, 3, H, W): uint8 as sampled on the host; float in [0, 1] once moved with ``to``, so
    # that frames cross to the device at a quarter of the size.
    observations: Tensor
    actions: Tensor  # (B, T) int64
    rewards: Tensor  # (B, T) float32, raw env rewards
    ends: Tensor  # (B, T) int64 in {0, 1}: episode ended after this step's action
    mask_padding: Tensor  # (B, T) bool: False on padding steps
    # (B, T) int64 on the host: which stored frame each step is (``frame_id``), -1 on padding; set
    # by dataset sampling so that per-epoch caches can recognise frames they have already seen.
    frame_ids: Tensor | None = None

    def to(self, device: torch.device | str) -> Batch:
        moved = {f.name: getattr(self, f.name).to(device, non_blocking=True) for f in fields(self)
                 if f.name != "frame_ids"}
        if moved["observations"].dtype == torch.uint8:
            moved["observations"] = to_float(moved["observations"])
        return Batch(**moved, frame_ids=self.frame_ids)

    @property
    def batch_size(self) -> int:
        return self.observations.shape[0]

    @property
    def sequence_length(self) -> int:
        return self.observations.shape[1]
