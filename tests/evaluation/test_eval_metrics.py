"""The estimators against the published numbers (docs/report.md) and against rliable itself."""

import numpy as np
import pytest

from iris_wm.envs.atari.report import evaluate_method
from iris_wm.envs.atari.scores import load_baseline, load_references
from iris_wm.errors import IrisError
from iris_wm.scores import statistics as metrics
from iris_wm.scores.report import ReportOptions

NO_BOOTSTRAP = ReportOptions(reps=0, profile_reps=0, poi_reps=0)

# Published aggregates (rliable 1.2.0; the IRIS paper's Table 1, and Δ-IRIS's; docs/report.md):
# runs, #superhuman, mean, median, IQM, optimality gap.
PUBLISHED = {
    "IRIS": (5, 10, 1.046, 0.289, 0.501, 0.512),
    "DELTA_IRIS": (5, 12, 1.383, 0.594, 0.682, 0.443),
    "SimPLe": (5, 1, 0.332, 0.134, 0.130, 0.729),
    "CURL": (100, 2, 0.261, 0.092, 0.113, 0.768),
    "DrQ_eps": (100, 3, 0.465, 0.313, 0.280, 0.631),
    "SPR": (100, 6, 0.616, 0.396, 0.337, 0.577),
    "MuZero": (1, 5, 0.562, 0.227, 0.288, 0.616),
    "EfficientZero": (1, 14, 1.943, 1.090, 1.047, 0.367),
}


def _hns(name: str) -> np.ndarray:
    return evaluate_method(load_baseline(name), load_references(), NO_BOOTSTRAP).hns


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_bundled_methods_give_the_published_aggregates(name):
    runs, superhuman, mean, median, iqm, gap = PUBLISHED[name]
    result = evaluate_method(load_baseline(name), load_references(), NO_BOOTSTRAP)
    assert result.runs == runs and result.missing == []
    assert result.superhuman == superhuman
    got = [round(result.aggregates[key], 3) for key in metrics.AGGREGATES]
    assert got == [mean, median, iqm, gap]


def test_iris_superhuman_games_and_raw_means():
    result = evaluate_method(load_baseline("IRIS"), load_references(), NO_BOOTSTRAP)
    superhuman = [game for game, value in result.game_means().items() if value >= 1]
    assert superhuman == ["Assault", "Boxing", "Breakout", "CrazyClimber", "DemonAttack", "Freeway",
                          "Jamesbond", "Krull", "Pong", "RoadRunner"]  # fmt: skip
    raw = dict(zip(result.games, result.raw_means, strict=True))
    assert round(raw["CrazyClimber"], 1) == 59324.2 and round(raw["Pong"], 1) == 14.6


def test_curl_raw_means_are_computed_back_from_its_normalised_scores():
    result = evaluate_method(load_baseline("CURL"), load_references(), NO_BOOTSTRAP)
    raw = dict(zip(result.games, result.raw_means, strict=True))
    assert round(raw["Alien"], 1) == 711.0 and round(raw["Frostbite"], 1) == 1226.5  # the published means


def test_human_normalisation_ends():
    assert metrics.human_normalized(np.array([0.0, 10.0, 5.0]), 0.0, 10.0).tolist() == [0.0, 1.0, 0.5]
    assert metrics.human_normalized(np.array([-20.7, 14.6]), -20.7, 14.6).tolist() == [0.0, 1.0]


def test_estimators_on_a_small_hand_checked_matrix():
    scores = np.array([[0.0, 1.0, 4.0, 2.0], [2.0, 3.0, 0.0, 2.0]])  # 2 runs x 4 games
    assert metrics.per_game_means(scores).tolist() == [1.0, 2.0, 2.0, 2.0]
    assert metrics.aggregate_mean(scores) == 1.75
    assert metrics.aggregate_median(scores) == 2.0
    assert metrics.aggregate_iqm(scores) == 1.75  # sorted 0,0,1,2,2,2,3,4: keep the middle 1,2,2,2
    assert metrics.aggregate_optimality_gap(scores) == 0.25  # min(s, 1): 0,1,1,1,1,1,0,1 -> 1 - 6/8
    assert metrics.superhuman_games(scores) == 4
    assert metrics.performance_profile(scores, np.array([0.0, 1.5, 3.5])).tolist() == [0.75, 0.625, 0.125]


def test_estimators_match_rliable_exactly():
    rliable_metrics = pytest.importorskip("rliable.metrics")
    rng = np.random.default_rng(1)
    for scores in (_hns("IRIS"), _hns("SPR"), rng.normal(0.5, 1.0, size=(7, 13))):
        ours = metrics.aggregates(scores)
        theirs = [
            rliable_metrics.aggregate_mean(scores),
            rliable_metrics.aggregate_median(scores),
            rliable_metrics.aggregate_iqm(scores),
            rliable_metrics.aggregate_optimality_gap(scores, gamma=1),
        ]
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)


def test_probability_of_improvement_matches_rliable():
    rliable_metrics = pytest.importorskip("rliable.metrics")
    iris, spr = _hns("IRIS"), _hns("SPR")
    ours = metrics.probability_of_improvement(iris, spr)
    assert ours == pytest.approx(rliable_metrics.probability_of_improvement(iris, spr), abs=1e-12)
    ties = np.array([[1.0, 2.0], [1.0, 3.0]])
    assert metrics.probability_of_improvement(ties, ties) == 0.5


def test_performance_profile_matches_rliable():
    library = pytest.importorskip("rliable.library")
    scores = _hns("IRIS")
    taus = np.linspace(0, 8, 201)
    theirs = library.score_distributions(scores, taus)
    np.testing.assert_allclose(metrics.performance_profile(scores, taus), theirs, atol=1e-12)


def test_intervals_are_seeded_near_the_published_ones_and_leave_numpy_alone():
    pytest.importorskip("rliable")
    scores = _hns("IRIS")
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    first = metrics.aggregate_intervals(scores, reps=2000, seed=0)
    assert np.array_equal(np.random.get_state()[1], before)  # the caller's random stream is untouched
    np.testing.assert_array_equal(first, metrics.aggregate_intervals(scores, reps=2000, seed=0))
    assert not np.array_equal(first, metrics.aggregate_intervals(scores, reps=2000, seed=1))
    # Published intervals, 50,000 reps: mean [0.965, 1.127], median [0.249, 0.415], IQM [0.441, 0.564],
    # OG [0.491, 0.533]; 2,000 reps land within a Monte-Carlo error of them.
    published = np.array([[0.965, 0.249, 0.441, 0.491], [1.127, 0.415, 0.564, 0.533]])
    np.testing.assert_allclose(first, published, atol=0.02)
    assert np.all(first[0] <= metrics.aggregates(scores)) and np.all(metrics.aggregates(scores) <= first[1])


def test_profile_band_and_improvement_interval_bracket_their_estimates():
    pytest.importorskip("rliable")
    iris, spr = _hns("IRIS"), _hns("SPR")
    band = metrics.profile_intervals(iris, reps=100, seed=0)
    profile = metrics.performance_profile(iris)
    assert band.shape == (2, 201) and np.all(band[0] <= profile + 1e-12) and np.all(profile <= band[1] + 1e-12)
    lower, upper = metrics.improvement_interval(iris, spr, reps=100, seed=0)
    assert lower < metrics.probability_of_improvement(iris, spr) < upper


def test_non_positive_reps_is_a_clear_error():
    with pytest.raises(IrisError, match="repetitions must be positive"):
        metrics.aggregate_intervals(np.ones((2, 3)), reps=0)
