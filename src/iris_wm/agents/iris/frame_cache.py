"""Per-epoch caches of what the frozen tokenizer makes of real frames (measured in
``benchmarks/RESULTS.md``).

Within an epoch the tokenizer trains first and is then frozen, while the world-model and
actor-critic phases sample the same stored frames many times over (64 x 20 frames per step, 200
steps, from a dataset of at most 100k frames). Each frame's tokens and reconstruction are therefore
computed the first time it is sampled and looked up afterwards: the same numbers as recomputing
them, a fraction of the work. The agent makes a new cache at the start of each epoch, and only the
phases after the tokenizer's fill it.
"""

from __future__ import annotations

import torch
from torch import Tensor

from iris_wm.agents.iris.tokenizer import Tokenizer
from iris_wm.data.batch import Batch
from iris_wm.data.frame_table import FrameTable


class FrameCache:
    """Tokens and reconstructions of a dataset's frames under one frozen tokenizer. Padding steps
    share one id: they are all the same all-zero frame."""

    def __init__(self, tokenizer: Tokenizer, max_reconstruction_bytes: float) -> None:
        self.tokenizer = tokenizer
        ae = tokenizer.config.autoencoder
        frame_bytes = ae.in_channels * ae.resolution**2 * 4  # float32
        self.tokens_table = FrameTable(max_rows=2**62)  # 16 int64 per frame: never the limit
        self.reconstructions_table = FrameTable(max_rows=int(max_reconstruction_bytes // frame_bytes))

    @staticmethod
    def _ids(batch: Batch) -> list[int]:
        assert batch.frame_ids is not None, "the batch carries no frame ids: sample it from an EpisodeDataset"
        return batch.frame_ids.flatten().tolist()

    @torch.no_grad()
    def tokens(self, batch: Batch) -> Tensor:
        """(B, T, K) tokens of batch.observations ((B, T, 3, H, W) in [0, 1] on the device)."""
        frames = batch.observations.flatten(0, 1)
        tokens = self.tokens_table.lookup(
            self._ids(batch), frames, lambda x: self.tokenizer.encode(x, should_preprocess=True).tokens)
        return tokens.view(*batch.observations.shape[:2], -1)

    @torch.no_grad()
    def reconstructions(self, batch: Batch, tokens: Tensor) -> Tensor:
        """(B, T, 3, H, W) in [0, 1]: the frames decoded from their ``tokens`` (B, T, K), as the
        actor-critic sees real frames."""
        ids = self._ids(batch)
        # Decoding needs only the tokens: they stand in for the frames being looked up.
        decoded = self.reconstructions_table.lookup(ids, tokens.flatten(0, 1), self.tokenizer.decode_tokens)
        return decoded.view(*tokens.shape[:2], *decoded.shape[1:])
