"""An independent, functional reading of the authors' IRIS forward passes.

Written from a description of their architecture and the key listing of their checkpoint
(``iris_state_dict.txt``); no code of the original (or of iris-wm's modules) was consulted. Every
function reads the authors' raw state dict ``sd`` under the authors' key names (their separate
key/query/value linears, their float 0/1 ``attn.mask`` buffers, their ``embedder.embedding_tables``
and head ``indices`` buffers, ``pos_emb`` at world-model level), so it checks an imported agent
against what the authors' model computes with the same tensors. Everything is written out with
plain functional ops on purpose: agreement then cannot come from sharing a module's code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

StateDict = dict[str, Tensor]


@dataclass(frozen=True)
class OriginalConfig:
    """The architecture numbers of the authors' default Atari config."""

    resolution: int = 64  # frames are resolution x resolution
    num_levels: int = 5  # len(ch_mult); levels 0..3 resample by 2
    num_res_blocks: int = 2  # per encoder level; decoder levels have one more
    attn_resolutions: tuple[int, ...] = (8, 16)
    tokens_per_block: int = 17  # 16 obs tokens then 1 action token
    num_layers: int = 10
    num_heads: int = 4


# -- tokenizer building blocks --------------------------------------------------------------------

def _conv(sd: StateDict, name: str, x: Tensor, stride: int = 1, padding: int | None = None) -> Tensor:
    weight = sd[f"{name}.weight"]
    if padding is None:  # "same" padding: 1 for 3x3 kernels, 0 for 1x1
        padding = weight.shape[-1] // 2
    return F.conv2d(x, weight, sd[f"{name}.bias"], stride=stride, padding=padding)


def _group_norm(sd: StateDict, name: str, x: Tensor) -> Tensor:
    return F.group_norm(x, 32, sd[f"{name}.weight"], sd[f"{name}.bias"], eps=1e-6)  # Normalize(C)


def _swish(x: Tensor) -> Tensor:
    return x * torch.sigmoid(x)


def _resnet_block(sd: StateDict, name: str, x: Tensor) -> Tensor:
    """All widths are 64 (ch_mult all 1), so the shortcut is the identity; dropout p = 0."""
    h = _conv(sd, f"{name}.conv1", _swish(_group_norm(sd, f"{name}.norm1", x)))
    h = _conv(sd, f"{name}.conv2", _swish(_group_norm(sd, f"{name}.norm2", h)))
    return x + h


def _attn_block(sd: StateDict, name: str, x: Tensor) -> Tensor:
    """Single-head attention over the H*W positions, scores scaled by 1/sqrt(C)."""
    n, c, h, w = x.shape
    hn = _group_norm(sd, f"{name}.norm", x)
    q, k, v = (_conv(sd, f"{name}.{part}", hn).reshape(n, c, h * w) for part in ("q", "k", "v"))
    scores = torch.matmul(q.transpose(1, 2), k) / math.sqrt(c)  # (N, queries, keys)
    weights = torch.softmax(scores, dim=-1)  # over key positions
    attended = torch.matmul(v, weights.transpose(1, 2)).reshape(n, c, h, w)  # sum_j w_ij v_j
    return x + _conv(sd, f"{name}.proj_out", attended)


def _downsample(sd: StateDict, name: str, x: Tensor) -> Tensor:
    """Zero-pad right and bottom by one pixel, then a stride-2 3x3 conv without padding."""
    return _conv(sd, f"{name}.conv", F.pad(x, (0, 1, 0, 1)), stride=2, padding=0)


def _upsample(sd: StateDict, name: str, x: Tensor) -> Tensor:
    """Nearest-neighbour x2 (each pixel repeated in a 2x2 square), then a 3x3 conv."""
    return _conv(sd, f"{name}.conv", x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3))


def _mid(sd: StateDict, name: str, x: Tensor) -> Tensor:
    x = _resnet_block(sd, f"{name}.block_1", x)
    x = _attn_block(sd, f"{name}.attn_1", x)
    return _resnet_block(sd, f"{name}.block_2", x)


# -- tokenizer ------------------------------------------------------------------------------------

