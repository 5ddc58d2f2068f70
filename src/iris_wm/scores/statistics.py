"""Statistics of scores over runs: the aggregate metrics of Agarwal et al. (2021) and rliable over a
(runs, games) matrix, and bootstrap intervals.

Scores are matrices of shape (runs, games), human-normalised. The point estimates are plain
numpy (exact, deterministic, no optional dependency); ``tests/evaluation`` checks them against
``rliable.metrics``. Confidence intervals use rliable's stratified bootstrap (runs resampled
with replacement within each game) and are imported only when asked for.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np

from iris_wm.errors import IrisError

AGGREGATES = ("mean", "median", "iqm", "optimality_gap")
AGGREGATE_TITLES = {"mean": "Mean", "median": "Median", "iqm": "IQM", "optimality_gap": "Optimality gap"}
PROFILE_TAUS = np.linspace(0.0, 8.0, 201)  # the thresholds of the IRIS paper's profile figure


def human_normalized(scores: np.ndarray, random: np.ndarray, human: np.ndarray) -> np.ndarray:
    """(score - random) / (human - random), broadcast over runs: 0 = random, 1 = human."""
    return (np.asarray(scores, dtype=np.float64) - random) / (np.asarray(human) - random)


def per_game_means(scores: np.ndarray) -> np.ndarray:
    """(runs, games) -> (games,): the mean over runs of each game."""
    return scores.mean(axis=0)


def aggregate_mean(scores: np.ndarray) -> float:
    """Mean over games of the per-game mean."""
    return float(per_game_means(scores).mean())


def aggregate_median(scores: np.ndarray) -> float:
    """Median over games of the per-game mean."""
    return float(np.median(per_game_means(scores)))


def _iqm_sorted(flat_sorted: np.ndarray) -> float:
    # 25 % trimmed mean: drop floor(n/4) scores at each end, as scipy.stats.trim_mean does.
    cut = int(0.25 * flat_sorted.size)
    return float(flat_sorted[cut : flat_sorted.size - cut].mean())


def aggregate_iqm(scores: np.ndarray) -> float:
    """Interquartile mean over all runs x games scores pooled (not over per-game means)."""
    return _iqm_sorted(np.sort(scores, axis=None))


def aggregate_optimality_gap(scores: np.ndarray, gamma: float = 1.0) -> float:
    """How far below gamma the pooled scores are, each clipped at gamma: gamma - mean(min(s, gamma))."""
    return float(gamma - np.minimum(scores, gamma).mean())


def aggregates(scores: np.ndarray) -> np.ndarray:
    """(mean, median, IQM, optimality gap) at once: the function the bootstrap resamples."""
    game_means = scores.mean(axis=0)
    return np.array(
        [
            game_means.mean(),
            np.median(game_means),
            _iqm_sorted(np.sort(scores, axis=None)),
            1.0 - np.minimum(scores, 1.0).mean(),
        ]
    )


def superhuman_games(scores: np.ndarray) -> int:
    """Number of games whose mean human-normalised score is at least 1."""
    return int((per_game_means(scores) >= 1.0).sum())


def probability_of_improvement(scores_x: np.ndarray, scores_y: np.ndarray) -> float:
    """P(X > Y): per game, the chance a run of X beats a run of Y (ties count 1/2), averaged over games.

    This is the Mann-Whitney U statistic divided by n_x * n_y, as rliable computes it.
    """
    x, y = scores_x[:, None, :], scores_y[None, :, :]  # (n_x, 1, games), (1, n_y, games)
    per_game = (x > y).mean(axis=(0, 1)) + 0.5 * (x == y).mean(axis=(0, 1))
    return float(per_game.mean())


def performance_profile(scores: np.ndarray, taus: np.ndarray = PROFILE_TAUS) -> np.ndarray:
    """Fraction of all runs x games scores above each threshold tau (the score distribution)."""
    flat = np.sort(scores, axis=None)
    return 1.0 - np.searchsorted(flat, taus, side="right") / flat.size


def _rliable_library():
    try:
        from rliable import library
    except ImportError as error:
        raise IrisError(
            f"confidence intervals need rliable ({error}); install them with "
            "pip install 'iris-wm[report]', or pass --reps 0 to skip the intervals"
        ) from None
    return library


@contextlib.contextmanager
def _seeded_numpy(seed: int) -> Iterator[None]:
    # rliable 1.2.0 draws its bootstrap indices from numpy's global RNG (np.random.choice) and
    # ignores its random_state argument, so seeding means seeding the global RNG. Restore it
    # afterwards so that a report never changes the caller's random stream.
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _check_reps(reps: int) -> None:
    if reps < 1:
        raise IrisError(f"bootstrap repetitions must be positive, got {reps}; use e.g. --reps 50000")


def _interval(data: np.ndarray | list[np.ndarray], func: Callable, reps: int, seed: int) -> np.ndarray:
    _check_reps(reps)
    library = _rliable_library()
    with _seeded_numpy(seed):
        _, intervals = library.get_interval_estimates({"x": data}, func, reps=reps, method="percentile")
    return np.asarray(intervals["x"], dtype=np.float64)  # (2, ...): lower row, upper row


def aggregate_intervals(scores: np.ndarray, reps: int = 50_000, seed: int = 0) -> np.ndarray:
    """95 % stratified-bootstrap percentile intervals of ``aggregates``: shape (2, 4)."""
    return _interval(scores, aggregates, reps, seed)


def profile_intervals(
    scores: np.ndarray, taus: np.ndarray = PROFILE_TAUS, reps: int = 2_000, seed: int = 0
) -> np.ndarray:
    """95 % bootstrap band of the performance profile: shape (2, len(taus))."""
    return _interval(scores, lambda s: performance_profile(s, taus), reps, seed)


def mean_interval(runs: np.ndarray, reps: int = 50_000, seed: int = 0) -> np.ndarray:
    """95 % bootstrap percentile interval of the mean of one env's runs (runs,): shape (2,)."""
    return _interval(runs[:, None], lambda s: np.array([s.mean()]), reps, seed)[:, 0]


def median_interval(runs: np.ndarray, reps: int = 50_000, seed: int = 0) -> np.ndarray:
    """95 % bootstrap percentile interval of the median of one env's runs (runs,): shape (2,)."""
    return _interval(runs[:, None], lambda s: np.array([np.median(s)]), reps, seed)[:, 0]


def improvement_interval(scores_x: np.ndarray, scores_y: np.ndarray, reps: int = 1_000, seed: int = 0) -> np.ndarray:
    """95 % interval of P(X > Y), resampling the runs of X and Y independently: shape (2,)."""
    interval = _interval([scores_x, scores_y], lambda x, y: np.array([probability_of_improvement(x, y)]), reps, seed)
    return interval[:, 0]
