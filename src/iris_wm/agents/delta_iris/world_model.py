"""Δ-IRIS's world model: a GPT over blocks [I-token, action, K Δ-tokens] (docs/delta-iris.md,
'World model').

The I-token is a continuous embedding of the whole frame (a small CNN, then LayerNorm); the
action and the Δ-tokens of the transition that follows are looked up in tables. Heads read these
in-block positions (0 = I-token, 1 = action, 2.. = Δ-tokens):
- latents: the action and the first K - 1 Δ-tokens predict the next Δ-token;
- rewards (255 two-hot bins of symlog(r), or the 3 signs) and ends (2 classes): the action.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from iris_wm.config import at_least
from iris_wm.data.batch import Batch
from iris_wm.errors import IrisError
from iris_wm.models.conv import FrameCnnConfig, FrameEncoder
from iris_wm.models.heads import Head
from iris_wm.models.init import init_weights
from iris_wm.models.losses import Losses
from iris_wm.models.transformer import KVCache, Transformer, TransformerConfig
from iris_wm.models.two_hot import NUM_BINS, symlog_two_hot

ACTION_POSITION = 1  # in each block, after the I-token


@dataclass
class DeltaWorldModelConfig:
    # tokens_per_block is 2 + the tokenizer's num_tokens (checked by the agent's config)
    transformer: TransformerConfig = field(default_factory=lambda: TransformerConfig(
        tokens_per_block=6, max_blocks=26, num_layers=3, num_heads=4, embed_dim=256,
        embed_pdrop=0.0, resid_pdrop=0.0, attn_pdrop=0.0))
    # The I-token's CNN: latent_dim * 8 * 8 must equal the transformer's embed_dim.
    frame_cnn: FrameCnnConfig = field(default_factory=lambda: FrameCnnConfig(latent_dim=4, num_channels=32))
    two_hot_rews: bool = False  # rewards as 255 symlog bins (Crafter) rather than their 3 signs (Atari)
    latents_weight: float = at_least(0, 0.1)
    rewards_weight: float = at_least(0, 1.0)
    ends_weight: float = at_least(0, 0.1)

    def __post_init__(self) -> None:
        width = self.frame_cnn.latent_dim * self.frame_cnn.latent_resolution() ** 2
        if width != self.transformer.embed_dim:
            raise IrisError(f"the I-token has {width} features (agent.world_model.frame_cnn.latent_dim x 8 x 8) but "
                            f"agent.world_model.transformer.embed_dim={self.transformer.embed_dim}; make them equal")

    @property
    def num_reward_classes(self) -> int:
        return NUM_BINS if self.two_hot_rews else 3


@dataclass
class WorldModelOutput:
    output_sequence: Tensor  # (B, T, E)
    logits_latents: Tensor  # (B, n_lat, codebook_size): positions that predict a Δ-token
    logits_rewards: Tensor  # (B, n_act, 255 or 3)
    logits_ends: Tensor  # (B, n_act, 2)


class DeltaWorldModel(nn.Module):
    def __init__(self, config: DeltaWorldModelConfig, num_actions: int, codebook_size: int) -> None:
        super().__init__()
        self.config = c = config
        t, e = c.transformer, c.transformer.embed_dim
        num_latents = t.tokens_per_block - 2
        # Registration order = the authors' checkpoint key order.
        self.transformer = Transformer(t)
        # The I-token's CNN, then LayerNorm; keys "0" and "2" as in the authors' nn.Sequential, whose
        # parameter-free flatten was "1".
        self.frame_cnn = nn.ModuleDict({"0": FrameEncoder(3, c.frame_cnn), "2": nn.LayerNorm(e)})
        self.act_emb = nn.Embedding(num_actions, e)
        self.latents_emb = nn.Embedding(codebook_size, e)
        latent_positions = list(range(ACTION_POSITION, ACTION_POSITION + num_latents))
        self.head_latents = Head(latent_positions, t.tokens_per_block, e, codebook_size)
        self.head_rewards = Head([ACTION_POSITION], t.tokens_per_block, e, c.num_reward_classes)
        self.head_ends = Head([ACTION_POSITION], t.tokens_per_block, e, 2)
        self.apply(init_weights)

    @property
    def tokens_per_block(self) -> int:
        return self.config.transformer.tokens_per_block

    @property
    def max_blocks(self) -> int:
        return self.config.transformer.max_blocks

    def new_kv_cache(self, batch_size: int) -> KVCache:
        return self.transformer.new_kv_cache(batch_size)

    def frame_token(self, frames: Tensor) -> Tensor:
        """Frames (..., 3, 64, 64) in [0, 1] -> I-tokens (..., E): CNN, flattened as (h, w, c)."""
        features = self.frame_cnn["0"](frames)  # (..., C, 8, 8)
        return self.frame_cnn["2"](features.movedim(-3, -1).flatten(-3))

    def embed_sequence(self, observations: Tensor, actions: Tensor, latents: Tensor) -> Tensor:
        """Blocks [I(o_t), a_t, z_{t+1}^1..K]: (B, T, 3, 64, 64), (B, T), (B, T, K) -> (B, T * (2 + K), E)."""
        blocks = torch.cat([self.frame_token(observations).unsqueeze(2), self.act_emb(actions).unsqueeze(2),
                            self.latents_emb(latents)], dim=2)  # (B, T, 2 + K, E)
        return blocks.flatten(1, 2)

    def forward(self, embeddings: Tensor, kv_cache: KVCache | None = None) -> WorldModelOutput:
        """Token embeddings (B, T, E) continuing the cached sequence (or starting one)."""
        start = 0 if kv_cache is None else kv_cache.size
        x = self.transformer(embeddings, kv_cache)
        return WorldModelOutput(x, self.head_latents(x, start), self.head_rewards(x, start), self.head_ends(x, start))

    def burn_in(self, observations: Tensor, actions: Tensor, latents: Tensor, kv_cache: KVCache | None) -> Tensor:
        """[I(o_0), a_0, z_1, ..., I(o_{L-1}), a_{L-1}, z_L, I(o_L)] through the transformer (filling
        ``kv_cache``): observations (B, L + 1, ...), actions (B, L), latents (B, L, K) -> (B, 6L + 1, E)."""
        context = self.embed_sequence(observations[:, :-1], actions, latents)
        last = self.frame_token(observations[:, -1:])  # (B, 1, E)
        return self(torch.cat([context, last], dim=1), kv_cache).output_sequence

    def compute_loss(self, batch: Batch, latents: Tensor) -> Losses:
        """Weighted cross-entropies of the next Δ-tokens, the rewards and the ends; ``latents``
        (B, T - 1, K): the tokenizer's tokens of the segment's transitions."""
        obs, actions, mask = batch.observations, batch.actions, batch.mask_padding
        b, t = actions.shape
        k = latents.shape[-1]
        filler = latents.new_zeros(b, 1, k)  # the last step has no next frame
        out = self(self.embed_sequence(obs, actions, torch.cat([latents, filler], dim=1)))
        c = self.config
        logits_latents = out.logits_latents.view(b, t, k, -1)[:, :-1]  # (B, T-1, K, C)
        labels_latents = latents.masked_fill(~mask[:, :-1].unsqueeze(-1), -100)
        loss_latents = F.cross_entropy(logits_latents.flatten(0, 2), labels_latents.flatten())
        counted = labels_latents != -100
        accuracy = ((logits_latents.argmax(-1) == latents) & counted).sum() / counted.sum().clamp(min=1)
        return Losses.from_terms(
            loss_latents=c.latents_weight * loss_latents,
            loss_rewards=c.rewards_weight * self.reward_loss(out.logits_rewards, batch.rewards, mask),
            loss_ends=c.ends_weight * F.cross_entropy(out.logits_ends.flatten(0, 1),
                                                      batch.ends.masked_fill(~mask, -100).flatten()),
        ).with_metrics(latent_accuracy=accuracy)

    def reward_loss(self, logits: Tensor, rewards: Tensor, mask: Tensor) -> Tensor:
        """logits (B, T, 255 | 3) of rewards (B, T), averaged over the real steps (masks rather than
        boolean indexing, whose data-dependent shapes would wait on the device)."""
        if not self.config.two_hot_rews:
            labels = (rewards.sign() + 1).long().masked_fill(~mask, -100)
            return F.cross_entropy(logits.flatten(0, 1), labels.flatten())
        per_step = F.cross_entropy(logits.flatten(0, 1), symlog_two_hot(rewards.float()).flatten(0, 1),
                                   reduction="none").view_as(rewards)
        return (per_step * mask).sum() / mask.sum().clamp(min=1)
