"""IRIS's tokenizer: a discrete autoencoder from 64x64 frames to 16 tokens of a 512-code vocabulary.

Encoder -> 1x1 conv -> nearest codebook vector (straight-through in training) -> 1x1 conv
-> decoder. The loss is commitment + L1 reconstruction + LPIPS perceptual, with no discriminator
(docs/algorithm.md, 'Tokenizer').
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from iris_wm.agents.iris.autoencoder import AutoencoderConfig, Decoder, Encoder
from iris_wm.config import at_least
from iris_wm.data.batch import Batch
from iris_wm.errors import IrisError
from iris_wm.models.losses import Losses


@dataclass
class TokenizerConfig:
    vocab_size: int = at_least(1, 512)  # codebook entries
    embed_dim: int = at_least(1, 512)  # codebook vector width
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)  # shared by encoder and decoder
    commitment_beta: float = at_least(0, 1.0)  # weight of the encoder-side commitment term (the codebook term has 1)
    perceptual_weight: float = at_least(0, 1.0)  # LPIPS weight; 0 trains without it and needs no VGG16 weights
    # torchvision's vgg16-397923af.pth for LPIPS; null looks in the torch hub cache, then downloads it.
    perceptual_weights_path: str | None = None
    # The authors train with LPIPS's dropout active (docs/faithfulness.md): true reproduces that, false makes
    # the perceptual loss deterministic.
    perceptual_dropout_in_train: bool = True

    def __post_init__(self) -> None:
        if self.perceptual_weights_path == "random":
            raise IrisError("tokenizer.perceptual_weights_path=random would train with an untrained VGG16 (a "
                            "meaningless perceptual loss); give torchvision's vgg16-397923af.pth, null, or set "
                            "tokenizer.perceptual_weight=0")

    @property
    def tokens_per_frame(self) -> int:
        return self.autoencoder.latent_resolution**2


@dataclass
class TokenizerEncoderOutput:
    z: Tensor  # (..., E, h, w) continuous latents (pre_quant_conv output)
    z_quantized: Tensor  # (..., E, h, w) nearest codebook vectors
    tokens: Tensor  # (..., h*w) int64, row-major over the latent grid


def preprocess(frames: Tensor) -> Tensor:
    """[0, 1] -> [-1, 1]."""
    return frames.mul(2).sub(1)


def postprocess(frames: Tensor) -> Tensor:
    """[-1, 1] -> [0, 1] (unclamped)."""
    return frames.add(1).div(2)


class Tokenizer(nn.Module):
    def __init__(self, config: TokenizerConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or TokenizerConfig()
        ae = config.autoencoder
        # Registration order matches the authors' checkpoints.
        self.encoder = Encoder(ae)
        self.pre_quant_conv = nn.Conv2d(ae.z_channels, config.embed_dim, 1)
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim)
        self.post_quant_conv = nn.Conv2d(config.embed_dim, ae.z_channels, 1)
        self.decoder = Decoder(ae)
        self.embedding.weight.data.uniform_(-1.0 / config.vocab_size, 1.0 / config.vocab_size)
        self.lpips: nn.Module | None = None  # built by the first compute_loss that needs it
        # Where LPIPS's VGG16 trunk comes from; tests and benchmarks set "random" (no download).
        self.perceptual_trunk_weights = config.perceptual_weights_path

    def perceptual_loss(self) -> nn.Module:
        """LPIPS, built on first use: only tokenizer training needs the VGG16 weights. Its frozen
        weights never enter this module's state dict."""
        if self.lpips is None:
            from iris_wm.models.lpips import LPIPS

            c = self.config
            lpips = LPIPS(self.perceptual_trunk_weights, dropout_in_train=c.perceptual_dropout_in_train)
            self.lpips = lpips.to(self.embedding.weight.device).train(self.training)
        return self.lpips

    # -- tokens <-> codebook ----------------------------------------------------------------------

    def quantize(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """z (N, E, h, w) -> tokens (N, h*w), z_quantized (N, E, h, w)."""
        n, e, h, w = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, e)  # (N*h*w, E), row-major positions
        codebook = self.embedding.weight  # (V, E)
        # ||z||^2 + ||e||^2 - 2 z.e, the authors' distance (kept for identical argmin on ties)
        distances = flat.pow(2).sum(1, keepdim=True) + codebook.pow(2).sum(1) - 2 * flat @ codebook.t()
        tokens = distances.argmin(dim=-1).view(n, h * w)
        return tokens, self.tokens_to_latents(tokens)

    def tokens_to_latents(self, tokens: Tensor) -> Tensor:
        """tokens (N, h*w) -> codebook vectors laid out as a latent map (N, E, h, w)."""
        n, k = tokens.shape
        side = int(k**0.5)
        return self.embedding(tokens).view(n, side, side, -1).permute(0, 3, 1, 2)

    # -- frames <-> latents -----------------------------------------------------------------------

    def encode(self, frames: Tensor, should_preprocess: bool = False) -> TokenizerEncoderOutput:
        """frames (..., 3, H, W) in [-1, 1] (or [0, 1] with should_preprocess)."""
        leading = frames.shape[:-3]
        x = frames.reshape(-1, *frames.shape[-3:])
        if should_preprocess:
            x = preprocess(x)
        z = self.pre_quant_conv(self.encoder(x))
        tokens, z_quantized = self.quantize(z)
        return TokenizerEncoderOutput(
            z=z.view(*leading, *z.shape[1:]),
            z_quantized=z_quantized.reshape(*leading, *z_quantized.shape[1:]),
            tokens=tokens.view(*leading, tokens.shape[-1]),
        )

    def decode(self, z_quantized: Tensor, should_postprocess: bool = False) -> Tensor:
        """z_quantized (..., E, h, w) -> frames (..., 3, H, W) in [-1, 1] (or [0, 1] unclamped)."""
        leading = z_quantized.shape[:-3]
        x = self.decoder(self.post_quant_conv(z_quantized.reshape(-1, *z_quantized.shape[-3:])))
        if should_postprocess:
            x = postprocess(x)
        return x.view(*leading, *x.shape[1:])

    @torch.no_grad()
    def encode_decode(self, frames: Tensor, should_preprocess: bool = False,
                      should_postprocess: bool = False) -> Tensor:
        """Reconstruction through the codebook: what the actor-critic sees instead of a real frame."""
        z_quantized = self.encode(frames, should_preprocess).z_quantized
        return self.decode(z_quantized, should_postprocess)

    @torch.no_grad()
    def decode_tokens(self, tokens: Tensor) -> Tensor:
        """tokens (..., h*w) -> frames (..., 3, H, W) in [0, 1], clamped (used by imagination)."""
        leading = tokens.shape[:-1]
        latents = self.tokens_to_latents(tokens.reshape(-1, tokens.shape[-1]))
        frames = self.decode(latents, should_postprocess=True).clamp(0, 1)
        return frames.view(*leading, *frames.shape[1:])

    # -- training ---------------------------------------------------------------------------------

    def compute_loss(self, batch: Batch) -> Losses:
        x = preprocess(batch.observations.flatten(0, 1))  # (N, 3, H, W) in [-1, 1]
        z = self.pre_quant_conv(self.encoder(x))
        _, z_quantized = self.quantize(z)
        commitment = (z.detach() - z_quantized).pow(2).mean() + self.config.commitment_beta * (
            z - z_quantized.detach()
        ).pow(2).mean()
        x_hat = self.decoder(self.post_quant_conv(z + (z_quantized - z).detach()))  # straight-through
        terms = {"commitment_loss": commitment, "reconstruction_loss": (x - x_hat).abs().mean()}
        if self.config.perceptual_weight > 0:
            terms["perceptual_loss"] = self.config.perceptual_weight * self.perceptual_loss()(x, x_hat).mean()
        return Losses.from_terms(**terms)
