"""A per-epoch cache of the frozen Δ-tokenizer's tokens of stored transitions.

After the tokenizer's phase the tokenizer is frozen for the rest of the epoch, while the world model
(64 segments of 25 transitions per step) and the actor-critic's imagination (5 context transitions
per segment) tokenize the same stored transitions over and over. Each transition's tokens are
computed the first time it is sampled and looked up afterwards: the same numbers, less work. A
transition is known by the frame ids of its two frames (padding is -1: a black frame, action 0),
and by whether autocast was on, so that tokens computed in bf16 never stand in for float32 ones.
"""

from __future__ import annotations

import torch
from torch import Tensor

from iris_wm.agents.delta_iris.tokenizer import DeltaTokenizer
from iris_wm.data.batch import Batch
from iris_wm.data.frame_table import FrameTable

_ID_BITS = 64


class TransitionTokens:
    def __init__(self, tokenizer: DeltaTokenizer) -> None:
        self.tokenizer = tokenizer
        self.table = FrameTable(max_rows=2**62)  # K int64 per transition: never the limit

    def keys(self, batch: Batch) -> list[int]:
        assert batch.frame_ids is not None, "the batch carries no frame ids: sample it from an EpisodeDataset"
        ids = batch.frame_ids + 1  # (B, T), padding 0
        autocast = int(torch.is_autocast_enabled(batch.observations.device.type))
        pairs = (ids[:, :-1].flatten().tolist(), ids[:, 1:].flatten().tolist())
        return [(((first << _ID_BITS) | second) << 1) | autocast for first, second in zip(*pairs, strict=True)]

    @torch.no_grad()
    def tokens(self, batch: Batch) -> Tensor:
        """(B, T - 1, K) tokens of the transitions of batch ((B, T) steps, frames on the device)."""
        obs, actions = batch.observations, batch.actions
        b, t = actions.shape
        x1, a, x2 = obs[:, :-1].flatten(0, 1), actions[:, :-1].flatten(), obs[:, 1:].flatten(0, 1)

        def encode(rows: Tensor) -> Tensor:  # positions (n,) of unseen transitions -> their tokens (n, K)
            return self.tokenizer.encode(x1[rows, None], a[rows, None], x2[rows, None]).tokens[:, 0]

        positions = torch.arange(b * (t - 1), device=obs.device)
        return self.table.lookup(self.keys(batch), positions, encode).view(b, t - 1, -1)
