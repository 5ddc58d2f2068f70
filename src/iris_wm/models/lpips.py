"""LPIPS perceptual distance (Zhang et al., CVPR 2018) on a VGG16 trunk, without torchvision.

The tokenizer's perceptual loss (docs/algorithm.md, 'Tokenizer'). The VGG16 `features` trunk is defined here with
torchvision's layer indices, so torchvision's ImageNet file `vgg16-397923af.pth` loads into it;
the five tiny linear-layer tensors ship with the package (weights/, BSD-2, see LICENSE-lpips.txt).

Every LPIPS weight is frozen and re-loadable, so none of it enters our checkpoints: the module
removes its keys from any parent's `state_dict()` and tells a parent's strict `load_state_dict()`
not to miss them (module names still mirror the original `tokenizer.lpips.*` keys, so an
original IRIS checkpoint that carries them loads too).
"""

import hashlib
import http.client
import os
import sys
import tempfile
import urllib.request
from collections import OrderedDict
from importlib import resources
from pathlib import Path
from typing import Literal

import torch
import torch.nn as nn
from safetensors.torch import load as load_safetensors
from torch import Tensor

from iris_wm.atomic import file_mode
from iris_wm.errors import IrisError

VGG16_FILE = "vgg16-397923af.pth"
VGG16_URL = f"https://download.pytorch.org/models/{VGG16_FILE}"
VGG16_SHA256 = "397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0"
CONNECT_TIMEOUT_S = 10  # also bounds each read: a dead network fails in seconds, never hangs

# torchvision's VGG16 `features`: a number is a 3x3 conv (+ ReLU) with that many output channels,
# "M" a 2x2 max-pool. Each takes one index, each ReLU one more: convs sit at 0, 2, 5, 7, 10, ...
VGG16_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)
SLICE_ENDS = (3, 8, 15, 22, 29)  # feature indices of relu1_2, relu2_2, relu3_3, relu4_3, relu5_3
CHANNELS = (64, 128, 256, 512, 512)  # channels of those five feature maps


def _missing_weights_message(reason: str, cache_file: Path) -> str:
    return (
        f"VGG16 ImageNet weights for the perceptual loss (LPIPS) are missing ({reason}): put "
        f"torchvision's {VGG16_FILE} (from {VGG16_URL}) at {cache_file}, or pass "
        f"tokenizer.perceptual_weights_path=PATH, or train without it: tokenizer.perceptual_weight=0"
    )


