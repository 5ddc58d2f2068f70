"""The tokenizer's convolutional encoder and decoder (docs/algorithm.md, 'Tokenizer').

VQGAN-style: residual blocks with GroupNorm and SiLU, single-head spatial attention at the
resolutions listed in ``attn_resolutions``, stride-2 downsampling and nearest upsampling.
Module names follow the authors' checkpoints so their tensors load one-to-one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch.nn.functional as F
from torch import Tensor, nn

from iris_wm.config import at_least, probability
from iris_wm.errors import IrisError
from iris_wm.models.conv import Upsample


@dataclass
class AutoencoderConfig:
    resolution: int = at_least(1, 64)  # input frames are resolution x resolution
    in_channels: int = at_least(1, 3)
    z_channels: int = at_least(1, 512)  # channels of the encoder output / decoder input
    ch: int = at_least(1, 64)  # base width; level i has ch * ch_mult[i] channels
    ch_mult: list[int] = field(default_factory=lambda: [1, 1, 1, 1, 1])
    num_res_blocks: int = at_least(1, 2)  # per encoder level (decoder levels have one more)
    attn_resolutions: list[int] = field(default_factory=lambda: [8, 16])
    out_ch: int = at_least(1, 3)
    dropout: float = probability(0.0)

    def __post_init__(self) -> None:
        levels = len(self.ch_mult)
        if levels < 1 or self.resolution % 2 ** (levels - 1):
            raise IrisError(f"tokenizer.autoencoder: resolution={self.resolution} must be divisible by 2^(levels - 1) "
                            f"for its {levels} ch_mult levels")
        widths = [self.ch * mult for mult in self.ch_mult]
        if any(width % 32 for width in widths):  # each level's GroupNorm has 32 groups
            raise IrisError(f"tokenizer.autoencoder: its levels' widths ch * ch_mult = {widths} must be multiples "
                            f"of 32 (their GroupNorms have 32 groups); use ch=32, 64, ...")

    @property
    def latent_resolution(self) -> int:
        return self.resolution // 2 ** (len(self.ch_mult) - 1)


def normalize(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups=32, num_channels=channels, eps=1e-6, affine=True)


class ResnetBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = normalize(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = normalize(out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.nin_shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        shortcut = x if self.nin_shortcut is None else self.nin_shortcut(x)
        return shortcut + h


class AttnBlock(nn.Module):
    """Single-head self-attention over the H*W positions of a feature map."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = normalize(channels)
        self.q = nn.Conv2d(channels, channels, 1)
        self.k = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        hn = self.norm(x)

        def positions(conv: nn.Conv2d) -> Tensor:  # (B, 1, H*W, C): one head
            return conv(hn).reshape(b, 1, c, h * w).transpose(2, 3)

        out = F.scaled_dot_product_attention(positions(self.q), positions(self.k), positions(self.v))
        out = out.transpose(2, 3).reshape(b, c, h, w)
        return x + self.proj_out(out)


class Downsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=0)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))  # pad right and bottom only, as the original


class Level(nn.Module):
    """One resolution level: res blocks, each followed by attention where the level asks for it."""

    def __init__(self, channels_in: int, channels_out: int, num_blocks: int, with_attn: bool,
                 dropout: float, resample: nn.Module | None) -> None:
        super().__init__()
        self.block = nn.ModuleList(
            ResnetBlock(channels_in if i == 0 else channels_out, channels_out, dropout) for i in range(num_blocks)
        )
        self.attn = nn.ModuleList(AttnBlock(channels_out) for _ in range(num_blocks if with_attn else 0))
        # Named by direction so the keys match the authors' (down.N.downsample / up.N.upsample).
        self.resample_name = None if resample is None else type(resample).__name__.lower()
        if resample is not None:
            self.add_module(self.resample_name, resample)

    def forward(self, x: Tensor) -> Tensor:
        for i, block in enumerate(self.block):
            x = block(x)
            if len(self.attn) > 0:
                x = self.attn[i](x)
        return x if self.resample_name is None else getattr(self, self.resample_name)(x)


class Mid(nn.Module):
    def __init__(self, channels: int, dropout: float) -> None:
        super().__init__()
        self.block_1 = ResnetBlock(channels, channels, dropout)
        self.attn_1 = AttnBlock(channels)
        self.block_2 = ResnetBlock(channels, channels, dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.block_2(self.attn_1(self.block_1(x)))


class Encoder(nn.Module):
    """(N, in_channels, R, R) -> (N, z_channels, R / 2^(levels-1), same)."""

    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        widths = [config.ch * m for m in config.ch_mult]
        self.conv_in = nn.Conv2d(config.in_channels, config.ch, 3, padding=1)
        resolution, channels, levels = config.resolution, config.ch, []
        for i, width in enumerate(widths):
            is_last = i == len(widths) - 1
            levels.append(Level(channels, width, config.num_res_blocks, resolution in config.attn_resolutions,
                                config.dropout, None if is_last else Downsample(width)))
            channels = width
            resolution = resolution if is_last else resolution // 2
        self.down = nn.ModuleList(levels)
        self.mid = Mid(channels, config.dropout)
        self.norm_out = normalize(channels)
        self.conv_out = nn.Conv2d(channels, config.z_channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv_in(x)
        for level in self.down:
            h = level(h)
        h = self.mid(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    """(N, z_channels, r, r) -> (N, out_ch, r * 2^(levels-1), same); no output activation."""

    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        widths = [config.ch * m for m in config.ch_mult]
        channels = widths[-1]
        resolution = config.latent_resolution
        self.conv_in = nn.Conv2d(config.z_channels, channels, 3, padding=1)
        self.mid = Mid(channels, config.dropout)
        # Built from the lowest resolution up, stored by level index (up[0] = full resolution) as
        # the authors' checkpoints expect; forward walks it in reverse.
        levels: list[Level] = []
        for i in reversed(range(len(widths))):
            levels.insert(0, Level(channels, widths[i], config.num_res_blocks + 1,
                                   resolution in config.attn_resolutions, config.dropout,
                                   Upsample(widths[i]) if i > 0 else None))
            channels = widths[i]
            resolution = resolution * 2 if i > 0 else resolution
        self.up = nn.ModuleList(levels)
        self.norm_out = normalize(channels)
        self.conv_out = nn.Conv2d(channels, config.out_ch, 3, padding=1)

    def forward(self, z: Tensor) -> Tensor:
        h = self.mid(self.conv_in(z))
        for level in reversed(self.up):
            h = level(h)
        return self.conv_out(F.silu(self.norm_out(h)))
