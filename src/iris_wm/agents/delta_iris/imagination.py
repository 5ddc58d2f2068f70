"""Δ-IRIS's imagination: the world model as a batched environment (docs/delta-iris.md,
'Imagination').

Each step makes 4 transformer passes over the KV cache: [last Δ-token of the previous step, I-token
of the current frame, action] (reward, end and the first Δ-token are read at the action), then one
pass per sampled Δ-token for the next. The frame is decoded from (previous frame, action, Δ-tokens)
and its I-token waits for the next step. Rewards and ends stay on the device.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from iris_wm.agents.delta_iris.tokenizer import DeltaTokenizer
from iris_wm.agents.delta_iris.world_model import DeltaWorldModel
from iris_wm.models.distributions import sample
from iris_wm.models.two_hot import expected_value


class DeltaImagination:
    def __init__(self, tokenizer: DeltaTokenizer, world_model: DeltaWorldModel,
                 sampler: Callable[[Tensor], Tensor] = sample) -> None:
        self.tokenizer, self.world_model = tokenizer.eval(), world_model.eval()
        self.sampler = sampler  # logits (B, n) -> (B,) indices
        self.kv_cache = None
        self.frames: Tensor | None = None  # (B, 3, H, W): the current frame
        self.tokens: Tensor | None = None  # (B, K): the Δ-tokens of the last imagined step
        self.pending: list[Tensor] = []  # embeddings (B, 1, E) of tokens not yet fed to the transformer

    @property
    def memory(self) -> int:
        """Frames the world model remembers now (each takes a block of 2 + K tokens; the current
        frame's may still wait to be fed)."""
        blocks = -(-(self.kv_cache.size + len(self.pending)) // self.world_model.tokens_per_block)
        return min(blocks, self.context_frames)

    @property
    def context_frames(self) -> int:
        return self.world_model.max_blocks

    @property
    def steps_left(self) -> int:
        """Steps that fit before ``step`` flushes the context: it flushes once one block's room or
        less is left; a step feeds the pending tokens, the action and K - 1 Δ-tokens."""
        block, room = self.world_model.tokens_per_block, self.kv_cache.max_tokens - self.kv_cache.size
        if room <= block:
            return 0
        room_after_first = room - len(self.pending) - (block - 2)  # then 2 pending + K per step: a block
        return 1 + max(0, -(-room_after_first // block) - 1)

    @torch.no_grad()
    def reset_from_past(self, observations: Tensor, actions: Tensor) -> Tensor:
        """Start from real context: observations (B, L + 1, 3, H, W) in [0, 1] and the L actions
        (B, L) between them. Returns the last frame (B, 3, H, W), where imagination starts."""
        return self.reset_from_tokens(observations, actions, self.real_tokens(observations, actions))

    @torch.no_grad()
    def reset_from_tokens(self, observations: Tensor, actions: Tensor, latents: Tensor) -> Tensor:
        """``reset_from_past`` given the transitions' tokens ``latents`` (B, L, K)."""
        b = observations.shape[0]
        if self.kv_cache is None or self.kv_cache.batch_size != b:
            self.kv_cache = self.world_model.new_kv_cache(b)
        self.kv_cache.reset()
        if actions.shape[1] > 0:
            self.world_model.burn_in(observations, actions, latents, self.kv_cache)
        else:  # a single frame: its I-token alone
            self.world_model(self.world_model.frame_token(observations), self.kv_cache)
        self.frames, self.pending, self.tokens = observations[:, -1], [], None
        return self.frames

    @torch.no_grad()
    def real_tokens(self, observations: Tensor, actions: Tensor) -> Tensor:
        """The tokenizer's Δ-tokens of real transitions: observations (B, L + 1, 3, H, W) in [0, 1] and the
        L actions (B, L) between them -> (B, L, K), each frame's tokens given the real frame before it."""
        return self.tokenizer.encode(observations[:, :-1], actions, observations[:, 1:]).tokens

    def reset_from_initial_observations(self, observations: Tensor) -> Tensor:
        """A context of one real frame (B, 3, H, W); the world model sees it as it is."""
        return self.reset_from_past(observations.unsqueeze(1), observations.new_zeros(len(observations), 0).long())

    @torch.no_grad()
    def flush_context(self) -> None:
        """Forget every frame but the current one, as ``step`` does when the context is full."""
        self.kv_cache.reset()
        self.pending = [self.world_model.frame_token(self.frames).unsqueeze(1)]

    @torch.no_grad()
    def step(self, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """actions (B,) int64 -> (next frames (B, 3, H, W) in [0, 1], rewards (B,) float, ends (B,)
        bool), all on the device."""
        wm = self.world_model
        if (self.kv_cache.max_tokens - self.kv_cache.size) / wm.tokens_per_block <= 1:
            self.flush_context()  # out of context, as the authors' (never reached by training's rollouts)
        chunk = torch.cat([*self.pending, wm.act_emb(actions).unsqueeze(1)], dim=1)  # (B, 1..3, E)
        out = wm(chunk, self.kv_cache)
        if wm.config.two_hot_rews:
            rewards = expected_value(out.logits_rewards[:, -1])
        else:
            rewards = self.sampler(out.logits_rewards[:, -1]).float() - 1
        ends = self.sampler(out.logits_ends[:, -1]).bool()
        latents = [self.sampler(out.logits_latents[:, -1])]
        for _ in range(wm.tokens_per_block - 3):
            out = wm(wm.latents_emb(latents[-1]).unsqueeze(1), self.kv_cache)
            latents.append(self.sampler(out.logits_latents[:, -1]))
        tokens = self.tokens = torch.stack(latents, dim=1)  # (B, K)
        self.frames = self.tokenizer.decode_tokens(self.frames.unsqueeze(1), actions.unsqueeze(1),
                                                   tokens.unsqueeze(1))[:, 0]
        self.pending = [wm.latents_emb(latents[-1]).unsqueeze(1), wm.frame_token(self.frames).unsqueeze(1)]
        return self.frames, rewards, ends
