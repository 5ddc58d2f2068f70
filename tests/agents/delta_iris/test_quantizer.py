"""Δ-IRIS's quantizer on hand-checked small codebooks: the EMA update, the usage entropy, the
revival of dead codes and the gate that allows it."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from iris_wm.agents.delta_iris.quantizer import Quantizer, usage_entropy


def quantizer(codebook: torch.Tensor, freqs: torch.Tensor, updates: int = 0, limit: int | None = None) -> Quantizer:
    q = Quantizer(codebook.shape[0], codebook.shape[1], input_dim=3, max_codebook_updates_with_revival=limit)
    q.codebook.copy_(codebook)
    q.codewords_freqs.copy_(freqs)
    q.num_codebook_updates.fill_(updates)
    return q


AXES = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])


def test_ema_update_hand_computed():
    q = quantizer(AXES, torch.full((4,), 0.25), updates=7, limit=None)
    e = torch.tensor([[0.6, 0.8], [0.8, 0.6], [0.0, -1.0]])
    metrics = q.update_codebook(e, torch.tensor([1, 0, 3]))
    # code 0 <- 0.99 (1, 0) + 0.01 (0.8, 0.6) = (0.998, 0.006); code 1 <- (0.006, 0.998);
    # code 2 is unused: 0.99 (-1, 0), renormalised back to (-1, 0); code 3 <- 0.99 (0,-1) + 0.01 (0,-1)
    c0 = torch.tensor([0.998, 0.006])
    expected = torch.stack([c0 / c0.norm(), c0.flip(0) / c0.norm(), AXES[2], AXES[3]])
    torch.testing.assert_close(q.codebook, expected, atol=1e-7, rtol=0)
    # freqs <- 0.98 * 0.25 + 0.02 * count / 3
    freqs = [0.245 + 0.02 / 3, 0.245 + 0.02 / 3, 0.245, 0.245 + 0.02 / 3]
    torch.testing.assert_close(q.codewords_freqs, torch.tensor(freqs), atol=1e-7, rtol=0)
    assert metrics["codebook_entropy"].item() == pytest.approx(-sum(p * math.log2(p) for p in freqs), abs=1e-6)
    # log2(4) - 2 = 0 bits: a 4-code book never revives
    assert metrics["codewords_revived"] == 0
    assert int(q.num_codebook_updates) == 8


def test_several_vectors_of_one_code_move_it_towards_their_normalised_mean():
    q = quantizer(AXES, torch.full((4,), 0.25))
    q.update_codebook(torch.tensor([[0.6, 0.8], [0.0, 1.0]]), torch.tensor([1, 1]))
    # mean (0.3, 0.9), normalised: (1, 3) / sqrt(10)
    m = torch.tensor([1.0, 3.0]) / math.sqrt(10)
    c1 = 0.99 * AXES[1] + 0.01 * m
    torch.testing.assert_close(q.codebook[1], c1 / c1.norm(), atol=1e-7, rtol=0)


def test_usage_entropy():
    assert usage_entropy(torch.tensor([0.5, 0.5, 0.0, 0.0])).item() == pytest.approx(1.0)
    assert usage_entropy(torch.full((4,), 0.25)).item() == pytest.approx(2.0)
    assert usage_entropy(torch.tensor([1.0, 0.0, 0.0])).item() == 0  # zero frequencies count nothing (no NaN)
    assert usage_entropy(torch.full((1024,), 1 / 1024)).item() == pytest.approx(10.0, abs=1e-4)


def collapsed(size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """A codebook of 0.5-long rows where only code 0 is in use (entropy 0 bits)."""
    g = torch.Generator().manual_seed(0)
    codebook = 0.5 * F.normalize(torch.randn(size, 2, generator=g), dim=-1)
    freqs = torch.zeros(size)
    freqs[0] = 1
    return codebook, freqs


def unit_vectors(n: int, seed: int = 1) -> torch.Tensor:
    return F.normalize(torch.randn(n, 2, generator=torch.Generator().manual_seed(seed)), dim=-1)


def test_revival_copies_distinct_batch_vectors_into_dead_codes():
    codebook, freqs = collapsed()
    q = quantizer(codebook, freqs, limit=None)
    e = unit_vectors(3)
    metrics = q.update_codebook(e, torch.zeros(3, dtype=torch.long))
    # code 0 keeps freq 0.98 + 0.02 = 1: 0 bits < log2(16) - 2 = 2; the 15 others are dead
    # (freq 0 < 1 / 160); 3 of them (one per batch vector) are revived at freq 1/16
    assert metrics["codewords_revived"] == 15
    revived = (q.codewords_freqs == 1 / 16).nonzero().squeeze(1)
    assert len(revived) == 3 and 0 not in revived.tolist()
    assert q.codewords_freqs[0] == pytest.approx(1.0) and (q.codewords_freqs == 0).sum() == 12
    # each batch vector went into exactly one revived code
    rows = q.codebook[revived]
    assert all(torch.isclose(rows, v, atol=1e-6).all(-1).sum() == 1 for v in e)
    # every row is renormalised, and the codes still dead kept their direction
    torch.testing.assert_close(q.codebook.norm(dim=-1), torch.ones(16), atol=1e-6, rtol=0)
    dead = [k for k in range(1, 16) if k not in revived.tolist()]
    torch.testing.assert_close(q.codebook[dead], F.normalize(codebook[dead], dim=-1), atol=1e-6, rtol=0)


def test_revival_with_more_vectors_than_dead_codes_revives_them_all():
    codebook, freqs = collapsed()
    q = quantizer(codebook, freqs, limit=None)
    e = unit_vectors(40)
    metrics = q.update_codebook(e, torch.zeros(40, dtype=torch.long))
    assert metrics["codewords_revived"] == 15
    assert (q.codewords_freqs[1:] == 1 / 16).all()
    rows = q.codebook[1:]
    assert len({tuple(r) for r in rows.tolist()}) == 15  # distinct vectors
    assert all(torch.isclose(e, r, atol=1e-6).all(-1).any() for r in rows)  # each one of the batch's


def skewed(size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Usage 1/2, 1/4, 1/4 on codes 0-2: 1.5 bits, between 1 and log2(16) - 2 = 2; 13 dead codes."""
    codebook, _ = collapsed(size)
    freqs = torch.zeros(size)
    freqs[:3] = torch.tensor([0.5, 0.25, 0.25])
    return codebook, freqs


