"""Δ-IRIS's tokenizer: a context-aware autoencoder of transitions (docs/delta-iris.md, 'Tokenizer').

The encoder sees (previous frame, a learned 64x64 plane of the action, frame) and emits K = 4
tokens; the decoder rebuilds the frame from (features of the previous frame, a learned 8x8 map
of the action, the quantized tokens). Since the decoder already knows the previous frame and the
action, the tokens only carry what they do not predict: the "delta".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from iris_wm.agents.delta_iris.quantizer import Quantizer, QuantizerOutput
from iris_wm.config import at_least
from iris_wm.data.batch import Batch
from iris_wm.data.frames import quantize
from iris_wm.errors import IrisError
from iris_wm.models.conv import FrameCnnConfig, FrameDecoder, FrameEncoder
from iris_wm.models.init import init_weights
from iris_wm.models.losses import Losses

IMAGE_SIZE = 64
L1_WEIGHT, L2_WEIGHT, WORST_PIXEL_WEIGHT = 0.1, 1.0, 0.01


@dataclass
class DeltaTokenizerConfig:
    num_tokens: int = at_least(1, 4)  # K per frame: a square number, the tokens tile the latent grid
    codebook_size: int = at_least(2, 1024)
    codebook_dim: int = at_least(1, 64)
    decoder_act_channels: int = at_least(1, 4)
    # Revival of dead codes during the first N codebook updates (null: always); afterwards only when
    # usage collapses below 1 bit. The authors: Atari 400 (the tokenizer's steps_first_epoch), Crafter 0.
    max_codebook_updates_with_revival: int | None = at_least(0, 400)
    encoder: FrameCnnConfig = field(default_factory=lambda: FrameCnnConfig(latent_dim=64, num_channels=64))
    frame_cnn: FrameCnnConfig = field(default_factory=lambda: FrameCnnConfig(latent_dim=16, num_channels=32))
    decoder_channels: int = at_least(32, 64)  # the decoder mirrors the encoder's stages at this width

    def __post_init__(self) -> None:
        grid = math.isqrt(self.num_tokens)
        resolution = self.encoder.latent_resolution(IMAGE_SIZE)
        if grid * grid != self.num_tokens or resolution % grid:
            raise IrisError(f"agent.tokenizer.num_tokens={self.num_tokens} must be a square whose side divides the "
                            f"encoder's {resolution}x{resolution} latent grid (4 in the paper)")
        if self.frame_cnn.latent_resolution(IMAGE_SIZE) != resolution or self.encoder.down != self.frame_cnn.down:
            raise IrisError(f"agent.tokenizer.frame_cnn.down={list(self.frame_cnn.down)} must equal agent.tokenizer."
                            f"encoder.down={list(self.encoder.down)}: the decoder stacks both at one resolution")

    @property
    def latent_resolution(self) -> int:
        return self.encoder.latent_resolution(IMAGE_SIZE)

    @property
    def token_dim(self) -> int:
        """Width of one token's patch of encoder features (1024 in the paper)."""
        return self.encoder.latent_dim * self.latent_resolution**2 // self.num_tokens

    @property
    def decoder_config(self) -> FrameCnnConfig:
        e = self.encoder
        return FrameCnnConfig(latent_dim=e.latent_dim, num_channels=self.decoder_channels, mult=e.mult, down=e.down)


@dataclass
class TokenizerOutput:
    tokens: Tensor  # (B, T, K) int64
    q: Tensor  # (B, T, K, token_dim)
    quantizer: QuantizerOutput


