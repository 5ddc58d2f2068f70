"""Per-frame values kept on the device, looked up by frame id (``Batch.frame_ids``): the storage of
the agents' per-epoch caches of what a frozen tokenizer makes of stored frames."""

from __future__ import annotations

import torch
from torch import Tensor


class FrameTable:
    """Rows of per-frame values keyed by frame id, stored in one device tensor grown by doubling
    up to ``max_rows``; frames past that are computed every time instead of stored."""

    def __init__(self, max_rows: int) -> None:
        self.max_rows = max_rows
        self.rows: dict[int, int] = {}
        self.storage: Tensor | None = None  # (capacity, ...)

    def __len__(self) -> int:
        return len(self.rows)

    def lookup(self, ids: list[int], frames: Tensor, compute) -> Tensor:
        """ids (N,) of frames (N, ...) -> compute(frames) (N, ...), computing only unseen frames."""
        unseen: dict[int, int] = {}  # id -> first position, in order
        for position, frame_id in enumerate(ids):
            if frame_id not in self.rows and frame_id not in unseen:
                unseen[frame_id] = position
        if unseen:
            values = compute(frames[list(unseen.values())])
            if len(self.rows) + len(unseen) > self.max_rows:  # full: these are not kept
                return self._gather_with(ids, dict(zip(unseen, values, strict=True)))
            self._store(list(unseen), values)
        return self.storage[[self.rows[i] for i in ids]]

    def _store(self, ids: list[int], values: Tensor) -> None:
        first = len(self.rows)
        needed = first + len(ids)
        if self.storage is None or needed > self.storage.shape[0]:
            capacity = min(self.max_rows, max(needed, 2 * (0 if self.storage is None else self.storage.shape[0])))
            grown = values.new_empty((capacity, *values.shape[1:]))
            if self.storage is not None:
                grown[:first] = self.storage[:first]
            self.storage = grown
        self.storage[first:needed] = values
        self.rows.update((frame_id, first + k) for k, frame_id in enumerate(ids))

    def _gather_with(self, ids: list[int], fresh: dict[int, Tensor]) -> Tensor:
        return torch.stack([fresh[i] if i in fresh else self.storage[self.rows[i]] for i in ids])