def update_skewed(updates: int, limit: int | None) -> dict[str, torch.Tensor]:
    codebook, freqs = skewed()
    tokens = torch.tensor([0, 0, 1, 2])  # the same usage: the entropy stays 1.5 bits
    return quantizer(codebook, freqs, updates, limit).update_codebook(unit_vectors(4), tokens)


@pytest.mark.parametrize(("updates", "limit", "revives"), [
    (10_000, None, True),  # no limit: always
    (3, 5, True),  # within the first `limit` updates
    (5, 5, False),  # past them, and the usage has not collapsed below 1 bit
    (0, 0, False),  # Crafter's 0: only on collapse
])
def test_the_revival_gate(updates, limit, revives):
    metrics = update_skewed(updates, limit)
    assert metrics["codebook_entropy"].item() == pytest.approx(1.5, abs=1e-6)
    assert metrics["codewords_revived"] == (13 if revives else 0)


@pytest.mark.parametrize(("updates", "limit"), [(0, 0), (5, 5), (10_000, 400)])
def test_a_collapse_below_one_bit_revives_past_the_limit(updates, limit):
    codebook, freqs = collapsed()
    q = quantizer(codebook, freqs, updates, limit)
    assert q.may_revive(torch.tensor(0.99)) and not q.may_revive(torch.tensor(1.0))
    assert q.update_codebook(unit_vectors(2), torch.zeros(2, dtype=torch.long))["codewords_revived"] == 15


def test_may_revive():
    codebook, freqs = skewed()
    assert quantizer(codebook, freqs, 10_000, None).may_revive(torch.tensor(9.0))
    assert quantizer(codebook, freqs, 399, 400).may_revive(torch.tensor(9.0))
    assert not quantizer(codebook, freqs, 400, 400).may_revive(torch.tensor(1.0))
    assert quantizer(codebook, freqs, 400, 400).may_revive(torch.tensor(0.5))


def test_no_revival_above_the_entropy_threshold():
    """Dead codes, revival allowed, but 2.5 bits >= log2(16) - 2: nothing is revived."""
    codebook, _ = collapsed()
    freqs = torch.zeros(16)
    freqs[:6] = torch.tensor([0.25, 0.25, 0.125, 0.125, 0.125, 0.125])  # 2.5 bits
    q = quantizer(codebook, freqs, limit=None)
    metrics = q.update_codebook(unit_vectors(8), torch.tensor([0, 0, 1, 1, 2, 3, 4, 5]))
    assert metrics["codebook_entropy"].item() == pytest.approx(2.5, abs=1e-6)
    assert metrics["codewords_revived"] == 0 and (q.codewords_freqs[6:] == 0).all()


def test_forward_training_and_eval():
    torch.manual_seed(0)
    q = Quantizer(8, 4, input_dim=6, max_codebook_updates_with_revival=None)
    z = torch.randn(2, 3, 6, requires_grad=True)
    q.eval()
    out = q(z)
    assert out.tokens.shape == (2, 3) and out.q.shape == (2, 3, 6) and out.metrics == {}
    assert int(q.num_codebook_updates) == 0
    e = F.normalize(q.pre_quant_proj(z), dim=-1)
    code = q.codebook[out.tokens]
    assert torch.equal(out.tokens, (e @ q.codebook.t()).argmax(-1))
    assert out.commitment_loss.item() == pytest.approx(0.02 * (e - code).pow(2).mean().item(), rel=1e-5)
    torch.testing.assert_close(out.q, q.embed_tokens(out.tokens), atol=1e-6, rtol=0)  # straight-through value
    out.q.sum().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0  # the gradient reaches the encoder side
    before = q.codebook.clone()
    q.train()
    out = q(z)
    assert set(out.metrics) == {"codewords_revived", "codebook_entropy"} and int(q.num_codebook_updates) == 1
    assert not torch.equal(q.codebook, before)
    # the codes handed out are the codebook before this step's update
    torch.testing.assert_close(out.q, q.post_quant_proj(before[out.tokens]), atol=1e-6, rtol=0)
