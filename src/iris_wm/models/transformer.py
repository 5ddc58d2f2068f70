"""The GPT backbone of IRIS's world model, with a static KV cache (docs/algorithm.md, 'World model').

Pre-LayerNorm minGPT blocks over a stream of embedded tokens. Attention goes through
``scaled_dot_product_attention``; at inference keys and values are written in place into a cache
preallocated for ``max_tokens`` positions, so every tensor keeps a fixed shape from step to step.
``forward_at`` is the fully fixed-shape form of a one-token pass (the imagination's token step):
the position is a device tensor and attention reads the whole cache under a length mask, so one
compiled graph (or CUDA graph) serves every position.

A backbone is any module with ``embed_dim``, ``max_tokens``, ``new_kv_cache(batch_size)`` and
``forward(embeddings (B, T, E), kv_cache=None) -> (B, T, E)`` that adds its own positional
information: the world model depends on nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from iris_wm.config import at_least, probability
from iris_wm.errors import IrisError

ATTENTION_KINDS = ("causal", "block_causal")


@dataclass
class TransformerConfig:
    tokens_per_block: int = at_least(2, 17)  # 16 observation tokens + 1 action token per time step
    max_blocks: int = at_least(1, 20)  # time steps of context
    attention: str = "causal"  # "causal", or "block_causal": tokens also see the rest of their block
    num_layers: int = at_least(1, 10)
    num_heads: int = at_least(1, 4)
    embed_dim: int = at_least(1, 256)
    embed_pdrop: float = probability(0.1)
    resid_pdrop: float = probability(0.1)
    attn_pdrop: float = probability(0.1)

    def __post_init__(self) -> None:
        if self.attention not in ATTENTION_KINDS:
            raise IrisError(f"world_model.attention={self.attention!r} is unknown; use one of {ATTENTION_KINDS}")
        if self.num_heads >= 1 and self.embed_dim % self.num_heads:
            raise IrisError(f"world_model.embed_dim={self.embed_dim} is not divisible by world_model.num_heads="
                            f"{self.num_heads}; choose a number of heads that divides the width")

    @property
    def max_tokens(self) -> int:
        return self.tokens_per_block * self.max_blocks


class KVCache:
    """Keys and values of every layer for ``max_tokens`` positions, filled left to right in place."""

    def __init__(self, num_layers: int, batch_size: int, num_heads: int, max_tokens: int, head_dim: int,
                 device: torch.device, dtype: torch.dtype) -> None:
        # Per layer, (B, heads, max_tokens, head_dim) each. One allocation per tensor rather than views
        # of a single buffer: torch.compile then writes them in place, where it copies a whole
        # buffer for every write into a view of it.
        shape = (batch_size, num_heads, max_tokens, head_dim)
        self.keys = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(num_layers)]
        self.values = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(num_layers)]
        self.size = 0  # positions filled; a Python int so that slicing never syncs with the device

    @property
    def tensors(self) -> list[Tensor]:
        return self.keys + self.values

    @property
    def max_tokens(self) -> int:
        return self.keys[0].shape[-2]

    @property
    def batch_size(self) -> int:
        return self.keys[0].shape[0]

    def reset(self) -> None:
        self.size = 0

    def write(self, layer: int, keys: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
        """Store a chunk's (B, heads, T, head_dim) keys/values after the filled prefix; return the
        keys/values of every position so far. ``advance`` must follow once all layers are written."""
        start, stop = self.size, self.size + keys.shape[-2]
        assert stop <= self.max_tokens, f"KV cache overflow: {stop} > {self.max_tokens} tokens"
        self.keys[layer][:, :, start:stop] = keys
        self.values[layer][:, :, start:stop] = values
        return self.keys[layer][:, :, :stop], self.values[layer][:, :, :stop]

    def write_at(self, layer: int, keys: Tensor, values: Tensor, position: Tensor) -> tuple[Tensor, Tensor]:
        """Store one token's (B, heads, 1, head_dim) keys/values at the device index ``position`` ((1,)
        int64); return the layer's whole keys/values (B, heads, max_tokens, head_dim), positions
        past ``position`` to be masked. No Python-side index: the same graph serves every position.
        ``size`` is the caller's to advance. Like ``write``, it stores in the cache's dtype (index_copy_
        itself would refuse bf16 keys from under autocast in a float32 cache)."""
        self.keys[layer].index_copy_(2, position, keys.to(self.keys[layer].dtype))
        self.values[layer].index_copy_(2, position, values.to(self.values[layer].dtype))
        return self.keys[layer], self.values[layer]

    def advance(self, num_tokens: int) -> None:
        self.size += num_tokens


def attention_mask(config: TransformerConfig) -> Tensor:
    """(max_tokens, max_tokens) bool, True where a query (row) may attend to a key (column)."""
    causal = torch.ones(config.max_tokens, config.max_tokens).tril().bool()
    if config.attention == "causal":
        return causal
    # block_causal: also see the rest of one's own block
    blocks = torch.block_diag(*[torch.ones(config.tokens_per_block, config.tokens_per_block)] * config.max_blocks)
    return causal | blocks.bool()


class SelfAttention(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        assert config.embed_dim % config.num_heads == 0
        self.num_heads = config.num_heads
        self.attn_pdrop = config.attn_pdrop
        # query, key and value in one matmul (the authors' separate key/query/value map onto its rows)
        self.qkv = nn.Linear(config.embed_dim, 3 * config.embed_dim)
        self.proj = nn.Linear(config.embed_dim, config.embed_dim)
        self.resid_drop = nn.Dropout(config.resid_pdrop)

    def forward(self, x: Tensor, mask: Tensor | None, kv_cache: KVCache | None, layer: int,
                position: Tensor | None = None) -> Tensor:
        b, t, e = x.shape
        q, k, v = (u.view(b, t, self.num_heads, -1).transpose(1, 2) for u in self.qkv(x).split(e, dim=-1))
        if position is not None:
            k, v = kv_cache.write_at(layer, k, v, position)  # (B, heads, max_tokens, head_dim)
        elif kv_cache is not None:
            k, v = kv_cache.write(layer, k, v)  # (B, heads, cache + T, head_dim)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                           dropout_p=self.attn_pdrop if self.training else 0.0)
        return self.resid_drop(self.proj(y.transpose(1, 2).reshape(b, t, e)))


class Block(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(config.embed_dim)
        self.ln2 = nn.LayerNorm(config.embed_dim)
        self.attn = SelfAttention(config)
        self.mlp = nn.Sequential(
            nn.Linear(config.embed_dim, 4 * config.embed_dim),
            nn.GELU(),
            nn.Linear(4 * config.embed_dim, config.embed_dim),
            nn.Dropout(config.resid_pdrop),
        )

    def forward(self, x: Tensor, mask: Tensor | None, kv_cache: KVCache | None, layer: int,
                position: Tensor | None = None) -> Tensor:
        x = x + self.attn(self.ln1(x), mask, kv_cache, layer, position)
        return x + self.mlp(self.ln2(x))


class Transformer(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        self.pos_emb = nn.Embedding(config.max_tokens, config.embed_dim)
        self.drop = nn.Dropout(config.embed_pdrop)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.num_layers))
        self.ln_f = nn.LayerNorm(config.embed_dim)
        # One mask for all layers, rebuilt from the config rather than stored in checkpoints.
        self.register_buffer("mask", attention_mask(config), persistent=False)
        self.register_buffer("key_positions", torch.arange(config.max_tokens), persistent=False)

    @property
    def embed_dim(self) -> int:
        return self.config.embed_dim

    @property
    def max_tokens(self) -> int:
        return self.config.max_tokens

    def new_kv_cache(self, batch_size: int) -> KVCache:
        """A cache in the dtype the keys are computed in: under autocast its dtype (bf16 keys kept
        as they are: the same numbers as a float32 cache, which attention would cast back to bf16,
        for half the memory and none of the per-pass casts of the whole cache), else the weights'."""
        c, weight = self.config, self.pos_emb.weight
        device_type = weight.device.type
        autocast = torch.is_autocast_enabled(device_type)
        dtype = torch.get_autocast_dtype(device_type) if autocast else weight.dtype
        return KVCache(c.num_layers, batch_size, c.num_heads, c.max_tokens, c.embed_dim // c.num_heads,
                       weight.device, dtype)

    def chunk_mask(self, start: int, length: int) -> Tensor | None:
        """Rows [start, start+length), columns [0, start+length) of the mask; None when nothing is
        hidden (a single causal query sees every earlier key), which lets SDPA take its fast path."""
        if length == 1 and self.config.attention == "causal":
            return None
        return self.mask[start:start + length, :start + length]

    def forward(self, x: Tensor, kv_cache: KVCache | None = None) -> Tensor:
        """x (B, T, E) token embeddings -> (B, T, E). With a cache, x continues its sequence."""
        start = 0 if kv_cache is None else kv_cache.size
        t = x.shape[1]
        assert start + t <= self.config.max_tokens, f"{start + t} tokens exceed max_tokens={self.max_tokens}"
        x = self.drop(x + self.pos_emb.weight[start:start + t])
        mask = self.chunk_mask(start, t)
        for layer, block in enumerate(self.blocks):
            x = block(x, mask, kv_cache, layer)
        if kv_cache is not None:
            kv_cache.advance(t)
        return self.ln_f(x)

    def forward_at(self, x: Tensor, kv_cache: KVCache, position: Tensor) -> Tensor:
        """x (B, 1, E): one token per row at the device position ``position`` ((1,) int64) of the
        cache -> (B, 1, E); the same numbers as ``forward`` of that token (up to float rounding)
        with fixed shapes only. A lone token sees every key up to its own, under either attention
        kind (the rest of its block is not written yet). Leaves ``kv_cache.size`` to the caller."""
        x = self.drop(x + self.pos_emb(position))
        mask = (self.key_positions <= position).unsqueeze(0)  # (1, max_tokens): the filled keys, its own included
        for layer, block in enumerate(self.blocks):
            x = block(x, mask, kv_cache, layer, position)
        return self.ln_f(x)
