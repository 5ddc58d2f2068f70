"""IRIS's world model: a sequence model over [16 observation tokens, 1 action token] blocks.

Each token is embedded with the observation or the action table according to its position in
its block; a backbone (the GPT of ``transformer.py`` by default, any module with the same
interface otherwise) mixes them; three heads read these positions (docs/algorithm.md, 'World model'):
- observations: every position but the frame's last token predicts the next observation token;
- rewards (sign, 3 classes) and ends (2 classes): the action position.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from iris_wm.data.batch import Batch
from iris_wm.models.heads import Head
from iris_wm.models.init import init_weights
from iris_wm.models.losses import Losses
from iris_wm.models.transformer import KVCache, Transformer, TransformerConfig


@dataclass
class WorldModelOutput:
    output_sequence: Tensor  # (B, T, E)
    logits_observations: Tensor  # (B, n_obs, obs_vocab): one per position that predicts a frame token
    logits_rewards: Tensor  # (B, n_act, 3): classes sign(r) + 1
    logits_ends: Tensor  # (B, n_act, 2)


class WorldModel(nn.Module):
    def __init__(self, obs_vocab_size: int, num_actions: int, config: TransformerConfig | None = None,
                 backbone: nn.Module | None = None) -> None:
        super().__init__()
        self.config = config = config or TransformerConfig()
        self.obs_vocab_size, self.num_actions = obs_vocab_size, num_actions
        tpb = config.tokens_per_block
        self.transformer = backbone if backbone is not None else Transformer(config)
        embed_dim = self.transformer.embed_dim
        self.action_embedding = nn.Embedding(num_actions, embed_dim)
        self.obs_embedding = nn.Embedding(obs_vocab_size, embed_dim)
        action_position = tpb - 1
        self.head_observations = Head([p for p in range(tpb) if p != tpb - 2], tpb, embed_dim, obs_vocab_size)
        self.head_rewards = Head([action_position], tpb, embed_dim, 3)
        self.head_ends = Head([action_position], tpb, embed_dim, 2)
        is_action = torch.arange(self.transformer.max_tokens) % tpb == action_position
        self.register_buffer("is_action_position", is_action, persistent=False)
        own_parts = [self.action_embedding, self.obs_embedding, self.head_observations, self.head_rewards,
                     self.head_ends] + ([self.transformer] if backbone is None else [])  # keep pretrained weights
        for part in own_parts:
            part.apply(init_weights)

    @property
    def tokens_per_block(self) -> int:
        return self.config.tokens_per_block

    @property
    def max_tokens(self) -> int:
        return self.transformer.max_tokens

    def new_kv_cache(self, batch_size: int) -> KVCache:
        return self.transformer.new_kv_cache(batch_size)

    def embed(self, tokens: Tensor, start: int) -> Tensor:
        """tokens (B, T) whose first one sits at absolute position ``start`` -> (B, T, E)."""
        return self.embed_where(tokens, self.is_action_position[start:start + tokens.shape[1]].unsqueeze(-1))

    def embed_where(self, tokens: Tensor, is_action: Tensor) -> Tensor:
        """tokens (B, T) -> (B, T, E), the action table where ``is_action`` ((T, 1) bool) is set."""
        # Both tables are looked up everywhere (clamped into range) and the right one kept: a
        # fixed-shape select, rather than a data-dependent gather.
        actions = self.action_embedding(tokens.clamp(max=self.num_actions - 1))
        observations = self.obs_embedding(tokens.clamp(max=self.obs_vocab_size - 1))
        return torch.where(is_action, actions, observations)

    def forward(self, tokens: Tensor, kv_cache: KVCache | None = None) -> WorldModelOutput:
        """tokens (B, T) continuing the cached sequence (or starting one without a cache)."""
        start = 0 if kv_cache is None else kv_cache.size
        x = self.transformer(self.embed(tokens, start), kv_cache)
        return WorldModelOutput(
            output_sequence=x,
            logits_observations=self.head_observations(x, start),
            logits_rewards=self.head_rewards(x, start),
            logits_ends=self.head_ends(x, start),
        )

    @property
    def has_fixed_shape_pass(self) -> bool:
        """Whether the backbone offers ``forward_at`` (IRIS's GPT does; a language model does not)."""
        return hasattr(self.transformer, "forward_at")

    def forward_at(self, tokens: Tensor, kv_cache: KVCache, position: Tensor) -> WorldModelOutput:
        """The fixed-shape pass of one token per row, tokens (B, 1), at the device position
        ``position`` ((1,) int64) of the cache: every head reads the position (B, 1, n), and the
        caller keeps what that position predicts. No Python value depends on the position, so one
        graph serves a whole rollout."""
        x = self.embed_where(tokens, self.is_action_position[position].unsqueeze(-1))  # (B, 1, E)
        x = self.transformer.forward_at(x, kv_cache, position)
        return WorldModelOutput(
            output_sequence=x,
            logits_observations=self.head_observations.head_module(x),
            logits_rewards=self.head_rewards.head_module(x),
            logits_ends=self.head_ends.head_module(x),
        )

    def compute_loss(self, batch: Batch, obs_tokens: Tensor) -> Losses:
        """Sum of the three cross-entropies; ``obs_tokens`` (B, T, K): the tokenizer's tokens of the frames."""
        tokens = torch.cat([obs_tokens, batch.actions.unsqueeze(-1)], dim=-1).flatten(1)  # (B, T*(K+1))
        out = self(tokens)
        padding = ~batch.mask_padding  # (B, T)
        # Each predicting position targets the next frame token: drop the first label, last logit.
        labels_obs = obs_tokens.masked_fill(padding.unsqueeze(-1), -100).flatten(1)[:, 1:]
        labels_rewards = (batch.rewards.sign() + 1).long().masked_fill(padding, -100)
        labels_ends = batch.ends.long().masked_fill(padding, -100)
        return Losses.from_terms(
            loss_obs=F.cross_entropy(out.logits_observations[:, :-1].flatten(0, 1), labels_obs.flatten()),
            loss_rewards=F.cross_entropy(out.logits_rewards.flatten(0, 1), labels_rewards.flatten()),
            loss_ends=F.cross_entropy(out.logits_ends.flatten(0, 1), labels_ends.flatten()),
        )