class DeltaTokenizer(nn.Module):
    def __init__(self, config: DeltaTokenizerConfig, num_actions: int) -> None:
        super().__init__()
        self.config = c = config
        res = c.latent_resolution
        # Registration order = the authors' checkpoint key order.
        self.encoder_act_emb = nn.Embedding(num_actions, IMAGE_SIZE * IMAGE_SIZE)
        self.decoder_act_emb = nn.Embedding(num_actions, c.decoder_act_channels * res * res)
        self.quantizer = Quantizer(c.codebook_size, c.codebook_dim, c.token_dim, c.max_codebook_updates_with_revival)
        self.encoder = FrameEncoder(3 + 1 + 3, c.encoder)
        decoder_in = c.frame_cnn.latent_dim + c.decoder_act_channels + c.encoder.latent_dim
        self.decoder = FrameDecoder(decoder_in, 3, c.decoder_config)
        self.frame_cnn = FrameEncoder(3, c.frame_cnn)
        self.apply(init_weights)

    @property
    def grid(self) -> int:
        return math.isqrt(self.config.num_tokens)

    def encode(self, x1: Tensor, actions: Tensor, x2: Tensor) -> TokenizerOutput:
        """Transitions: frames x1, x2 (B, T, 3, 64, 64) in [0, 1], actions (B, T)."""
        b, t = actions.shape
        action_planes = self.encoder_act_emb(actions).view(b, t, 1, IMAGE_SIZE, IMAGE_SIZE)
        z = self.encoder(torch.cat([x1, action_planes, x2], dim=2))  # (B, T, latent, 8, 8)
        out = self.quantizer(self.to_tokens_layout(z))
        return TokenizerOutput(out.tokens, out.q, out)

    def decode(self, x1: Tensor, actions: Tensor, q: Tensor, should_clamp: bool = False) -> Tensor:
        """Frames (B, T, 3, 64, 64) from the previous frames x1, the actions (B, T) and the quantized
        tokens q (B, T, K, token_dim); clamped to [0, 1] and rounded to 1/255 with ``should_clamp``."""
        b, t = actions.shape
        res = self.config.latent_resolution
        features = self.frame_cnn(x1)  # (B, T, L_f, 8, 8)
        action_maps = self.decoder_act_emb(actions).view(b, t, -1, res, res)
        frames = self.decoder(torch.cat([features, action_maps, self.from_tokens_layout(q)], dim=2))
        return quantize(frames) if should_clamp else frames

    @torch.no_grad()
    def encode_decode(self, x1: Tensor, actions: Tensor, x2: Tensor) -> Tensor:
        return self.decode(x1, actions, self.encode(x1, actions, x2).q, should_clamp=True)

    @torch.no_grad()
    def decode_tokens(self, x1: Tensor, actions: Tensor, tokens: Tensor) -> Tensor:
        """Imagination's next frames: tokens (B, T, K) decoded after x1 and actions, clamped."""
        return self.decode(x1, actions, self.quantizer.embed_tokens(tokens), should_clamp=True)

    def to_tokens_layout(self, z: Tensor) -> Tensor:
        """(B, T, C, 8, 8) -> (B, T, K, token_dim): a g x g grid of patches, row-major, each patch
        flattened as (row, column, channel)."""
        b, t, c, h, w = z.shape
        g = self.grid
        z = z.view(b, t, c, g, h // g, g, w // g).permute(0, 1, 3, 5, 4, 6, 2)  # (B, T, g, g, h', w', C)
        return z.reshape(b, t, g * g, (h // g) * (w // g) * c)  # named sizes: T may be 0 (a context of one frame)

    def from_tokens_layout(self, q: Tensor) -> Tensor:
        """The inverse of ``to_tokens_layout``: (B, T, K, token_dim) -> (B, T, C, 8, 8)."""
        b, t = q.shape[:2]
        g, res, c = self.grid, self.config.latent_resolution, self.config.encoder.latent_dim
        q = q.view(b, t, g, g, res // g, res // g, c).permute(0, 1, 6, 2, 4, 3, 5)  # (B, T, C, g, h', g, w')
        return q.reshape(b, t, c, res, res)

    def compute_loss(self, batch: Batch) -> Losses:
        """The four terms over the T - 1 transitions of each segment; reconstruction terms only where
        both frames are real (the commitment term covers padding too, as the authors')."""
        obs, actions = batch.observations, batch.actions
        x1, x2 = obs[:, :-1], obs[:, 1:]
        encoded = self.encode(x1, actions[:, :-1], x2)
        reconstruction = self.decode(x1, actions[:, :-1], encoded.q)
        real = (batch.mask_padding[:, 1:] & batch.mask_padding[:, :-1]).to(obs.dtype)  # (B, T-1)
        num_real = real.sum().clamp(min=1)
        squared = (x2 - reconstruction).pow(2)

        def mean_over_real(per_frame: Tensor) -> Tensor:  # (B, T-1) -> scalar; a mask, not a host sync
            return (per_frame * real).sum() / num_real

        return Losses.from_terms(
            commitment_loss=encoded.quantizer.commitment_loss,
            reconstruction_loss_l1=L1_WEIGHT * mean_over_real((x2 - reconstruction).abs().mean(dim=(2, 3, 4))),
            reconstruction_loss_l2=L2_WEIGHT * mean_over_real(squared.mean(dim=(2, 3, 4))),
            reconstruction_loss_l2_worst_pixel=WORST_PIXEL_WEIGHT * mean_over_real(squared.amax(dim=(2, 3, 4))),
        ).with_metrics(**encoded.quantizer.metrics)

