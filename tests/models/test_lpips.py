"""LPIPS with a randomly initialised VGG16 trunk: the maths, freezing, state-dict exclusion and
how torchvision's weights are found, loaded and verified (no network: downloads are served
from memory)."""

import hashlib
import io
import time
import urllib.error
import urllib.request

import pytest
import torch
import torch.nn as nn

from iris_wm.errors import IrisError
from iris_wm.models import lpips as lpips_module
from iris_wm.models.lpips import LPIPS, VGG16_FILE, resolve_vgg16_weights

TORCHVISION_CONVS = {
    0: (64, 3),
    2: (64, 64),
    5: (128, 64),
    7: (128, 128),
    10: (256, 128),
    12: (256, 256),
    14: (256, 256),
    17: (512, 256),
    19: (512, 512),
    21: (512, 512),
    24: (512, 512),
    26: (512, 512),
    28: (512, 512),
}  # features index -> (out, in) channels


@pytest.fixture(scope="module")
def lpips() -> LPIPS:
    return LPIPS("random")


def images(seed: int, batch: int = 2, size: int = 32) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, size, size, generator=generator) * 2 - 1  # in [-1, 1]


def test_distance_shape_sign_identity_symmetry(lpips):
    x, y = images(0), images(1)
    d = lpips(x, y)
    assert d.shape == (2, 1, 1, 1)
    assert (d > 0).all()
    assert torch.equal(lpips(x, x), torch.zeros(2, 1, 1, 1))
    torch.testing.assert_close(lpips(y, x), d)
    assert not torch.allclose(lpips(x, images(2)), d)


def test_64px_input_gives_five_maps_down_to_4px(lpips):
    maps = lpips.net(images(0, batch=1, size=64))
    assert [tuple(m.shape[1:]) for m in maps] == [
        (64, 64, 64),
        (128, 32, 32),
        (256, 16, 16),
        (512, 8, 8),
        (512, 4, 4),
    ]


def test_parameters_frozen_but_gradient_reaches_input(lpips):
    assert not any(p.requires_grad for p in lpips.parameters())
    x = images(0).requires_grad_(True)
    lpips(x, images(1)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in lpips.parameters())


def test_dropout_follows_parent_train_mode_only_when_asked():
    x, y = images(0), images(1)
    faithful, deterministic = LPIPS("random"), LPIPS("random", dropout_in_train=False)
    deterministic.net.load_state_dict(faithful.net.state_dict())  # same trunk for both
    eval_distance = faithful(x, y)
    nn.Sequential(faithful, deterministic).train()  # what the trainer does to the whole agent
    assert faithful.training and not deterministic.training
    torch.manual_seed(0)
    assert not torch.equal(faithful(x, y), faithful(x, y))  # Dropout(0.5) on the lin layers
    assert torch.equal(deterministic(x, y), deterministic(x, y))
    torch.testing.assert_close(deterministic(x, y), eval_distance)


class Tokenizer(nn.Module):
    def __init__(self, lpips: LPIPS) -> None:
        super().__init__()
        self.encoder = nn.Linear(3, 4)
        self.lpips = lpips


def test_weights_never_enter_a_parent_state_dict(lpips):
    agent = nn.ModuleDict({"tokenizer": Tokenizer(lpips)})
    state = agent.state_dict()
    assert list(state) == ["tokenizer.encoder.weight", "tokenizer.encoder.bias"]
    before = lpips.net.get_submodule("slice1.0").weight.clone()
    result = agent.load_state_dict(state, strict=True)  # no complaint about missing lpips keys
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert torch.equal(lpips.net.get_submodule("slice1.0").weight, before)


def test_original_checkpoint_keys_still_load(lpips):
    # Original IRIS checkpoints carry `tokenizer.lpips.*`; the module names map one to one.
    agent = nn.ModuleDict({"tokenizer": Tokenizer(lpips)})
    state = dict(agent.state_dict())
    for name, tensor in [*lpips.named_parameters(), *lpips.named_buffers()]:
        state[f"tokenizer.lpips.{name}"] = tensor.clone()
    assert len(state) == 2 + 33
    agent.load_state_dict(state, strict=True)
    with pytest.raises(RuntimeError, match="encoder.bias"):  # other missing keys still count
        agent.load_state_dict({k: v for k, v in state.items() if k != "tokenizer.encoder.bias"})


