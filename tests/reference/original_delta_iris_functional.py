"""An independent, functional reading of the authors' Δ-IRIS computations.

Written from a written description of their architecture, losses and imagination loop and the
listing of their checkpoint's keys; no code of the original (or of iris-wm's Δ-IRIS modules) was
consulted. Every function reads a flat state dict ``sd`` under the authors' key names
(``tokenizer.encoder.encoder.0.weight``, ``world_model.transformer.blocks.0.sa.query.weight``,
``actor_critic.model.lstm.weight_ih`` ...), so it checks an imported or re-implemented agent against
what the authors' modules compute with the same tensors.

Everything is spelled out with plain functional ops on purpose (explicit attention with the boolean
lower-triangular mask and a softmax, an explicit LSTM cell, nearest upsampling by repetition), and
imagination re-runs the whole token sequence from scratch at every call instead of keeping a KV
cache: agreement with a module-based, cached implementation then cannot come from shared code.

Conventions: frames are float in [0, 1], (..., 3, 64, 64); actions int64; "sampler" is any
``callable(logits (n, K)) -> (n,) int64`` (``argmax_sampler`` by default, so runs are deterministic).
Defaults that the description leaves implicit are PyTorch's: GroupNorm eps 1e-5, LayerNorm eps 1e-5,
exact (erf) GELU, L2 normalisation with eps 1e-12.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

StateDict = dict[str, Tensor]
Sampler = Callable[[Tensor], Tensor]

MULT = (1, 1, 2, 2, 4)  # channel multipliers of the five stages of every frame CNN
DOWN = (1, 0, 1, 1, 0)  # 1 = halve the resolution after this stage (64 -> 8)
NUM_BINS, BIN_LOW, BIN_HIGH = 255, -20.0, 20.0
TOKENS_PER_BLOCK = 6  # I-token, action, four latents


@dataclass(frozen=True)
class OriginalDeltaConfig:
    """The numbers of the authors' two parameter sets that the computations below need."""

    name: str = "crafter"
    num_actions: int = 17
    # tokenizer
    num_tokens: int = 4  # Δ-tokens per frame (a 2x2 grid of 4x4 patches of the 8x8 latent)
    codebook_size: int = 1024
    codebook_dim: int = 64
    tokenizer_frame_latent: int = 8  # latent channels of the decoder's previous-frame CNN
    tokenizer_frame_channels: int = 64
    max_codebook_updates_with_revival: int = 0
    # world model
    max_blocks: int = 21
    num_layers: int = 3
    num_heads: int = 8
    embed_dim: int = 512
    wm_frame_latent: int = 8  # 8 x 8 x 8 = 512 = embed_dim
    two_hot_rews: bool = True
    latents_weight: float = 1.0
    rewards_weight: float = 1.0
    ends_weight: float = 1.0
    # actor-critic
    burn_in: int = 5
    horizon: int = 15
    gamma: float = 0.997
    lambda_: float = 0.95
    entropy_weight: float = 0.001
    two_hot_rets: bool = True
    lstm_dim: int = 512
    tau: float = 0.995  # Polyak factor of the target critic

    @property
    def max_tokens(self) -> int:
        return TOKENS_PER_BLOCK * self.max_blocks

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.num_heads

    @classmethod
    def crafter(cls, num_actions: int = 17) -> OriginalDeltaConfig:
        return cls(name="crafter", num_actions=num_actions)

    @classmethod
    def atari(cls, num_actions: int = 4) -> OriginalDeltaConfig:
        return cls(name="atari", num_actions=num_actions, tokenizer_frame_latent=16, tokenizer_frame_channels=32,
                   max_codebook_updates_with_revival=400, max_blocks=26, num_heads=4, embed_dim=256,
                   wm_frame_latent=4, two_hot_rews=False, latents_weight=0.1, ends_weight=0.1, horizon=20,
                   gamma=0.995, entropy_weight=0.002, two_hot_rets=False)

    @classmethod
    def named(cls, params: str, num_actions: int | None = None) -> OriginalDeltaConfig:
        make = {"crafter": cls.crafter, "atari": cls.atari}[params]
        return make() if num_actions is None else make(num_actions)


# -- numerics -------------------------------------------------------------------------------------

def symlog(x: Tensor) -> Tensor:
    return torch.sign(x) * torch.log1p(x.abs())


def symexp(x: Tensor) -> Tensor:
    return torch.sign(x) * torch.expm1(x.abs())


