"""Imagination: the world model as a batched environment (docs/algorithm.md, 'Imagination').

Each step feeds the action token, samples reward and end from that pass, then samples the next
frame's tokens one at a time, feeding each back: 1 + K sequential passes over the KV cache.
Rewards and ends stay on the device; nothing in the loop waits for the host.

The token passes run as ``token_pass`` says (``iris_wm.models.acceleration``): "eager" slices the
cache to its filled length; "fixed" passes the position as a device tensor and masks the whole
cache, so no shape changes from pass to pass and "compiled" / "cuda-graphs" run one graph for
every position. Sampling stays outside the graph, in the same order: every mode draws the same
random numbers, so from one seed they imagine the same rollouts (up to float rounding of logits).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
from torch import Tensor

from iris_wm.agents.iris.tokenizer import Tokenizer
from iris_wm.agents.iris.world_model import WorldModel, WorldModelOutput
from iris_wm.errors import IrisError
from iris_wm.models.acceleration import TOKEN_PASSES, compile_fullgraph
from iris_wm.models.distributions import sample
from iris_wm.models.transformer import KVCache


def fixed_shape_pass(world_model: WorldModel, tokens: Tensor, kv_cache: KVCache, position: Tensor) -> WorldModelOutput:
    """One token per row at the device ``position`` ((1,) int64), which moves on in place: the
    whole per-token step as tensors of fixed shapes, the unit that is compiled."""
    out = world_model.forward_at(tokens, kv_cache, position)
    position.add_(1)
    return out


def make_fixed_pass(token_pass: str, compile_backend: str) -> Callable | None:
    """The per-token pass of ``token_pass`` (None: the eager one, through ``WorldModel.forward``)."""
    if token_pass == "eager":
        return None
    if token_pass == "fixed":
        return fixed_shape_pass
    return compile_fullgraph(fixed_shape_pass, compile_backend, cuda_graphs=token_pass == "cuda-graphs")


class IRISImagination:
    def __init__(self, tokenizer: Tokenizer, world_model: WorldModel,
                 sampler: Callable[[Tensor], Tensor] = sample, token_pass: str = "eager",
                 compile_backend: str = "inductor",
                 precision: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext) -> None:
        assert token_pass in TOKEN_PASSES, token_pass
        if token_pass != "eager" and not world_model.has_fixed_shape_pass:
            raise IrisError(f"agent.speed.token_pass={token_pass} needs IRIS's own transformer, and this world model's "
                            "backbone has no fixed-shape pass; use agent.speed.token_pass=eager")
        self.tokenizer, self.world_model = tokenizer.eval(), world_model.eval()
        self.sampler = sampler  # logits (B, n) -> (B,) indices
        self.token_pass = token_pass
        self.precision = precision  # a context for the networks' passes (bf16 autocast, when asked)
        self._fixed_pass = make_fixed_pass(token_pass, compile_backend)
        self.kv_cache = None
        self.position: Tensor | None = None  # (1,) int64 on the device: kv_cache.size, for the fixed-shape pass
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

    @property
    def steps_left(self) -> int:
        """Steps (an action and a frame's K tokens each) that fit before ``step`` restarts the context."""
        return (self.kv_cache.max_tokens - self.kv_cache.size) // (self.tokens_per_frame + 1)

    @torch.no_grad()
    def reset_from_initial_observations(self, observations: Tensor) -> Tensor:
        """observations (B, 3, H, W) in [0, 1] -> the frames as the world model sees them: their
        reconstruction through the tokenizer (B, 3, H, W) in [0, 1]."""
        tokens = self.tokenizer.encode(observations, should_preprocess=True).tokens  # (B, K)
        self.reset_from_tokens(tokens)
        return self.tokenizer.decode_tokens(tokens)

    def reset_from_past(self, observations: Tensor, actions: Tensor) -> Tensor:
        """Training's start: observations (B, L + 1, 3, H, W) in [0, 1], of which IRIS's world model
        takes the last frame alone (the frames before it only burn in the policy); actions unused."""
        return self.reset_from_initial_observations(observations[:, -1])

    @property
    def tokens(self) -> Tensor | None:
        """(B, K) the tokens of the current frame (the last one ``step`` imagined)."""
        return self.obs_tokens

    @torch.no_grad()
    def real_tokens(self, observations: Tensor, actions: Tensor) -> Tensor:
        """The tokenizer's tokens of real frames after the first: observations (B, L + 1, 3, H, W) in [0, 1]
        -> (B, L, K); IRIS's tokens do not depend on the actions."""
        return self.tokenizer.encode(observations[:, 1:], should_preprocess=True).tokens

    @torch.no_grad()
    def reset_from_tokens(self, tokens: Tensor) -> None:
        """Start every row's context from one frame given as tokens (B, K)."""
        if self.kv_cache is None or self.kv_cache.batch_size != tokens.shape[0]:
            with self.precision():  # in the dtype the passes compute keys in (bf16 under autocast)
                self.kv_cache = self.world_model.new_kv_cache(tokens.shape[0])
            self.position = torch.zeros(1, dtype=torch.long, device=tokens.device)
            if self.token_pass == "cuda-graphs":
                # Buffers the graph writes in place must keep their addresses between replays.
                for tensor in (*self.kv_cache.tensors, self.position):
                    torch._dynamo.mark_static_address(tensor)
        self._restart_context(tokens)

    @torch.no_grad()
    def flush_context(self) -> None:
        """Forget every frame but the current one, as ``step`` does when the context is full."""
        self._restart_context(self.obs_tokens)

    def _restart_context(self, tokens: Tensor) -> None:
        self.kv_cache.reset()
        with self.precision():
            self.world_model(tokens, self.kv_cache)
        self.position.fill_(self.kv_cache.size)  # once per context, not per token
        self.obs_tokens = tokens

    def _pass(self, tokens: Tensor) -> WorldModelOutput:
        """tokens (B, 1) continuing the context; the heads' last position is what it predicts."""
        with self.precision():
            if self._fixed_pass is None:
                return self.world_model(tokens, self.kv_cache)
            if self.token_pass == "cuda-graphs":
                # The previous pass's outputs are read by now: the replay may overwrite them.
                torch.compiler.cudagraph_mark_step_begin()
            out = self._fixed_pass(self.world_model, tokens, self.kv_cache, self.position)
        self.kv_cache.advance(1)  # the host's count, for the context check: no sync
        return out

    @torch.no_grad()
    def step(self, actions: Tensor, should_predict_next_obs: bool = True) -> tuple[Tensor | None, Tensor, Tensor]:
        """actions (B,) int64 -> (next frames (B, 3, H, W) in [0, 1] or None, rewards (B,) float in
        {-1, 0, 1}, ends (B,) bool), all on the device."""
        passes = 1 + (self.tokens_per_frame if should_predict_next_obs else 0)
        if self.kv_cache.size + passes > self.kv_cache.max_tokens:
            # Out of context: start again from the current frame alone (the original's behaviour;
            # never reached by the 20-step rollouts of training).
            self._restart_context(self.obs_tokens)
        out = self._pass(actions.unsqueeze(1))
        rewards = self.sampler(out.logits_rewards[:, -1]).float() - 1
        ends = self.sampler(out.logits_ends[:, -1]).bool()
        if not should_predict_next_obs:
            return None, rewards, ends
        tokens = []
        for _ in range(self.tokens_per_frame):
            tokens.append(self.sampler(out.logits_observations[:, -1]))
            out = self._pass(tokens[-1].unsqueeze(1))  # the last pass fills the cache only
        self.obs_tokens = torch.stack(tokens, dim=1)  # (B, K)
        with self.precision():
            frames = self.tokenizer.decode_tokens(self.obs_tokens)
        return frames.float(), rewards, ends  # float32 for the policy, whatever the decoder's precision