def torchvision_state_dict() -> dict[str, torch.Tensor]:
    state = {}
    for index, (out_channels, in_channels) in TORCHVISION_CONVS.items():
        state[f"features.{index}.weight"] = torch.randn(out_channels, in_channels, 3, 3)
        state[f"features.{index}.bias"] = torch.randn(out_channels)
    state["classifier.6.bias"] = torch.randn(1000)  # the classifier head is ignored
    return state


def test_torchvision_state_dict_lands_in_the_right_slices(tmp_path):
    state = torchvision_state_dict()
    torch.save(state, tmp_path / VGG16_FILE)
    model = LPIPS(tmp_path / VGG16_FILE)
    assert torch.equal(model.net.get_submodule("slice1.0").weight, state["features.0.weight"])
    assert torch.equal(model.net.get_submodule("slice2.7").bias, state["features.7.bias"])
    assert torch.equal(model.net.get_submodule("slice4.17").weight, state["features.17.weight"])
    assert torch.equal(model.net.get_submodule("slice5.28").bias, state["features.28.bias"])
    assert not any(p.requires_grad for p in model.parameters())


def test_wrong_shape_names_the_key(tmp_path):
    state = torchvision_state_dict()
    state["features.19.weight"] = torch.randn(512, 512, 1, 1)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(IrisError, match=r"features\.19\.weight"):
        LPIPS(tmp_path / "bad.pth")


def test_user_path_must_exist(tmp_path):
    with pytest.raises(IrisError, match="nowhere.pth"):
        resolve_vgg16_weights(tmp_path / "nowhere.pth")


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.delenv("IRIS_WM_OFFLINE", raising=False)
    return tmp_path / "checkpoints"


def test_offline_fails_fast_with_the_fix(empty_hub, monkeypatch):
    monkeypatch.setenv("IRIS_WM_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(IrisError) as error:
        LPIPS()
    assert time.monotonic() - start < 5
    message = str(error.value)
    assert "\n" not in message
    assert VGG16_FILE in message and "perceptual_weights_path" in message
    assert "perceptual_weight=0" in message


def test_unreachable_network_becomes_one_iris_error(empty_hub, monkeypatch):
    def no_network(url, timeout):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(IrisError, match="download failed.*perceptual_weight=0"):
        resolve_vgg16_weights()


def test_download_is_checksum_verified(empty_hub, monkeypatch):
    payload = b"not the VGG16 weights"
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: io.BytesIO(payload))
    with pytest.raises(IrisError, match="sha256"):
        resolve_vgg16_weights()
    assert list(empty_hub.iterdir()) == []  # the temporary file is gone, nothing cached

    monkeypatch.setattr(lpips_module, "VGG16_SHA256", hashlib.sha256(payload).hexdigest())
    path = resolve_vgg16_weights()
    assert path == empty_hub / VGG16_FILE and path.read_bytes() == payload
    assert list(empty_hub.iterdir()) == [path]
    monkeypatch.setattr(urllib.request, "urlopen", None)  # found in the cache: no second download
    assert resolve_vgg16_weights() == path


def test_shipped_lin_weights(lpips):
    weights = [getattr(lpips, f"lin{k}").model[1].weight for k in range(5)]
    assert [tuple(w.shape) for w in weights] == [
        (1, 64, 1, 1),
        (1, 128, 1, 1),
        (1, 256, 1, 1),
        (1, 512, 1, 1),
        (1, 512, 1, 1),
    ]
    assert all((w >= 0).all() and w.std() > 0 for w in weights)  # LPIPS learns non-negative weights
    assert not torch.equal(weights[3], weights[4])
    assert all(isinstance(getattr(lpips, f"lin{k}").model[0], nn.Dropout) for k in range(5))