def encoder(sd: StateDict, x: Tensor, cfg: OriginalConfig) -> Tensor:
    """(N, 3, 64, 64) in [-1, 1] -> (N, 512, 4, 4) (before pre_quant_conv)."""
    p = "tokenizer.encoder"
    h = _conv(sd, f"{p}.conv_in", x)
    resolution = cfg.resolution
    for level in range(cfg.num_levels):
        for i in range(cfg.num_res_blocks):
            h = _resnet_block(sd, f"{p}.down.{level}.block.{i}", h)
            if resolution in cfg.attn_resolutions:  # checked before this level's downsample
                h = _attn_block(sd, f"{p}.down.{level}.attn.{i}", h)
        if level < cfg.num_levels - 1:
            h = _downsample(sd, f"{p}.down.{level}.downsample", h)
            resolution //= 2
    h = _mid(sd, f"{p}.mid", h)
    return _conv(sd, f"{p}.conv_out", _swish(_group_norm(sd, f"{p}.norm_out", h)))


def quantize(sd: StateDict, z: Tensor) -> tuple[Tensor, Tensor]:
    """z (N, E, h, w) -> tokens (N, h*w) row-major, z_q (N, E, h, w)."""
    n, e, h, w = z.shape
    vectors = z.permute(0, 2, 3, 1).reshape(n, h * w, e)  # index = w*row + col
    codebook = sd["tokenizer.embedding.weight"]  # (V, E)
    distances = ((vectors ** 2).sum(-1, keepdim=True) + (codebook ** 2).sum(-1)
                 - 2 * torch.matmul(vectors, codebook.t()))  # ||z||^2 + ||e||^2 - 2 z.e
    tokens = distances.argmin(dim=-1)
    z_q = codebook[tokens].reshape(n, h, w, e).permute(0, 3, 1, 2)
    return tokens, z_q


def encode(sd: StateDict, x: Tensor, cfg: OriginalConfig) -> tuple[Tensor, Tensor, Tensor]:
    """(N, 3, 64, 64) in [-1, 1] -> z, z_q (N, 512, 4, 4) and tokens (N, 16)."""
    z = _conv(sd, "tokenizer.pre_quant_conv", encoder(sd, x, cfg))
    tokens, z_q = quantize(sd, z)
    return z, z_q, tokens


def decode(sd: StateDict, z_q: Tensor, cfg: OriginalConfig) -> Tensor:
    """(N, 512, 4, 4) -> (N, 3, 64, 64) in [-1, 1] space, no output activation."""
    p = "tokenizer.decoder"
    h = _conv(sd, f"{p}.conv_in", _conv(sd, "tokenizer.post_quant_conv", z_q))
    h = _mid(sd, f"{p}.mid", h)
    resolution = cfg.resolution // 2 ** (cfg.num_levels - 1)
    for level in reversed(range(cfg.num_levels)):  # up[4] (4x4) first, up[0] (64x64) last
        for i in range(cfg.num_res_blocks + 1):
            h = _resnet_block(sd, f"{p}.up.{level}.block.{i}", h)
            if resolution in cfg.attn_resolutions:
                h = _attn_block(sd, f"{p}.up.{level}.attn.{i}", h)
        if level > 0:
            h = _upsample(sd, f"{p}.up.{level}.upsample", h)
            resolution *= 2
    return _conv(sd, f"{p}.conv_out", _swish(_group_norm(sd, f"{p}.norm_out", h)))


# -- world model ----------------------------------------------------------------------------------

def _linear(sd: StateDict, name: str, x: Tensor) -> Tensor:
    return F.linear(x, sd[f"{name}.weight"], sd[f"{name}.bias"])


def _layer_norm(sd: StateDict, name: str, x: Tensor) -> Tensor:
    weight = sd[f"{name}.weight"]
    return F.layer_norm(x, weight.shape, weight, sd[f"{name}.bias"], eps=1e-5)


def _gelu(x: Tensor) -> Tensor:
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))  # exact (erf) GELU


