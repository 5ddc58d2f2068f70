"""Convolutional frame networks of Δ-IRIS (docs/delta-iris.md): residual blocks with
GroupNorm, an encoder from 64x64 frames to an 8x8 feature grid and its mirror-image decoder.

Layer indices follow the authors' ``nn.Sequential`` lists, so that their checkpoint tensors
(``encoder.N.*``, ``decoder.N.*``, ``f.N``, ``skip_projection``) load by name.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from iris_wm.config import at_least
from iris_wm.errors import IrisError

GROUPS = 32  # GroupNorm groups everywhere: every width must be a multiple of 32


@dataclass
class FrameCnnConfig:
    """A frame encoder or decoder: stage widths ``mult[i] * num_channels``; a stage with ``down[i]``
    halves the resolution (the decoder doubles it back)."""

    latent_dim: int = at_least(1, 16)  # channels of the 8x8 feature grid
    num_channels: int = at_least(GROUPS, 32)  # base width
    mult: tuple[int, ...] = (1, 1, 2, 2, 4)
    down: tuple[int, ...] = (1, 0, 1, 1, 0)

    def __post_init__(self) -> None:
        self.mult, self.down = tuple(self.mult), tuple(self.down)  # Hydra hands lists over
        if len(self.mult) != len(self.down) or not self.mult:
            raise IrisError(f"a frame CNN's mult {list(self.mult)} and down {list(self.down)} need the same, non-zero "
                            f"length: one entry per stage")
        if min(self.mult) < 1 or not set(self.down) <= {0, 1}:
            raise IrisError(f"a frame CNN's mult entries must be positive and down entries 0 or 1, got mult "
                            f"{list(self.mult)}, down {list(self.down)}")
        if self.num_channels % GROUPS:
            raise IrisError(f"a frame CNN's num_channels={self.num_channels} is not a multiple of {GROUPS} (its "
                            f"GroupNorms have {GROUPS} groups); use 32, 64, ...")

    def latent_resolution(self, image_size: int = 64) -> int:
        return image_size // 2 ** sum(self.down)


class ResidualBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.f = nn.Sequential(
            nn.GroupNorm(GROUPS, in_channels), nn.SiLU(), nn.Conv2d(in_channels, out_channels, 3, padding=1),
            nn.GroupNorm(GROUPS, out_channels), nn.SiLU(), nn.Conv2d(out_channels, out_channels, 3, padding=1),
        )
        self.skip_projection = nn.Identity() if in_channels == out_channels else nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.skip_projection(x) + self.f(x)


class Downsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 2, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class FrameEncoder(nn.Module):
    """(*lead, in_channels, 64, 64) -> (*lead, latent_dim, 8, 8) with the standard stages."""

    def __init__(self, in_channels: int, config: FrameCnnConfig) -> None:
        super().__init__()
        ch, layers = config.num_channels, [nn.Conv2d(in_channels, config.num_channels, 3, padding=1)]
        width = ch
        for mult, down in zip(config.mult, config.down, strict=True):
            layers.append(ResidualBlock(width, mult * ch))
            width = mult * ch
            if down:
                layers.append(Downsample(width))
        layers += [nn.GroupNorm(GROUPS, width), nn.SiLU(), nn.Conv2d(width, config.latent_dim, 3, padding=1)]
        self.encoder = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.encoder(x.flatten(0, -4)).unflatten(0, x.shape[:-3])


class FrameDecoder(nn.Module):
    """(*lead, in_channels, 8, 8) -> (*lead, out_channels, 64, 64), raw values (no output activation)."""

    def __init__(self, in_channels: int, out_channels: int, config: FrameCnnConfig) -> None:
        super().__init__()
        ch, stages = config.num_channels, []
        widths = (1, *config.mult[:-1])  # stage i maps mult[i] * ch back to mult[i - 1] * ch
        for mult, previous, down in zip(config.mult, widths, config.down, strict=True):
            stages.append(ResidualBlock(mult * ch, previous * ch))
            if down:
                stages.append(Upsample(mult * ch))
        top = config.mult[-1] * ch
        layers = [nn.Conv2d(in_channels, top, 3, padding=1), *reversed(stages),
                  nn.GroupNorm(GROUPS, ch), nn.SiLU(), nn.Conv2d(ch, out_channels, 3, padding=1)]
        self.decoder = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(x.flatten(0, -4)).unflatten(0, x.shape[:-3])
