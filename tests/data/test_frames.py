import ast
from pathlib import Path

import numpy as np
import torch

from iris_wm.data.frames import chw_to_hwc, hwc_to_chw, quantize, resize_frame, to_float, to_uint8, to_uint8_truncated

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "iris_wm"
EVERY_LEVEL = torch.arange(256, dtype=torch.uint8)


def levels(*steps: float) -> torch.Tensor:
    """Floats at the given multiples of 1/255."""
    return torch.tensor(steps) / 255


def test_to_float_maps_k_to_k_over_255_and_leaves_its_input_alone():
    frames = EVERY_LEVEL.clone()
    floats = to_float(frames)
    assert floats.dtype == torch.float32 and torch.equal(floats, EVERY_LEVEL.float() / 255)
    assert floats[0] == 0 and floats[-1] == 1
    assert torch.equal(frames, EVERY_LEVEL)  # divided in place, but in its own copy


def test_to_uint8_rounds_to_the_nearest_level_ties_to_even():
    assert to_uint8(levels(0.49, 0.5, 0.51, 1.5, 2.5, 254.5, 254.51)).tolist() == [0, 0, 1, 2, 2, 254, 255]


def test_to_uint8_truncated_rounds_down():
    assert to_uint8_truncated(levels(0.49, 0.51, 0.99, 1, 254.99, 255)).tolist() == [0, 0, 0, 1, 254, 255]


def test_both_clamp_out_of_range_frames():
    frames = torch.tensor([-0.3, -1e-6, 1 + 1e-6, 1.7])
    assert to_uint8(frames).tolist() == to_uint8_truncated(frames).tolist() == [0, 0, 255, 255]


def test_round_trips_from_uint8_are_the_identity():
    assert torch.equal(to_uint8(to_float(EVERY_LEVEL)), EVERY_LEVEL)
    assert torch.equal(to_uint8_truncated(to_float(EVERY_LEVEL)), EVERY_LEVEL)


def test_quantize_is_the_stored_frame_as_float():
    frames = torch.rand(1000) * 1.2 - 0.1
    assert torch.equal(quantize(frames), to_float(to_uint8(frames)))
    assert torch.equal(quantize(to_float(EVERY_LEVEL)), to_float(EVERY_LEVEL))


def test_layouts_move_the_channel_axis_as_views():
    hwc = np.arange(2 * 4 * 5 * 3, dtype=np.uint8).reshape(2, 4, 5, 3)  # (N, H, W, 3)
    chw = hwc_to_chw(hwc)
    assert chw.shape == (2, 3, 4, 5) and np.shares_memory(chw, hwc)
    assert np.array_equal(chw, hwc.transpose(0, 3, 1, 2)) and np.array_equal(chw_to_hwc(chw), hwc)
    tensor = torch.from_numpy(hwc[0])  # (H, W, 3)
    assert torch.equal(hwc_to_chw(tensor), tensor.permute(2, 0, 1))
    assert torch.equal(chw_to_hwc(hwc_to_chw(tensor)), tensor)


def test_resize_frame_gives_a_square_uint8_image():
    frame = np.random.default_rng(0).integers(0, 256, (210, 160, 3), dtype=np.uint8)
    resized = resize_frame(frame, 64)
    assert resized.shape == (64, 64, 3) and resized.dtype == np.uint8


# -- every conversion goes through data/frames.py ------------------------------------------------

SCALING = {"mul", "mul_", "div", "div_", "multiply", "divide", "true_divide"}


def is_255(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) in (int, float) and node.value == 255


def is_uint8(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "uint8" and ast.unparse(node.value) == "torch"


def is_frame_conversion(node: ast.AST) -> bool:
    """x * 255, x / 255 (also 255.0, *=, /=), x.mul(255), torch.div(x, 255), x.byte(), x.to(torch.uint8):
    uint8 <-> float in [0, 1]. Numbers of bins (255 two-hot bins) are never multiplied or divided by."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div)):
        return is_255(node.left) or is_255(node.right)
    if isinstance(node, ast.AugAssign) and isinstance(node.op, (ast.Mult, ast.Div)):
        return is_255(node.value)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        arguments = [*node.args, *(keyword.value for keyword in node.keywords)]
        name = node.func.attr
        return ((name in SCALING and any(map(is_255, arguments))) or name == "byte"
                or (name in ("to", "type") and any(map(is_uint8, arguments))))
    return False


def frame_conversions(source: str) -> list[int]:
    return sorted({node.lineno for node in ast.walk(ast.parse(source)) if is_frame_conversion(node)})


def test_the_scan_finds_conversions_and_not_bins():
    found = ["frames.mul(255).byte()", "x.float().div_(255)", "torch.div(x, 255)", "(x * 255.0).astype(np.uint8)",
             "x.astype(np.float32) / 255", "255 * x", "x /= 255", "x.round().to(torch.uint8)",
             "x.to(dtype=torch.uint8)"]
    for line in found:
        assert frame_conversions(line) == [1], line
    not_found = ["NUM_BINS = 255", "nn.Linear(512, 255)", "torch.zeros(n, 255)", "logits.view(b, t, 255)",
                 "Box(0, 255, (64, 64, 3), np.uint8)", "255 - gap", "'rounded to 1/255'  # x / 255",
                 "frames.dtype == torch.uint8"]
    for line in not_found:
        assert frame_conversions(line) == [], line


def test_no_module_but_data_frames_converts_frames():
    sites = [f"{path.relative_to(PACKAGE)}:{line}" for path in sorted(PACKAGE.rglob("*.py"))
             if path != PACKAGE / "data" / "frames.py"
             for line in frame_conversions(path.read_text())]
    assert sites == [], f"uint8 <-> float frame conversions outside data/frames.py (use its functions): {sites}"
