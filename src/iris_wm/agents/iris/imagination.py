"""Imagination: the world model as a batched environment (docs/algorithm.md, 'Imagination').

Each step feeds the action token, samples reward and end from that pass, then samples the next
frame's tokens one at a time, feeding each back: 1 + K sequential passes over the KV cache.
Rewards and ends stay on the device; nothing in the loop waits for the host.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from iris_wm.agents.iris.tokenizer import Tokenizer
from iris_wm.agents.iris.world_model import WorldModel
from iris_wm.models.distributions import sample


class WorldModelEnv:
    def __init__(self, tokenizer: Tokenizer, world_model: WorldModel,
                 sampler: Callable[[Tensor], Tensor] = sample) -> None:
        self.tokenizer, self.world_model = tokenizer.eval(), world_model.eval()
        self.sampler = sampler  # logits (B, n) -> (B,) indices
        self.kv_cache = None
        self.obs_tokens: Tensor | None = None  # (B, K) tokens of the current frame

    @property
    def tokens_per_frame(self) -> int:
        return self.world_model.tokens_per_block - 1

    @property
    def memory(self) -> int:
        """Frames the world model remembers (its KV cache holds K tokens per frame and one per action)."""
        return (self.kv_cache.size + 1) // (self.tokens_per_frame + 1)

    @property
    def context_frames(self) -> int:
        return self.world_model.config.max_blocks

    @torch.no_grad()
    def reset_from_initial_observations(self, observations: Tensor) -> Tensor:
        """observations (B, 3, H, W) in [0, 1] -> the frames as the world model sees them: their
        reconstruction through the tokenizer (B, 3, H, W) in [0, 1]."""
        tokens = self.tokenizer.encode(observations, should_preprocess=True).tokens  # (B, K)
        self.reset_from_tokens(tokens)
        return self.tokenizer.decode_tokens(tokens)

    @torch.no_grad()
    def reset_from_tokens(self, tokens: Tensor) -> None:
        """Start every row's context from one frame given as tokens (B, K)."""
        if self.kv_cache is None or self.kv_cache.batch_size != tokens.shape[0]:
            self.kv_cache = self.world_model.new_kv_cache(tokens.shape[0])
        self._restart_context(tokens)

    @torch.no_grad()
    def flush_context(self) -> None:
        """Forget every frame but the current one, as ``step`` does when the context is full."""
        self._restart_context(self.obs_tokens)

    def _restart_context(self, tokens: Tensor) -> None:
        self.kv_cache.reset()
        self.world_model(tokens, self.kv_cache)
        self.obs_tokens = tokens

    @torch.no_grad()
    def step(self, actions: Tensor, should_predict_next_obs: bool = True) -> tuple[Tensor | None, Tensor, Tensor]:
        """actions (B,) int64 -> (next frames (B, 3, H, W) in [0, 1] or None, rewards (B,) float in
        {-1, 0, 1}, ends (B,) bool), all on the device."""
        passes = 1 + (self.tokens_per_frame if should_predict_next_obs else 0)
        if self.kv_cache.size + passes > self.kv_cache.max_tokens:
            # Out of context: start again from the current frame alone (the original's behaviour;
            # never reached by the 20-step rollouts of training).
            self._restart_context(self.obs_tokens)
        out = self.world_model(actions.unsqueeze(1), self.kv_cache)
        rewards = self.sampler(out.logits_rewards[:, -1]).float() - 1
        ends = self.sampler(out.logits_ends[:, -1]).bool()
        if not should_predict_next_obs:
            return None, rewards, ends
        tokens = []
        for _ in range(self.tokens_per_frame):
            tokens.append(self.sampler(out.logits_observations[:, -1]))
            out = self.world_model(tokens[-1].unsqueeze(1), self.kv_cache)  # the last pass fills the cache only
        self.obs_tokens = torch.stack(tokens, dim=1)  # (B, K)
        return self.tokenizer.decode_tokens(self.obs_tokens), rewards, ends