def bins(dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> Tensor:
    """The 255 support points linspace(-20, 20) shared by reward and return targets."""
    return torch.linspace(BIN_LOW, BIN_HIGH, NUM_BINS, dtype=dtype, device=device)


def two_hot(x: Tensor, support: Tensor | None = None) -> Tensor:
    """x (...) -> (..., 255): x clamped to [-20, 20 - 1e-5], its weight split linearly between the
    bin just below it (k, bins[k] <= x < bins[k+1]) and the next one."""
    support = bins(x.dtype, x.device) if support is None else support
    x = x.clamp(BIN_LOW, BIN_HIGH - 1e-5)
    k = torch.searchsorted(support, x.contiguous(), right=True) - 1
    low, high = support[k], support[k + 1]
    w_high = (x - low) / (high - low)
    out = torch.zeros(*x.shape, support.numel(), dtype=x.dtype, device=x.device)
    out.scatter_(-1, k.unsqueeze(-1), (1 - w_high).unsqueeze(-1))
    out.scatter_(-1, (k + 1).unsqueeze(-1), w_high.unsqueeze(-1))
    return out


def expected_value(logits: Tensor) -> Tensor:
    """(..., 255) logits -> (...): symexp of the expected bin under softmax(logits)."""
    probs = torch.softmax(logits, dim=-1)
    return symexp((probs * bins(logits.dtype, logits.device)).sum(-1))


def argmax_sampler(logits: Tensor) -> Tensor:
    return logits.argmax(dim=-1)


def lambda_returns(rewards: Tensor, ends: Tensor, values: Tensor, bootstrap: Tensor, gamma: float,
                   lambda_: float) -> Tensor:
    """All (B, H) except bootstrap (B,). G_t = r_t + γ (1 - d_t) [(1 - λ) V_{t+1} + λ G_{t+1}] with
    V_H = G_H = bootstrap (so G_{H-1} = r_{H-1} + γ (1 - d_{H-1}) V_H)."""
    horizon = rewards.shape[1]
    ends = ends.to(rewards.dtype)
    next_values = torch.cat([values[:, 1:], bootstrap[:, None]], dim=1)  # V_{t+1}
    returns = torch.empty_like(rewards)
    g = bootstrap
    for t in reversed(range(horizon)):
        g = rewards[:, t] + gamma * (1 - ends[:, t]) * ((1 - lambda_) * next_values[:, t] + lambda_ * g)
        returns[:, t] = g
    return returns


# -- convolutional blocks -------------------------------------------------------------------------

def _conv(sd: StateDict, name: str, x: Tensor, stride: int = 1, padding: int | None = None) -> Tensor:
    weight = sd[f"{name}.weight"]
    if padding is None:  # 3x3 -> 1, 1x1 -> 0
        padding = weight.shape[-1] // 2
    return F.conv2d(x, weight, sd[f"{name}.bias"], stride=stride, padding=padding)


def _group_norm(sd: StateDict, name: str, x: Tensor) -> Tensor:
    return F.group_norm(x, 32, sd[f"{name}.weight"], sd[f"{name}.bias"], eps=1e-5)


def _silu(x: Tensor) -> Tensor:
    return x * torch.sigmoid(x)


def _residual_block(sd: StateDict, name: str, x: Tensor) -> Tensor:
    """skip(x) + conv(silu(gn(conv(silu(gn(x)))))); skip is a 1x1 conv when in != out channels."""
    weight = sd[f"{name}.f.2.weight"]
    h = _conv(sd, f"{name}.f.2", _silu(_group_norm(sd, f"{name}.f.0", x)))
    h = _conv(sd, f"{name}.f.5", _silu(_group_norm(sd, f"{name}.f.3", h)))
    skip = x if weight.shape[0] == weight.shape[1] else _conv(sd, f"{name}.skip_projection", x)
    return skip + h


def _downsample(sd: StateDict, name: str, x: Tensor) -> Tensor:
    return _conv(sd, f"{name}.conv", x, stride=2, padding=0)  # 2x2 kernel, stride 2, no padding


def _upsample(sd: StateDict, name: str, x: Tensor) -> Tensor:
    """Nearest x2 (each pixel repeated in a 2x2 square), then a 3x3 conv."""
    return _conv(sd, f"{name}.conv", x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3))


def _encoder_layout() -> list[str]:
    """Kinds of the layers 1..8 of a frame encoder: each stage's residual block, then its downsample."""
    kinds = []
    for stage in range(len(MULT)):
        kinds.append("res")
        if DOWN[stage]:
            kinds.append("down")
    return kinds


def _decoder_layout() -> list[str]:
    """Kinds of the layers 1..8 of the frame decoder: per stage (forward order) a residual block then
    an upsample where that stage downsampled, the whole list reversed."""
    kinds = []
    for stage in range(len(MULT)):
        kinds.append("res")
        if DOWN[stage]:
            kinds.append("up")
    return kinds[::-1]


def frame_encoder(sd: StateDict, prefix: str, x: Tensor) -> Tensor:
    """The authors' FrameEncoder named ``prefix`` (its layers are ``prefix.encoder.N``):
    (N, C_in, 64, 64) -> (N, latent, 8, 8)."""
    p = f"{prefix}.encoder"
    h = _conv(sd, f"{p}.0", x)
    for index, kind in enumerate(_encoder_layout(), start=1):
        h = _residual_block(sd, f"{p}.{index}", h) if kind == "res" else _downsample(sd, f"{p}.{index}", h)
    last = len(_encoder_layout()) + 1  # GroupNorm, SiLU (no parameters), conv
    return _conv(sd, f"{p}.{last + 2}", _silu(_group_norm(sd, f"{p}.{last}", h)))


def frame_decoder(sd: StateDict, prefix: str, x: Tensor) -> Tensor:
    """The authors' FrameDecoder named ``prefix`` (layers ``prefix.decoder.N``):
    (N, latent, 8, 8) -> (N, 3, 64, 64), raw (no output activation)."""
    p = f"{prefix}.decoder"
    h = _conv(sd, f"{p}.0", x)
    for index, kind in enumerate(_decoder_layout(), start=1):
        h = _residual_block(sd, f"{p}.{index}", h) if kind == "res" else _upsample(sd, f"{p}.{index}", h)
    last = len(_decoder_layout()) + 1
    return _conv(sd, f"{p}.{last + 2}", _silu(_group_norm(sd, f"{p}.{last}", h)))