def _self_attention(sd: StateDict, name: str, x: Tensor, num_heads: int) -> Tensor:
    """Multi-head attention with the layer's float 0/1 mask buffer: mask == 0 -> -inf."""
    b, t, e = x.shape

    def heads(part: str) -> Tensor:  # (B, heads, T, head_dim)
        return _linear(sd, f"{name}.{part}", x).reshape(b, t, num_heads, e // num_heads).transpose(1, 2)

    q, k, v = heads("query"), heads("key"), heads("value")
    scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(e // num_heads)
    mask = sd[f"{name}.mask"][:t, :t]  # rows and columns [0, T): no cache
    weights = torch.softmax(scores.masked_fill(mask == 0, float("-inf")), dim=-1)
    y = torch.matmul(weights, v).transpose(1, 2).reshape(b, t, e)  # heads concatenated
    return _linear(sd, f"{name}.proj", y)


def _embed(sd: StateDict, tokens: Tensor, cfg: OriginalConfig) -> Tensor:
    """Each token through the table chosen by position mod 17 (table 0 = actions at the block's
    last position, table 1 = observations), plus the learned absolute positional embedding."""
    t = tokens.shape[1]
    actions, observations = (sd[f"world_model.embedder.embedding_tables.{i}.weight"] for i in (0, 1))
    x = torch.empty(*tokens.shape, observations.shape[1], dtype=observations.dtype)
    for position in range(t):
        table = actions if position % cfg.tokens_per_block == cfg.tokens_per_block - 1 else observations
        x[:, position] = table[tokens[:, position]]
    return x + sd["world_model.pos_emb.weight"][:t]


def _head(sd: StateDict, name: str, x: Tensor) -> Tensor:
    """Linear -> ReLU -> Linear at the positions of the head's ``indices`` buffer inside the sequence."""
    indices = sd[f"world_model.{name}.indices"]
    h = x[:, indices[indices < x.shape[1]]]
    h = torch.relu(_linear(sd, f"world_model.{name}.head_module.0", h))
    return _linear(sd, f"world_model.{name}.head_module.2", h)


def world_model(sd: StateDict, tokens: Tensor, cfg: OriginalConfig) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """tokens (B, T) from position 0, no cache -> (sequence (B, T, E), obs logits, reward logits,
    end logits), as the authors' forward returns them; eval mode, so no dropout."""
    x = _embed(sd, tokens, cfg)
    for layer in range(cfg.num_layers):  # pre-LN blocks
        p = f"world_model.transformer.blocks.{layer}"
        x = x + _self_attention(sd, f"{p}.attn", _layer_norm(sd, f"{p}.ln1", x), cfg.num_heads)
        h = _gelu(_linear(sd, f"{p}.mlp.0", _layer_norm(sd, f"{p}.ln2", x)))
        x = x + _linear(sd, f"{p}.mlp.2", h)
    x = _layer_norm(sd, "world_model.transformer.ln_f", x)
    return x, _head(sd, "head_observations", x), _head(sd, "head_rewards", x), _head(sd, "head_ends", x)


# -- actor-critic ---------------------------------------------------------------------------------

def actor_critic_step(sd: StateDict, obs: Tensor, hx: Tensor, cx: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One step on obs (N, 3, 64, 64) in [0, 1] from state (hx, cx) (N, 512) each ->
    (logits (N, A), value (N, 1), new hx, new cx)."""
    x = 2 * obs - 1
    for i in range(1, 5):  # conv, then 2x2 max-pool, then ReLU
        x = torch.relu(F.max_pool2d(_conv(sd, f"actor_critic.conv{i}", x), 2))
    x = x.flatten(1)  # (N, 64 * 4 * 4)
    p = "actor_critic.lstm"
    gates = (F.linear(x, sd[f"{p}.weight_ih"], sd[f"{p}.bias_ih"])
             + F.linear(hx, sd[f"{p}.weight_hh"], sd[f"{p}.bias_hh"]))
    i, f, g, o = gates.chunk(4, dim=1)  # PyTorch LSTMCell gate layout
    cx = torch.sigmoid(f) * cx + torch.sigmoid(i) * torch.tanh(g)
    hx = torch.sigmoid(o) * torch.tanh(cx)
    return _linear(sd, "actor_critic.actor_linear", hx), _linear(sd, "actor_critic.critic_linear", hx), hx, cx
