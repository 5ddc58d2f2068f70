"""Δ-IRIS's prioritised segment sampler: episode probabilities from draw counts, counting, the
uniform first epoch and evaluation, where segments lie, and its saved state."""

from __future__ import annotations

import numpy as np
import pytest

from iris_wm.data.sampling import PrioritizedSegments

IDS = np.array([10, 11, 12])  # episode ids differ from their indices: counts are per id


def sampler(alpha: float, beyond_end: bool = True, counts: dict[int, int] | None = None) -> PrioritizedSegments:
    s = PrioritizedSegments(alpha, can_sample_beyond_end=beyond_end)
    s.counts = dict(counts or {})
    return s


@pytest.mark.parametrize(("alpha", "expected"), [
    # weights (1 / (1 + c))^alpha for counts 0, 1, 3: alpha 1: 1, 1/2, 1/4 (sum 7/4);
    # alpha 2: 1, 1/4, 1/16 (sum 21/16)
    (1, [4 / 7, 2 / 7, 1 / 7]),
    (2, [16 / 21, 4 / 21, 1 / 21]),
    (0, [1 / 3, 1 / 3, 1 / 3]),
])
def test_probabilities_hand_computed(alpha, expected):
    s = sampler(alpha, counts={10: 0, 11: 1, 12: 3})
    assert s.probabilities(IDS).tolist() == pytest.approx(expected)
    assert sampler(alpha, counts={11: 1, 12: 3}).probabilities(IDS).tolist() == pytest.approx(expected)  # new: 0


def test_draws_follow_the_probabilities_and_are_counted():
    s = sampler(2, counts={10: 0, 11: 1, 12: 3})
    p = s.probabilities(IDS)
    s.counts = {10: 0, 11: 1, 12: 3}
    rng = np.random.default_rng(0)
    indices, _ = s.choose(IDS, np.array([5, 5, 5]), 20_000, 4, rng)
    frequencies = np.bincount(indices, minlength=3) / 20_000
    assert frequencies == pytest.approx(p, abs=0.01)
    drawn = np.bincount(indices, minlength=3)
    assert s.counts == {10: 0 + drawn[0], 11: 1 + drawn[1], 12: 3 + drawn[2]}  # once per drawn segment
    assert sum(s.counts.values()) == 4 + 20_000


def test_counts_update_the_priorities_from_batch_to_batch():
    s = sampler(5)
    rng = np.random.default_rng(1)
    lengths = np.array([3, 3, 3])
    indices, _ = s.choose(IDS, lengths, 1, 2, rng)
    drawn = int(IDS[indices[0]])
    assert s.counts == {drawn: 1}
    p = s.probabilities(IDS)
    # (1/2)^5 = 1/32 for the drawn episode, 1 for the other two: 1/65 vs 32/65
    assert p[IDS == drawn][0] == pytest.approx(1 / 65) and p[IDS != drawn] == pytest.approx([32 / 65, 32 / 65])


def test_prioritize_false_draws_uniformly_but_counts():
    s = sampler(5, counts={10: 0, 11: 50, 12: 50})
    s.prioritize = False
    indices, _ = s.choose(IDS, np.array([4, 4, 4]), 30_000, 2, np.random.default_rng(2))
    assert np.bincount(indices, minlength=3) / 30_000 == pytest.approx([1 / 3] * 3, abs=0.01)
    assert sum(s.counts.values()) == 100 + 30_000


def test_evaluation_sampler_counts_nothing_and_is_uniform():
    s = sampler(5, beyond_end=False, counts={10: 0, 11: 50, 12: 50})
    evaluation = s.for_evaluation()
    assert evaluation.can_sample_beyond_end is False and evaluation.alpha == 5
    indices, _ = evaluation.choose(IDS, np.array([4, 4, 4]), 30_000, 2, np.random.default_rng(3))
    assert evaluation.counts == {} and s.counts == {10: 0, 11: 50, 12: 50}
    assert np.bincount(indices, minlength=3) / 30_000 == pytest.approx([1 / 3] * 3, abs=0.01)


def test_segments_beyond_the_end_contain_their_step_and_may_be_padded_on_both_sides():
    s = sampler(0)
    length, seq = 5, 4
    _, starts = s.choose(np.array([0]), np.array([length]), 20_000, seq, np.random.default_rng(4))
    stops = starts + seq
    # start = t - U{0..L-1} with t in [0, len): every segment overlaps the episode
    assert starts.min() == -(seq - 1) and starts.max() == length - 1
    assert (stops >= 1).all() and (starts <= length - 1).all()
    assert ((starts < 0) & (stops > length)).sum() == 0  # 4 steps cannot pad both sides of 5
    assert (starts < 0).any() and (stops > length).any()
    _, starts = s.choose(np.array([0]), np.array([2]), 20_000, 4, np.random.default_rng(5))
    assert ((starts < 0) & (starts + 4 > 2)).any()  # a short episode: padding on both sides at once


def test_segments_not_beyond_the_end_have_a_real_last_step():
    s = sampler(0, beyond_end=False)
    length, seq = 6, 4
    _, starts = s.choose(np.array([0]), np.array([length]), 20_000, seq, np.random.default_rng(6))
    stops = starts + seq
    # stop = min(len, t + 1 + U{0..L-1}) in [1, len]; left padding when stop < L
    assert stops.max() == length and stops.min() == 1 and (stops <= length).all()
    assert (starts < 0).any()
    # t = len - 1 or offsets past the end clamp to len: stop == len is the most frequent
    assert np.bincount(stops).argmax() == length


def test_state_dict_round_trip():
    s = sampler(2)
    s.choose(IDS, np.array([3, 4, 5]), 50, 2, np.random.default_rng(7))
    restored = sampler(2)
    restored.load_state_dict(s.state_dict())
    assert restored.counts == s.counts and sum(restored.counts.values()) == 50
    assert restored.probabilities(IDS) == pytest.approx(s.probabilities(IDS))
