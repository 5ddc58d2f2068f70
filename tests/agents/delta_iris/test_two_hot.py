"""Symlog and two-hot encodings of Δ-IRIS's Crafter reward head and critic, on hand-checked values."""

from __future__ import annotations

import math

import pytest
import torch

from iris_wm.models.two_hot import bins, expected_value, symexp, symlog, symlog_two_hot, two_hot

SPACING = 40 / 254


def test_symlog_and_symexp():
    assert symlog(torch.tensor([math.e - 1, -(math.e - 1), 0.0])).tolist() == pytest.approx([1.0, -1.0, 0.0])
    assert symexp(torch.tensor([1.0, -2.0])).tolist() == pytest.approx([math.e - 1, -(math.e**2 - 1)])
    x = torch.tensor([0.0, 0.3, -0.3, 7.0, -250.0, 1e4])
    torch.testing.assert_close(symexp(symlog(x)), x, rtol=1e-6, atol=1e-6)


def test_bins():
    b = bins()
    assert b.shape == (255,) and b[0] == -20 and b[-1] == 20 and abs(b[127]) < 1e-6  # linspace's middle: ~0
    torch.testing.assert_close(b.diff(), torch.full((254,), SPACING), atol=1e-5, rtol=0)


@pytest.mark.parametrize("x", [0.0, 1.0, -1.0, 0.1, -0.37, 3.7, 42.0, -1000.0, 1e4, -1e6])
def test_round_trip_through_logits(x):
    # log of the two-hot target as logits: softmax gives it back, so the expected value is x
    value = expected_value(symlog_two_hot(torch.tensor([x])).log())
    assert value.item() == pytest.approx(x, rel=1e-4, abs=1e-4)


def test_weights_split_linearly_between_the_neighbouring_bins():
    y = torch.tensor([-20 + 10.25 * SPACING])
    row = two_hot(y)[0]
    assert row[10:12].tolist() == pytest.approx([0.75, 0.25], abs=1e-4)
    assert row.sum().item() == pytest.approx(1) and torch.count_nonzero(row) == 2
    on_bin = two_hot(bins()[[0, 10, 127]])  # exactly on a centre: all the weight there
    for row, k in zip(on_bin, (0, 10, 127), strict=True):
        assert row[k].item() == pytest.approx(1, abs=1e-5) and row.sum().item() == pytest.approx(1)


def test_edges_are_clamped():
    out = two_hot(torch.tensor([20.0, 1e3, -20.0, -1e3]))
    # the top is clamped to 20 - 1e-5: all but 1e-5 / spacing of the weight on the last bin
    assert out[0, 254].item() == pytest.approx(1 - 1e-5 / SPACING, abs=1e-5) and out[0, 253] > 0
    assert torch.equal(out[1], out[0])
    assert out[2, 0] == 1 and torch.equal(out[3], out[2])
    assert torch.isfinite(out).all() and torch.allclose(out.sum(-1), torch.ones(4))
    # symlog(1e9) = 20.7 is past the top bin: the round trip saturates at symexp(20)
    assert expected_value(symlog_two_hot(torch.tensor([1e9])).log()).item() == pytest.approx(math.expm1(20), rel=1e-3)


def test_expected_value_of_uniform_logits_is_zero_and_shapes_are_kept():
    assert expected_value(torch.zeros(3, 4, 255)).shape == (3, 4)
    assert expected_value(torch.zeros(255)).abs().item() < 1e-4  # the bins are symmetric around 0
    assert symlog_two_hot(torch.zeros(2, 5)).shape == (2, 5, 255)
