"""The plain eager reference path that the benchmarks measure the optimised path against.

It is the straightforward implementation of the same computation, as research code writes it:
attention written out with an explicit mask (no fused kernel), a KV cache grown by concatenation
(every pass copies every earlier key and value), argument-validated sampling (on a GPU, a host sync
for every sampled token), float32 and no compilation. It shares the networks' weights and random
stream with the optimised path, so both give the same samples; ``tests/test_reference_path.py``
checks that they do.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
from torch import Tensor
from torch.distributions import Categorical

from iris_wm.agents.base import Phase
from iris_wm.agents.iris.agent import IRISAgent
from iris_wm.agents.iris.imagination import IRISImagination
from iris_wm.agents.iris.tokenizer import Tokenizer
from iris_wm.agents.iris.world_model import WorldModel
from iris_wm.models.transformer import SelfAttention, Transformer


class ConcatKVCache:
    """Per-layer keys and values, each pass concatenated onto the previous ones."""

    def __init__(self, num_layers: int, batch_size: int, max_tokens: int) -> None:
        self.num_layers, self.batch_size, self.max_tokens = num_layers, batch_size, max_tokens
        self.reset()

    def reset(self) -> None:
        self.keys: list[Tensor | None] = [None] * self.num_layers
        self.values: list[Tensor | None] = [None] * self.num_layers
        self.size = 0

    def append(self, layer: int, keys: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
        if self.keys[layer] is not None:
            keys = torch.cat([self.keys[layer], keys], dim=2)
            values = torch.cat([self.values[layer], values], dim=2)
        self.keys[layer], self.values[layer] = keys, values
        return keys, values

    def advance(self, num_tokens: int) -> None:
        self.size += num_tokens


def manual_attention(attn: SelfAttention, x: Tensor, mask: Tensor, kv_cache: ConcatKVCache | None,
                     layer: int) -> Tensor:
    b, t, e = x.shape
    q, k, v = (u.view(b, t, attn.num_heads, -1).transpose(1, 2) for u in attn.qkv(x).split(e, dim=-1))
    if kv_cache is not None:
        k, v = kv_cache.append(layer, k, v)  # (B, heads, cache + T, head_dim)
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(k.shape[-1])  # (B, heads, T, cache + T)
    weights = torch.nn.functional.dropout(scores.masked_fill(~mask, float("-inf")).softmax(dim=-1),
                                          attn.attn_pdrop, attn.training)
    return attn.resid_drop(attn.proj((weights @ v).transpose(1, 2).reshape(b, t, e)))


class ReferenceTransformer(Transformer):
    """The GPT backbone with the same parameters, computed the straightforward way."""

    def new_kv_cache(self, batch_size: int) -> ConcatKVCache:
        return ConcatKVCache(self.config.num_layers, batch_size, self.config.max_tokens)

    def forward(self, x: Tensor, kv_cache: ConcatKVCache | None = None) -> Tensor:
        start = 0 if kv_cache is None else kv_cache.size
        t = x.shape[1]
        x = self.drop(x + self.pos_emb.weight[start:start + t])
        mask = self.mask[start:start + t, :start + t]
        for layer, block in enumerate(self.blocks):
            x = x + manual_attention(block.attn, block.ln1(x), mask, kv_cache, layer)
            x = x + block.mlp(block.ln2(x))
        if kv_cache is not None:
            kv_cache.advance(t)
        return self.ln_f(x)


def reference_world_model(world_model: WorldModel) -> WorldModel:
    """A copy of ``world_model`` (same weights and mode) whose backbone is the reference one."""
    wm = world_model
    reference = WorldModel(wm.obs_vocab_size, wm.num_actions, wm.config, backbone=ReferenceTransformer(wm.config))
    reference.load_state_dict(wm.state_dict())
    return reference.to(wm.is_action_position.device).train(wm.training)


def validated_sample(logits: Tensor) -> Tensor:
    """torch's default Categorical: it checks its logits with a Python ``if`` (a host sync)."""
    return Categorical(logits=logits).sample()


def reference_env(tokenizer: Tokenizer, world_model: WorldModel) -> IRISImagination:
    """Imagination through the reference world model, syncing on every sampled token."""
    return IRISImagination(tokenizer, reference_world_model(world_model), sampler=validated_sample)


def reference_phases(agent: IRISAgent, phases: list[Phase]) -> list[Phase]:
    """``agent``'s training phases through the reference path, uncached: its world model becomes the
    reference copy (a submodule still, so the trainer's ``agent.train()`` reaches it), which the
    world-model phase trains and the actor-critic phase imagines through, syncing on every token."""
    agent.world_model = world_model = reference_world_model(agent.world_model)
    env = IRISImagination(agent.tokenizer, world_model, sampler=validated_sample)
    loss_config = agent.config.actor_critic_loss
    def actor_critic_loss(batch):
        tokens = agent.encode_frames(batch)
        return agent.actor_critic.compute_loss(batch, env, loss_config, tokens, agent.decode_frames(tokens))

    losses = {"world_model": lambda batch: world_model.compute_loss(batch, agent.encode_frames(batch)),
              "actor_critic": actor_critic_loss}
    return [replace(phase, module=world_model if phase.name == "world_model" else phase.module,
                    loss=losses.get(phase.name, phase.loss)) for phase in phases]