# -- generic layers -------------------------------------------------------------------------------

def _linear(sd: StateDict, name: str, x: Tensor) -> Tensor:
    return F.linear(x, sd[f"{name}.weight"], sd[f"{name}.bias"])


def _layer_norm(sd: StateDict, name: str, x: Tensor) -> Tensor:
    weight = sd[f"{name}.weight"]
    return F.layer_norm(x, weight.shape, weight, sd[f"{name}.bias"], eps=1e-5)


def _l2_normalize(x: Tensor) -> Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def _gelu(x: Tensor) -> Tensor:
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def _flatten_hwc(x: Tensor) -> Tensor:
    """(N, C, H, W) -> (N, H*W*C), channels fastest."""
    return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)


# -- tokenizer ------------------------------------------------------------------------------------

def _grid(num_tokens: int) -> int:
    side = math.isqrt(num_tokens)
    assert side * side == num_tokens
    return side


def _to_token_vectors(z: Tensor, num_tokens: int = 4) -> Tensor:
    """(N, C, 8, 8) -> (N, K, P*P*C): token gh*G+gw is the (gh, gw) patch of the G x G grid, its vector
    ordered (row in patch, column in patch, channel)."""
    n, c, h, w = z.shape
    g = _grid(num_tokens)
    z = z.reshape(n, c, g, h // g, g, w // g)  # n, c, gh, ph, gw, pw
    return z.permute(0, 2, 4, 3, 5, 1).reshape(n, g * g, (h // g) * (w // g) * c)


def _from_token_vectors(q: Tensor, channels: int, num_tokens: int = 4) -> Tensor:
    """Inverse of ``_to_token_vectors``: (N, K, P*P*C) -> (N, C, G*P, G*P)."""
    n = q.shape[0]
    g = _grid(num_tokens)
    patch = math.isqrt(q.shape[-1] // channels)
    q = q.reshape(n, g, g, patch, patch, channels)  # n, gh, gw, ph, pw, c
    return q.permute(0, 5, 1, 3, 2, 4).reshape(n, channels, g * patch, g * patch)


def tokenizer_encode(sd: StateDict, x1: Tensor, a: Tensor, x2: Tensor, num_tokens: int = 4
                     ) -> tuple[Tensor, Tensor, Tensor]:
    """Transitions x1 (B,T,3,64,64), a (B,T), x2 (B,T,3,64,64) ->
    tokens (B,T,4) int64, q (B,T,4,1024) = post_quant_proj(straight-through code), e (B,T,4,64) the
    L2-normalised pre-quantisation vectors. Quantiser in eval mode (no codebook update)."""
    b, t = a.shape
    plane = sd["tokenizer.encoder_act_emb.weight"][a.reshape(-1)].reshape(b * t, 1, *x1.shape[-2:])
    inputs = torch.cat([x1.reshape(b * t, *x1.shape[2:]), plane, x2.reshape(b * t, *x2.shape[2:])], dim=1)
    z = frame_encoder(sd, "tokenizer.encoder", inputs)  # (BT, 64, 8, 8)
    vectors = _to_token_vectors(z, num_tokens)  # (BT, 4, 1024)
    e = _l2_normalize(_linear(sd, "tokenizer.quantizer.pre_quant_proj", vectors))  # (BT, 4, 64)
    codebook = sd["tokenizer.quantizer.codebook"]
    tokens = torch.matmul(e, codebook.t()).argmax(dim=-1)  # cosine similarity for unit-norm codes
    code = codebook[tokens]
    straight_through = e + (code - e).detach()
    q = _linear(sd, "tokenizer.quantizer.post_quant_proj", straight_through)
    return tokens.reshape(b, t, -1), q.reshape(b, t, num_tokens, -1), e.reshape(b, t, num_tokens, -1)


def embed_tokens(sd: StateDict, tokens: Tensor) -> Tensor:
    """tokens (..., 4) -> post_quant_proj(codebook[tokens]) (..., 4, 1024) (used in imagination)."""
    return _linear(sd, "tokenizer.quantizer.post_quant_proj", sd["tokenizer.quantizer.codebook"][tokens])


def clamp_to_pixels(x: Tensor) -> Tensor:
    """Clamp to [0, 1] and round to the 1/255 grid."""
    return torch.round(x.clamp(0, 1) * 255) / 255


def tokenizer_decode(sd: StateDict, cfg: OriginalDeltaConfig, x1: Tensor, a: Tensor, q: Tensor,
                     clamp: bool = False) -> Tensor:
    """Previous frames x1 (B,T,3,64,64), actions a (B,T), quantised tokens q (B,T,4,1024) ->
    reconstructed next frames (B,T,3,64,64): raw, or clamped to [0,1] and rounded to 1/255."""
    b, t = a.shape
    n = b * t
    frames = frame_encoder(sd, "tokenizer.frame_cnn", x1.reshape(n, *x1.shape[2:]))  # (n, L_f, 8, 8)
    act_map = sd["tokenizer.decoder_act_emb.weight"][a.reshape(-1)].reshape(n, -1, *frames.shape[-2:])
    latent = _from_token_vectors(q.reshape(n, cfg.num_tokens, -1), cfg.codebook_dim, cfg.num_tokens)
    r = frame_decoder(sd, "tokenizer.decoder", torch.cat([frames, act_map, latent], dim=1))
    r = r.reshape(b, t, *r.shape[1:])
    return clamp_to_pixels(r) if clamp else r


def tokenizer_losses(sd: StateDict, cfg: OriginalDeltaConfig, obs: Tensor, act: Tensor, mask: Tensor
                     ) -> dict[str, Tensor]:
    """A training batch obs (B,T,3,64,64), act (B,T), mask (B,T) bool -> the four terms of the
    tokenizer loss on its T-1 transitions, with the codebook as given (before this step's update):
    commitment (0.02 * MSE(e, sg(q)), padded transitions included), and over the transitions whose
    two steps are real: 0.1 * mean |x2 - r|, 1.0 * mean (x2 - r)^2, 0.01 * mean over frames of the
    largest squared pixel error. Their sum is the loss. (The training-mode codebook update of the same
    step is ``quantizer_update`` on ``tokenizer_encode``'s e and tokens of all T-1 transitions, padded
    ones included: N = B * (T-1) * 4 vectors.)"""
    x1, a, x2 = obs[:, :-1], act[:, :-1], obs[:, 1:]
    tokens, q, e = tokenizer_encode(sd, x1, a, x2, cfg.num_tokens)
    code = sd["tokenizer.quantizer.codebook"][tokens]
    commitment = 0.02 * (e - code.detach()).pow(2).mean()
    r = tokenizer_decode(sd, cfg, x1, a, q)
    real = mask[:, 1:] & mask[:, :-1]
    delta = (x2 - r)[real]  # (n, 3, 64, 64)
    return {
        "commitment_loss": commitment,
        "reconstruction_loss_l1": 0.1 * delta.abs().mean(),
        "reconstruction_loss_l2": delta.pow(2).mean(),
        "reconstruction_loss_l2_worst_pixel": 0.01 * delta.pow(2).flatten(1).max(dim=1).values.mean(),
    }


@torch.no_grad()
def quantizer_update(codebook: Tensor, freqs: Tensor, num_updates: int | Tensor, e_flat: Tensor,
                     tokens_flat: Tensor) -> tuple[Tensor, Tensor, int, Tensor]:
    """One training-mode codebook update WITHOUT dead-code revival.

    codebook (C, D), freqs (C,), e_flat (N, D) the batch's normalised vectors, tokens_flat (N,) their
    codes -> (new codebook (C, D) with unit-norm rows, new freqs (C,), num_updates + 1, entropy in bits
    of the new freqs). m_k = normalize(mean of the vectors assigned to k) (zero for unused codes);
    codebook <- 0.99 codebook + 0.01 m, then rows renormalised; freqs <- 0.98 freqs + 0.02 count/N.
    See ``revival_would_trigger`` for when the authors' update would also revive codes.
    """
    size = codebook.shape[0]
    n = e_flat.shape[0]
    one_hot = F.one_hot(tokens_flat, size).to(e_flat.dtype)  # (N, C)
    counts = one_hot.sum(0)  # (C,)
    sums = one_hot.t() @ e_flat  # (C, D)
    means = _l2_normalize(sums / counts.clamp_min(1)[:, None])
    ema = 0.99 * codebook + 0.01 * means
    new_freqs = 0.98 * freqs + 0.02 * counts / n
    nonzero = new_freqs[new_freqs > 0]
    entropy = -(nonzero * torch.log2(nonzero)).sum()
    return _l2_normalize(ema), new_freqs, int(num_updates) + 1, entropy


def revival_would_trigger(new_freqs: Tensor, entropy: Tensor | float, num_updates: int,
                          max_updates_with_revival: int | None) -> bool:
    """Whether the authors' update would revive codes after ``quantizer_update`` produced
    (new_freqs, entropy) from a state with ``num_updates`` past updates (the count before this one)."""
    size = new_freqs.numel()
    allowed = (float(entropy) < 1 or max_updates_with_revival is None
               or num_updates < max_updates_with_revival)
    expired = int((new_freqs < 1 / (10 * size)).sum())
    return allowed and float(entropy) < math.log2(size) - 2 and expired > 0


# -- world model ----------------------------------------------------------------------------------

def wm_frame_token(sd: StateDict, obs: Tensor) -> Tensor:
    """I-tokens: obs (..., 3, 64, 64) -> (..., E): frame CNN, flatten (h, w, c), LayerNorm."""
    lead = obs.shape[:-3]
    features = frame_encoder(sd, "world_model.frame_cnn.0", obs.reshape(-1, *obs.shape[-3:]))  # (N, L_w, 8, 8)
    token = _layer_norm(sd, "world_model.frame_cnn.2", _flatten_hwc(features))
    return token.reshape(*lead, token.shape[-1])


def _blocks(frames: Tensor, actions: Tensor, latents: Tensor | None) -> Tensor:
    """(B,T,E), (B,T,E), (B,T,4,E) -> (B, 6T, E) in block order [I, a, z1..z4]."""
    parts = [frames[:, :, None], actions[:, :, None]]
    if latents is not None:
        parts.append(latents)
    x = torch.cat(parts, dim=2)
    return x.reshape(x.shape[0], -1, x.shape[-1])


def wm_embed_sequence(sd: StateDict, obs: Tensor, act: Tensor, tokens: Tensor) -> Tensor:
    """Training sequence of a segment: obs (B,T,3,64,64), act (B,T), tokens (B,T-1,4) with
    tokens[:, t] = tokenizer(o_t, a_t, o_{t+1}) -> (B, 6T, E), block t = [I(o_t), emb(a_t), emb(z_{t+1})],
    the last block's four latents being token id 0 (no next frame)."""
    b, t = act.shape
    assert tokens.shape[:2] == (b, t - 1), "tokens are those of the T-1 transitions"
    filler = torch.zeros(b, 1, tokens.shape[-1], dtype=tokens.dtype, device=tokens.device)
    latents = sd["world_model.latents_emb.weight"][torch.cat([tokens, filler], dim=1)]  # (B, T, 4, E)
    return _blocks(wm_frame_token(sd, obs), sd["world_model.act_emb.weight"][act], latents)


def _self_attention(sd: StateDict, name: str, x: Tensor, num_heads: int, start: int) -> Tensor:
    b, s, e = x.shape
    d = e // num_heads

    def heads(part: str) -> Tensor:  # (B, heads, S, d)
        return _linear(sd, f"{name}.{part}", x).reshape(b, s, num_heads, d).transpose(1, 2)

    q, k, v = heads("query"), heads("key"), heads("value")
    scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(d)
    allowed = sd[f"{name}.mask"][start:start + s, start:start + s]  # no cache: keys are these tokens
    weights = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)
    y = torch.matmul(weights, v).transpose(1, 2).reshape(b, s, e)
    return _linear(sd, f"{name}.attention.proj", y)


def wm_transformer(sd: StateDict, cfg: OriginalDeltaConfig, x: Tensor, start: int = 0) -> Tensor:
    """Token embeddings x (B, S, E) occupying absolute positions [start, start+S), no cache ->
    output sequence (B, S, E): learned positions, 3 pre-LN layers, final LayerNorm."""
    p = "world_model.transformer"
    s = x.shape[1]
    assert start + s <= cfg.max_tokens, f"{start + s} tokens exceed the {cfg.max_tokens} positions"
    h = x + sd[f"{p}.pos_emb.weight"][start:start + s]
    for layer in range(cfg.num_layers):
        b = f"{p}.blocks.{layer}"
        h = h + _self_attention(sd, f"{b}.sa", _layer_norm(sd, f"{b}.sa.ln", h), cfg.num_heads, start)
        h = h + _linear(sd, f"{b}.mlp.mlp.2", _gelu(_linear(sd, f"{b}.mlp.mlp.0", _layer_norm(sd, f"{b}.mlp.ln", h))))
    return _layer_norm(sd, f"{p}.ln", h)


def wm_head(sd: StateDict, name: str, x: Tensor) -> Tensor:
    """Head ``name`` (head_latents | head_rewards | head_ends): Linear -> ReLU -> Linear on x (..., E)."""
    h = torch.relu(_linear(sd, f"world_model.{name}.head_module.0", x))
    return _linear(sd, f"world_model.{name}.head_module.2", h)


def wm_outputs(sd: StateDict, cfg: OriginalDeltaConfig, obs: Tensor, act: Tensor, tokens: Tensor
               ) -> dict[str, Tensor]:
    """A segment (see ``wm_embed_sequence``) -> sequence (B, 6T, E), latents logits (B, T, 4, 1024)
    read at in-block positions 1..4, rewards logits (B, T, 255 | 3) and ends logits (B, T, 2) at
    position 1 (the action)."""
    b, t = act.shape
    sequence = wm_transformer(sd, cfg, wm_embed_sequence(sd, obs, act, tokens))
    per_block = sequence.reshape(b, t, TOKENS_PER_BLOCK, -1)
    return {
        "sequence": sequence,
        "latents": wm_head(sd, "head_latents", per_block[:, :, 1:5]),
        "rewards": wm_head(sd, "head_rewards", per_block[:, :, 1]),
        "ends": wm_head(sd, "head_ends", per_block[:, :, 1]),
    }


def _cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    """Mean over rows of -log softmax(logits)[target]; logits (N, K), target (N,)."""
    return -torch.log_softmax(logits, dim=-1).gather(-1, target[:, None]).mean()


def _soft_cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    return -(target * torch.log_softmax(logits, dim=-1)).sum(-1).mean()


def wm_losses(sd: StateDict, cfg: OriginalDeltaConfig, obs: Tensor, act: Tensor, rew: Tensor, ends: Tensor,
              mask: Tensor, tokens: Tensor | None = None) -> dict[str, Tensor]:
    """A training segment obs (B,T,3,64,64), act (B,T), rew (B,T) float, ends (B,T) int, mask (B,T)
    bool -> weighted loss_latents, loss_rewards, loss_ends (their sum is the loss) and
    latent_accuracy. ``tokens`` (B,T-1,4) default to the eval-mode tokenizer's."""
    if tokens is None:
        tokens = tokenizer_encode(sd, obs[:, :-1], act[:, :-1], obs[:, 1:], cfg.num_tokens)[0]
    out = wm_outputs(sd, cfg, obs, act, tokens)
    keep = mask[:, :-1]  # latents: the first T-1 blocks, whose own step is real
    latent_logits = out["latents"][:, :-1][keep].reshape(-1, cfg.codebook_size)
    latent_targets = tokens[keep].reshape(-1)
    if cfg.two_hot_rews:
        loss_rewards = _soft_cross_entropy(out["rewards"][mask], two_hot(symlog(rew[mask])))
    else:
        loss_rewards = _cross_entropy(out["rewards"][mask], (torch.sign(rew[mask]) + 1).long())
    return {
        "loss_latents": cfg.latents_weight * _cross_entropy(latent_logits, latent_targets),
        "loss_rewards": cfg.rewards_weight * loss_rewards,
        "loss_ends": cfg.ends_weight * _cross_entropy(out["ends"][mask], ends[mask].long()),
        "latent_accuracy": (latent_logits.argmax(-1) == latent_targets).float().mean(),
    }


def wm_burn_in_embeddings(sd: StateDict, obs: Tensor, act: Tensor, tokens: Tensor) -> Tensor:
    """obs (B,L+1,3,64,64), act (B,L), tokens (B,L,4) -> the 6L+1 embeddings
    [I(o_0), a_0, z_1(4), ..., I(o_{L-1}), a_{L-1}, z_L(4), I(o_L)] (B, 6L+1, E)."""
    frames = wm_frame_token(sd, obs)  # (B, L+1, E)
    body = _blocks(frames[:, :-1], sd["world_model.act_emb.weight"][act], sd["world_model.latents_emb.weight"][tokens])
    return torch.cat([body, frames[:, -1:]], dim=1)


def wm_burn_in_sequence(sd: StateDict, cfg: OriginalDeltaConfig, obs: Tensor, act: Tensor, tokens: Tensor) -> Tensor:
    """The world model's burn-in output sequence (B, 6L+1, E) (see ``wm_burn_in_embeddings``)."""
    return wm_transformer(sd, cfg, wm_burn_in_embeddings(sd, obs, act, tokens))


# -- imagination ----------------------------------------------------------------------------------

@dataclass
class ImaginationState:
    """What the authors' imagination environment keeps between steps, without a KV cache: all token
    embeddings fed since the last reset (``memory``, (n, S, E), re-run from position 0 at every call),
    the current frame, the current frame's I-token if not fed yet, and the last latent's embedding
    if not fed yet."""

    memory: Tensor
    frame: Tensor  # (n, 3, 64, 64)
    frame_token: Tensor | None  # (n, 1, E)
    pending_latent: Tensor | None  # (n, 1, E)


def imagination_reset(sd: StateDict, cfg: OriginalDeltaConfig, obs: Tensor, act: Tensor
                      ) -> tuple[ImaginationState, Tensor, Tensor]:
    """Reset from a real context obs (n, L+1, 3, 64, 64), act (n, L) -> (state, context tokens
    (n, L, 4), burn-in output sequence (n, 6L+1, E)). The last context frame's I-token is part of the
    burn-in, so nothing is pending afterwards."""
    tokens = tokenizer_encode(sd, obs[:, :-1], act, obs[:, 1:], cfg.num_tokens)[0]
    memory = wm_burn_in_embeddings(sd, obs, act, tokens)
    state = ImaginationState(memory=memory, frame=obs[:, -1], frame_token=None, pending_latent=None)
    return state, tokens, wm_transformer(sd, cfg, memory)


def _feed(sd: StateDict, cfg: OriginalDeltaConfig, state: ImaginationState, new: Tensor) -> Tensor:
    """Append new embeddings to the memory, re-run the whole memory, return the last output (n, E)."""
    state.memory = torch.cat([state.memory, new], dim=1)
    return wm_transformer(sd, cfg, state.memory)[:, -1]


def imagination_step(sd: StateDict, cfg: OriginalDeltaConfig, state: ImaginationState, action: Tensor,
                     sampler: Sampler = argmax_sampler) -> dict[str, Tensor]:
    """One imagined step for action (n,) (updates ``state``) -> frame (n,3,64,64) clamped and rounded,
    reward (n,) float, end (n,) int64, tokens (n,4), and the logits they came from: reward (n, 255|3),
    end (n, 2), latents (n, 4, 1024).

    Order: memory flush if at most one block is left (then the input restarts at position 0 with
    [I-token, action]); one call on [pending latent, I-token, action] read at the action; three calls
    each feeding the previous sampled latent; the fourth latent stays pending; the new frame is
    decoded from (current frame, action, embedded tokens) and its I-token computed."""
    n = action.shape[0]
    if (cfg.max_tokens - state.memory.shape[1]) / TOKENS_PER_BLOCK <= 1:
        if state.frame_token is None:
            raise ValueError("the context leaves no room for a step: the flush would feed no I-token")
        state.memory = state.memory[:, :0]
        state.pending_latent = None
    new = [t for t in (state.pending_latent, state.frame_token) if t is not None]
    new.append(sd["world_model.act_emb.weight"][action][:, None])
    out = _feed(sd, cfg, state, torch.cat(new, dim=1))
    assert (state.memory.shape[1] - 1) % TOKENS_PER_BLOCK == 1, "the last token fed must be an action"
    reward_logits = wm_head(sd, "head_rewards", out)
    end_logits = wm_head(sd, "head_ends", out)
    if cfg.two_hot_rews:
        reward = expected_value(reward_logits)
    else:
        reward = (sampler(reward_logits) - 1).to(reward_logits.dtype)
    end = sampler(end_logits)
    latent_logits = [wm_head(sd, "head_latents", out)]
    tokens = [sampler(latent_logits[-1])]
    for _ in range(cfg.num_tokens - 1):
        out = _feed(sd, cfg, state, sd["world_model.latents_emb.weight"][tokens[-1]][:, None])
        latent_logits.append(wm_head(sd, "head_latents", out))
        tokens.append(sampler(latent_logits[-1]))
    state.pending_latent = sd["world_model.latents_emb.weight"][tokens[-1]][:, None]
    z = torch.stack(tokens, dim=1)  # (n, 4)
    frame = tokenizer_decode(sd, cfg, state.frame[:, None], action.reshape(n, 1), embed_tokens(sd, z)[:, None],
                             clamp=True)[:, 0]
    state.frame = frame
    state.frame_token = wm_frame_token(sd, frame)[:, None]
    return {"frame": frame, "reward": reward, "end": end, "tokens": z, "reward_logits": reward_logits,
            "end_logits": end_logits, "latent_logits": torch.stack(latent_logits, dim=1)}


@torch.no_grad()
def imagine_steps(sd: StateDict, cfg: OriginalDeltaConfig, obs_context: Tensor, act_context: Tensor,
                  actions: Tensor, sampler: Sampler = argmax_sampler) -> dict[str, Tensor]:
    """Imagination with a fixed action sequence: context obs (n, L+1, 3, 64, 64), act (n, L), actions
    (n, H) -> frames (n,H,3,64,64), rewards (n,H), ends (n,H) int64, tokens (n,H,4), reward_logits
    (n,H,R), end_logits (n,H,2), latent_logits (n,H,4,1024), plus context_tokens (n,L,4) and the
    burn-in output sequence (n,6L+1,E). No KV cache: every call re-runs all tokens since the reset."""
    state, context_tokens, burn_in = imagination_reset(sd, cfg, obs_context, act_context)
    steps = [imagination_step(sd, cfg, state, actions[:, h], sampler) for h in range(actions.shape[1])]
    out = {plural: torch.stack([s[single] for s in steps], dim=1) for single, plural in (
        ("frame", "frames"), ("reward", "rewards"), ("end", "ends"), ("tokens", "tokens"),
        ("reward_logits", "reward_logits"), ("end_logits", "end_logits"), ("latent_logits", "latent_logits"))}
    out["context_tokens"] = context_tokens
    out["burn_in_sequence"] = burn_in
    return out


# -- actor-critic ---------------------------------------------------------------------------------

def _ac_prefix(prefix: str) -> str:
    prefix = prefix.rstrip(".")
    assert prefix in ("actor_critic.model", "actor_critic.target_model"), prefix
    return prefix


def _lstm_cell(sd: StateDict, name: str, x: Tensor, hx: Tensor, cx: Tensor) -> tuple[Tensor, Tensor]:
    gates = (F.linear(x, sd[f"{name}.weight_ih"], sd[f"{name}.bias_ih"])
             + F.linear(hx, sd[f"{name}.weight_hh"], sd[f"{name}.bias_hh"]))
    i, f, g, o = gates.chunk(4, dim=-1)  # PyTorch's gate order
    cx = torch.sigmoid(f) * cx + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(cx), cx


def ac_forward(sd: StateDict, prefix: str, cfg: OriginalDeltaConfig, frames: Tensor,
               state: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor, tuple[Tensor, Tensor]]:
    """The actor-critic ``prefix`` (actor_critic.model | actor_critic.target_model) stepped through
    frames (n, t, 3, 64, 64) from state (hx, cx) (n, 512) each (zeros if None) ->
    (logits (n, t, A), raw critic outputs (n, t, 255 | 1), final (hx, cx)). Burn-in is feeding frames."""
    p = _ac_prefix(prefix)
    n, t = frames.shape[:2]
    features = _flatten_hwc(frame_encoder(sd, f"{p}.cnn.0", frames.reshape(n * t, *frames.shape[2:])))
    features = features.reshape(n, t, -1)  # (n, t, 1024)
    if state is None:
        zeros = torch.zeros(n, cfg.lstm_dim, dtype=frames.dtype, device=frames.device)
        state = (zeros, zeros)
    hx, cx = state
    hidden = []
    for step in range(t):
        hx, cx = _lstm_cell(sd, f"{p}.lstm", features[:, step], hx, cx)
        hidden.append(hx)
    h = torch.stack(hidden, dim=1)
    return _linear(sd, f"{p}.actor_linear", h), _linear(sd, f"{p}.critic_linear", h), (hx, cx)


def value_readout(raw: Tensor, two_hot_rets: bool) -> Tensor:
    """Raw critic outputs (..., 255 | 1) -> values (...): symexp of the expected bin, or the scalar."""
    return expected_value(raw) if two_hot_rets else raw.squeeze(-1)


def imagine_rollout(sd: StateDict, cfg: OriginalDeltaConfig, obs: Tensor, act: Tensor,
                    policy_sampler: Sampler = argmax_sampler, wm_sampler: Sampler = argmax_sampler,
                    horizon: int | None = None) -> dict[str, Tensor]:
    """The actor-critic's imagination for a batch of real segments obs (n, burn_in+1, 3, 64, 64), act
    (n, burn_in+1): world-model reset on (obs, act[:, :-1]); model and target burn in on obs[:, :-1];
    then per step the model (with grad) and the target (no grad) read the current frame, the action is
    ``policy_sampler(logits)`` and the world model steps. -> actions (n,H), logits (n,H,A), values_raw
    (n,H,255|1), values (n,H), rewards (n,H), ends (n,H), target_values (n,H), bootstrap (n,)
    (scalar values: symexp of the expected bin in two-hot mode)."""
    horizon = cfg.horizon if horizon is None else horizon
    online, target = "actor_critic.model", "actor_critic.target_model"
    with torch.no_grad():
        wm_state = imagination_reset(sd, cfg, obs, act[:, :-1])[0]
        model_state = ac_forward(sd, online, cfg, obs[:, :-1])[2]
        target_state = ac_forward(sd, target, cfg, obs[:, :-1])[2]
    frame = obs[:, -1]
    record: dict[str, list[Tensor]] = {k: [] for k in ("actions", "logits", "values_raw", "rewards", "ends",
                                                         "target_values")}
    for _ in range(horizon):
        logits, raw, model_state = ac_forward(sd, online, cfg, frame[:, None], model_state)
        with torch.no_grad():
            action = policy_sampler(logits[:, 0])
            _, target_raw, target_state = ac_forward(sd, target, cfg, frame[:, None], target_state)
            step = imagination_step(sd, cfg, wm_state, action, wm_sampler)
        frame = step["frame"]
        for key, value in (("actions", action), ("logits", logits[:, 0]), ("values_raw", raw[:, 0]),
                           ("rewards", step["reward"]), ("ends", step["end"]),
                           ("target_values", value_readout(target_raw[:, 0], cfg.two_hot_rets))):
            record[key].append(value)
    with torch.no_grad():
        bootstrap_raw = ac_forward(sd, target, cfg, frame[:, None], target_state)[1][:, 0]
    out = {key: torch.stack(values, dim=1) for key, values in record.items()}
    out["values"] = value_readout(out["values_raw"], cfg.two_hot_rets)
    out["bootstrap"] = value_readout(bootstrap_raw, cfg.two_hot_rets)
    return out


def first_done_mask(ends: Tensor) -> Tensor:
    """(B, H) -> bool (B, H): steps up to and including the first imagined end (all if none)."""
    ends = ends.long()
    return (ends.cumsum(dim=1) - ends) == 0


def ac_losses(cfg: OriginalDeltaConfig, logits: Tensor, actions: Tensor, values_raw: Tensor, rewards: Tensor,
              ends: Tensor, target_values: Tensor, bootstrap: Tensor) -> dict[str, Tensor]:
    """The actor-critic loss of one imagined batch: logits (B,H,A), actions (B,H), values_raw
    (B,H,255|1) from the online critic, rewards (B,H), ends (B,H), target_values (B,H) and bootstrap
    (B,) scalar target-critic values -> loss_actions, loss_values, loss_entropy (their sum is the
    loss), policy_entropy, and the lambda_returns (B,H) and mask (B,H) they used. Means over the
    masked steps; the advantage G_t - V_t uses the target values, no normalisation."""
    with torch.no_grad():
        returns = lambda_returns(rewards, ends, target_values, bootstrap, cfg.gamma, cfg.lambda_)
    mask = first_done_mask(ends)
    log_probs = torch.log_softmax(logits, dim=-1)
    log_pi = log_probs.gather(-1, actions[..., None].long())[..., 0]
    advantage = (returns - target_values).detach()
    entropy = -(log_probs.exp() * log_probs).sum(-1)
    if cfg.two_hot_rets:
        value_terms = -(two_hot(symlog(returns)) * torch.log_softmax(values_raw, dim=-1)).sum(-1)
    else:
        value_terms = (values_raw.squeeze(-1) - returns).pow(2)
    return {
        "loss_actions": (-log_pi * advantage)[mask].mean(),
        "loss_values": value_terms[mask].mean(),
        "loss_entropy": -cfg.entropy_weight * entropy[mask].mean(),
        "policy_entropy": entropy[mask].mean().detach(),
        "lambda_returns": returns,
        "mask": mask,
    }


def polyak(target_sd: StateDict, online_sd: StateDict, tau: float = 0.995) -> StateDict:
    """θ' <- τ θ' + (1 - τ) θ for every entry of target_sd (same keys in online_sd); a new dict."""
    return {k: tau * v + (1 - tau) * online_sd[k] if v.is_floating_point() else online_sd[k].clone()
            for k, v in target_sd.items()}


def polyak_actor_critic(sd: StateDict, tau: float = 0.995) -> StateDict:
    """A copy of the full flat ``sd`` whose actor_critic.target_model.* entries are Polyak-updated from
    the matching actor_critic.model.* entries."""
    t, m = "actor_critic.target_model.", "actor_critic.model."
    target = {k[len(t):]: v for k, v in sd.items() if k.startswith(t)}
    online = {k[len(m):]: v for k, v in sd.items() if k.startswith(m)}
    updated = polyak(target, online, tau)
    return {k: updated[k[len(t):]] if k.startswith(t) else v for k, v in sd.items()}