def _download(url: str, target: Path) -> None:
    """Stream `url` to a temporary file beside `target`, check its sha256, then rename it.

    The rename makes the file appear whole or not at all, so an interrupted download never
    leaves a truncated file that later runs would trust.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=CONNECT_TIMEOUT_S) as response:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != VGG16_SHA256:
            raise IrisError(_missing_weights_message(f"{url} failed its sha256 check", target))
        os.chmod(tmp, file_mode())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def resolve_vgg16_weights(path: str | os.PathLike | None = None) -> Path:
    """Find torchvision's VGG16 ImageNet weights; download them once if nowhere to be found.

    Order: `path` (the user's file; must exist), then torch hub's cache
    (`<torch.hub.get_dir()>/checkpoints/vgg16-397923af.pth`, where torchvision keeps it), then a
    download into that cache. `IRIS_WM_OFFLINE=1` in the environment skips the download.
    Raises IrisError, in one line saying how to provide the file, when all of that fails.
    """
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_file():
            raise IrisError(
                f"VGG16 weights file {path} (tokenizer.perceptual_weights_path) does not exist; give "
                f"the path of torchvision's {VGG16_FILE}, or set tokenizer.perceptual_weight=0"
            )
        return path
    cache_file = Path(torch.hub.get_dir()) / "checkpoints" / VGG16_FILE
    if cache_file.is_file():
        return cache_file
    if os.environ.get("IRIS_WM_OFFLINE") == "1":
        raise IrisError(_missing_weights_message("IRIS_WM_OFFLINE=1, no download tried", cache_file))
    print(f"Downloading {VGG16_URL} (528 MB, once) to {cache_file}", file=sys.stderr, flush=True)
    try:
        _download(VGG16_URL, cache_file)
    except (OSError, http.client.HTTPException) as error:  # URLError, timeouts, broken streams
        raise IrisError(_missing_weights_message(f"download failed: {error}", cache_file)) from error
    return cache_file


class ScalingLayer(nn.Module):
    """Map [-1, 1] images to the ImageNet normalisation the VGG16 trunk was trained with."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.shift) / self.scale


class VGG16Slices(nn.Module):
    """VGG16 `features` up to relu5_3, cut into five slices; children keep torchvision's indices."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[tuple[str, nn.Module]] = []
        in_channels = 3
        for entry in VGG16_CONFIG:
            if entry == "M":
                layers.append((str(len(layers)), nn.MaxPool2d(kernel_size=2, stride=2)))
            else:
                layers.append((str(len(layers)), nn.Conv2d(in_channels, entry, kernel_size=3, padding=1)))
                layers.append((str(len(layers)), nn.ReLU()))
                in_channels = entry
        start = 0
        for k, end in enumerate(SLICE_ENDS, start=1):
            self.add_module(f"slice{k}", nn.Sequential(OrderedDict(layers[start : end + 1])))
            start = end + 1

    def forward(self, x: Tensor) -> list[Tensor]:
        features = []  # five maps; for 64x64 input: (B, 64, 64, 64) ... (B, 512, 4, 4)
        for k in range(1, len(SLICE_ENDS) + 1):
            x = getattr(self, f"slice{k}")(x)
            features.append(x)
        return features

    def load_torchvision(self, path: Path) -> None:
        """Copy torchvision's `features.N.{weight,bias}` tensors into the slices, checking each."""
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # a truncated or foreign file: name it instead of a pickle trace
            raise IrisError(f"cannot read VGG16 weights {path}: {error}") from error
        if not isinstance(state, dict):
            raise IrisError(f"{path} holds a {type(state).__name__}, not torchvision's VGG16 state dict")
        with torch.no_grad():
            for name, param in self.named_parameters():  # e.g. "slice2.5.weight"
                _, index, kind = name.split(".")
                key = f"features.{index}.{kind}"
                value = state.get(key)
                if value is None or tuple(value.shape) != tuple(param.shape):
                    found = "absent" if value is None else f"shape {tuple(value.shape)}"
                    raise IrisError(
                        f"{path} is not torchvision's {VGG16_FILE}: key {key} is {found}, "
                        f"expected shape {tuple(param.shape)}"
                    )
                param.copy_(value)


class NetLinLayer(nn.Module):
    """Per-channel weighting of one layer's squared feature difference: Dropout, then 1x1 conv."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(p=0.5), nn.Conv2d(channels, 1, kernel_size=1, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


def _unit_normalize(x: Tensor, eps: float = 1e-10) -> Tensor:
    # Each spatial position's feature vector to unit length; eps is added to the norm, as the original does.
    return x / (x.square().sum(dim=1, keepdim=True).sqrt() + eps)


class LPIPS(nn.Module):
    """Learned perceptual distance between images in [-1, 1]: (B, 3, H, W) x2 -> (B, 1, 1, 1).

    trunk_weights: path of torchvision's `vgg16-397923af.pth`; None finds it with
        `resolve_vgg16_weights` (torch hub cache, else one download); "random" keeps the random
        initialisation (tests, or when the perceptual term is unused).
    dropout_in_train: the lin layers start with Dropout(0.5). The original builds LPIPS in eval
        mode but the trainer's `.train()` on the whole agent turns that dropout on, making the
        perceptual loss noisy (docs/faithfulness.md). True (default) keeps that paper behaviour;
        False keeps this module in eval mode whatever `.train()` says: a deterministic loss.

    All parameters are frozen; gradients still flow to the inputs, which is what the tokenizer
    trains through. The weights never appear in a `state_dict()` (this module's or a parent's)
    and a strict `load_state_dict()` does not ask for them.
    """

    def __init__(
        self,
        trunk_weights: str | os.PathLike | None | Literal["random"] = None,
        dropout_in_train: bool = True,
    ) -> None:
        super().__init__()
        self.dropout_in_train = dropout_in_train
        self.scaling_layer = ScalingLayer()
        self.net = VGG16Slices()
        for k, channels in enumerate(CHANNELS):
            self.add_module(f"lin{k}", NetLinLayer(channels))
        if trunk_weights != "random":
            self.net.load_torchvision(resolve_vgg16_weights(trunk_weights))
        self._load_shipped_lin_weights()
        self.requires_grad_(False)
        self.eval()
        self.register_state_dict_post_hook(_drop_own_keys)
        self.register_load_state_dict_pre_hook(_remember_prefix)
        self.register_load_state_dict_post_hook(_forgive_own_missing_keys)

    def _load_shipped_lin_weights(self) -> None:
        data = resources.files(__package__).joinpath("weights/lpips_vgg_lin.safetensors").read_bytes()
        lin_state = load_safetensors(data)  # "lin{k}.model.1.weight" -> (1, C_k, 1, 1)
        with torch.no_grad():
            for k in range(len(CHANNELS)):
                getattr(self, f"lin{k}").model[1].weight.copy_(lin_state[f"lin{k}.model.1.weight"])

    def train(self, mode: bool = True) -> "LPIPS":
        # A parent's .train() reaches here too; without dropout_in_train LPIPS stays in eval mode.
        return super().train(mode and self.dropout_in_train)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        # One trunk pass over both images: (2B, 3, H, W) -> five (2B, C_k, H_k, W_k) maps.
        features = self.net(self.scaling_layer(torch.cat([x, y])))
        distance = 0.0
        for k, both in enumerate(features):
            fx, fy = both.chunk(2)
            diff = (_unit_normalize(fx) - _unit_normalize(fy)).square()  # (B, C_k, H_k, W_k)
            lin = getattr(self, f"lin{k}")
            distance = distance + lin(diff).mean(dim=(2, 3), keepdim=True)  # (B, 1, 1, 1)
        return distance


# State-dict hooks: torch calls them for this module even when it is a child, with `prefix` being
# its dotted path in the parent ("tokenizer.lpips."), so these keys are found by prefix alone.


def _drop_own_keys(module: LPIPS, state_dict: dict, prefix: str, local_metadata: dict) -> None:
    for key in [key for key in state_dict if key.startswith(prefix)]:
        del state_dict[key]


def _remember_prefix(module: LPIPS, state_dict, prefix, local_metadata, strict, missing, unexpected, errors):
    # The load post-hook is not told the prefix; the pre-hook runs first in the same load.
    module._load_prefix = prefix


def _forgive_own_missing_keys(module: LPIPS, incompatible_keys) -> None:
    missing = incompatible_keys.missing_keys
    missing[:] = [key for key in missing if not key.startswith(module._load_prefix)]
