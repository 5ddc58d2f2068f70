"""The Atari 100k report: per-method aggregates of human-normalised scores with intervals (Agarwal et al.,
NeurIPS 2021), against the bundled published baselines; terminal, Markdown and JSON text and the figures.

The first method is the subject: the probability of improvement compares it with every other
method, and the figures draw it first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from iris_wm.envs.atari.scores import BASELINES, References, baseline_key, load_baseline, load_references
from iris_wm.errors import IrisError
from iris_wm.games import match_game
from iris_wm.scores import statistics as metrics
from iris_wm.scores.files import HNS, MethodScores, pool, read_scores
from iris_wm.scores.report import Input, ReportOptions

DEFAULT_BASELINES = "IRIS,DELTA_IRIS,DIAMOND,STORM"  # beside the user's methods; alone, all of them


@dataclass
class MethodResult:
    name: str
    source: str
    games: list[str]  # games with scores, in the order of the reference games
    missing: list[str]  # reference games without scores: aggregates cover `games` only
    hns: np.ndarray  # (runs, games) human-normalised scores
    raw_means: np.ndarray  # (games,) mean raw score per game
    aggregates: dict[str, float]
    intervals: dict[str, tuple[float, float]] | None  # 95 % CIs, None when reps = 0
    superhuman: int
    profile_band: np.ndarray | None = None  # (2, taus) 95 % band of the performance profile

    @property
    def runs(self) -> int:
        return self.hns.shape[0]

    def game_means(self) -> dict[str, float]:
        return dict(zip(self.games, metrics.per_game_means(self.hns).tolist(), strict=True))


@dataclass
class Improvement:
    subject: str
    other: str
    games: int  # games both methods have
    probability: float
    interval: tuple[float, float] | None


@dataclass
class AtariReport:
    methods: list[MethodResult]
    references: References
    settings: ReportOptions
    improvements: list[Improvement] = field(default_factory=list)


def _run_matrix(method: MethodScores, games: list[str], runs: int | None) -> np.ndarray:
    """(runs, games): the bootstrap and the pooled metrics need the same run count in every game."""
    counts = {game: len(method.games[game]) for game in games}
    if runs is not None:
        short = [f"{game} ({count})" for game, count in counts.items() if count < runs]
        if short:
            raise IrisError(f"{method.name} has fewer than {runs} runs in {', '.join(short)}; lower --runs")
    elif len(set(counts.values())) > 1:
        detail = ", ".join(f"{game} {count}" for game, count in counts.items())
        raise IrisError(
            f"{method.name} has different numbers of runs per game ({detail}); "
            f"pass --runs {min(counts.values())} to use the first runs of every game"
        )
    take = runs or next(iter(counts.values()))
    return np.array([method.games[game][:take] for game in games], dtype=np.float64).T


def evaluate_method(method: MethodScores, references: References, settings: ReportOptions) -> MethodResult:
    """Normalise one method's scores and compute its aggregates (and intervals if asked)."""
    games = [game for game in references.games if game in method.games]
    missing = [game for game in references.games if game not in method.games]
    if not games:
        raise IrisError(f"{method.name}: none of its games has reference scores; check the score file")
    values = _run_matrix(method, games, settings.runs)
    random = np.array([references.random[game] for game in games])
    human = np.array([references.human[game] for game in games])
    if method.kind == HNS:
        # Already normalised (CURL): the raw means are computed back, as the IRIS paper's table does.
        hns, raw_means = values, metrics.per_game_means(values) * (human - random) + random
    else:
        hns, raw_means = metrics.human_normalized(values, random, human), metrics.per_game_means(values)
    point = metrics.aggregates(hns)
    intervals = None
    if settings.reps:
        band = metrics.aggregate_intervals(hns, settings.reps, settings.seed)
        intervals = {name: (float(band[0, i]), float(band[1, i])) for i, name in enumerate(metrics.AGGREGATES)}
    profile_band = None
    if settings.profile_reps:
        profile_band = metrics.profile_intervals(hns, metrics.PROFILE_TAUS, settings.profile_reps, settings.seed)
    return MethodResult(
        name=method.name,
        source=method.source,
        games=games,
        missing=missing,
        hns=hns,
        raw_means=raw_means,
        aggregates={name: float(point[i]) for i, name in enumerate(metrics.AGGREGATES)},
        intervals=intervals,
        superhuman=metrics.superhuman_games(hns),
        profile_band=profile_band,
    )


def _improvement(subject: MethodResult, other: MethodResult, settings: ReportOptions) -> Improvement | None:
    common = [game for game in subject.games if game in other.games]
    if not common:
        return None
    x = subject.hns[:, [subject.games.index(game) for game in common]]
    y = other.hns[:, [other.games.index(game) for game in common]]
    interval = None
    if settings.poi_reps:
        lower, upper = metrics.improvement_interval(x, y, settings.poi_reps, settings.seed)
        interval = (float(lower), float(upper))
    return Improvement(subject.name, other.name, len(common), metrics.probability_of_improvement(x, y), interval)


def build_report(methods: list[MethodScores], references: References, settings: ReportOptions) -> AtariReport:
    """Evaluate every method; the first one is compared with each of the others."""
    if not methods:
        raise IrisError("nothing to report; pass score files or run folders, or --baselines")
    names = [method.name for method in methods]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise IrisError(f"two methods are named {duplicates[0]!r}; name one with NAME=PATH")
    results = [evaluate_method(method, references, settings) for method in methods]
    report = AtariReport(results, references, settings)
    for other in results[1:]:
        improvement = _improvement(results[0], other, settings)
        if improvement is not None:
            report.improvements.append(improvement)
    return report


# ----------------------------------------------------------------------------------- rendering


def _value(result: MethodResult, name: str, with_interval: bool = True) -> str:
    text = f"{result.aggregates[name]:.3f}"
    if result.runs == 1:
        # A bootstrap over one run is degenerate, and run-pooled statistics of one run are shown
        # in parentheses, as in the IRIS paper's table.
        return f"({text})" if name in ("iqm", "optimality_gap") else text
    if with_interval and result.intervals is not None:
        lower, upper = result.intervals[name]
        text += f" [{lower:.3f}, {upper:.3f}]"
    return text


def _interval_note(settings: ReportOptions) -> str:
    if not settings.reps:
        return "no confidence intervals (--reps 0)"
    return f"95% CIs: stratified bootstrap, {settings.reps} reps, seed {settings.seed}"


def _aggregate_rows(report: AtariReport) -> list[list[str]]:
    games = len(report.references.games)
    rows = []
    for r in report.methods:
        cells = [r.name, str(r.runs), f"{len(r.games)}/{games}", str(r.superhuman)]
        rows.append(cells + [_value(r, name) for name in metrics.AGGREGATES])
    return rows


HEADER = ["Method", "runs", "games", "#superhuman", "Mean", "Median", "IQM", "Optimality gap"]


def _missing_lines(report: AtariReport) -> list[str]:
    return [
        f"{r.name} is missing {len(r.missing)} games (aggregates cover the others): {', '.join(r.missing)}"
        for r in report.methods
        if r.missing
    ]


def _improvement_text(improvement: Improvement) -> str:
    text = f"P({improvement.subject} > {improvement.other}) = {improvement.probability:.3f}"
    if improvement.interval is not None:
        text += f" [{improvement.interval[0]:.3f}, {improvement.interval[1]:.3f}]"
    return text + f" over {improvement.games} games"


def to_terminal(report: AtariReport) -> str:
    """A fixed-width table of the aggregates, the missing games and the improvement probabilities."""
    rows = [HEADER, *_aggregate_rows(report)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = [f"Atari 100k, human-normalised scores ({_interval_note(report.settings)})"]
    for row in rows:
        cells = [
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells))
    lines += [f"warning: {line}" for line in _missing_lines(report)]
    lines += [_improvement_text(improvement) for improvement in report.improvements]
    return "\n".join(lines)


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    align = ["---"] + ["---:"] * (len(header) - 1)
    return ["| " + " | ".join(row) + " |" for row in [header, align, *rows]]


def _per_game_rows(report: AtariReport) -> list[list[str]]:
    rows = []
    for game in report.references.games:
        means = {r.name: r.raw_means[r.games.index(game)] for r in report.methods if game in r.games}
        best = max(means.values()) if means else None
        cells = [game, f"{report.references.random[game]:.1f}", f"{report.references.human[game]:.1f}"]
        for r in report.methods:
            if r.name not in means:
                cells.append("missing")
                continue
            text = f"{means[r.name]:.1f}"
            cells.append(f"**{text}**" if len(means) > 1 and means[r.name] == best else text)
        rows.append(cells)
    rows.append(["#superhuman", "0", "–", *(str(r.superhuman) for r in report.methods)])
    return rows


def to_markdown(report: AtariReport) -> str:
    """Aggregates, missing games, improvement probabilities and the per-game table of raw means."""
    lines = [
        "# Atari 100k report",
        "",
        f"Human-normalised scores (HNS); mean and median of per-game means, IQM and optimality gap "
        f"over all runs × games; {_interval_note(report.settings)} (Agarwal et al., NeurIPS 2021).",
        "",
        *_markdown_table(HEADER, _aggregate_rows(report)),
        "",
    ]
    missing = _missing_lines(report)
    if missing:
        lines += ["**Missing games**", "", *(f"- {line}" for line in missing), ""]
    if report.improvements:
        lines += ["## Probability of improvement", "", *(f"- {_improvement_text(i)}" for i in report.improvements), ""]
    names = [r.name for r in report.methods]
    lines += ["## Per-game mean raw scores", "", "Bold: best of the methods shown.", ""]
    lines += _markdown_table(["Game", "Random", "Human", *names], _per_game_rows(report))
    lines += ["", "Sources: " + "; ".join(f"{r.name}: {r.source}" for r in report.methods)]
    return "\n".join(lines) + "\n"


def _method_json(r: MethodResult) -> dict:
    per_game = {
        game: {"raw_mean": float(raw), "hns_mean": float(hns), "hns_runs": r.hns[:, i].tolist()}
        for i, (game, raw, hns) in enumerate(zip(r.games, r.raw_means, metrics.per_game_means(r.hns), strict=True))
    }
    return {
        "name": r.name,
        "source": r.source,
        "runs": r.runs,
        "games": len(r.games),
        "missing_games": r.missing,
        "superhuman_games": r.superhuman,
        "aggregates": r.aggregates,
        "intervals": None if r.intervals is None else {k: list(v) for k, v in r.intervals.items()},
        "per_game": per_game,
    }


def to_json(report: AtariReport) -> dict:
    """Everything of the report as plain JSON types."""
    settings = report.settings
    return {
        "benchmark": "atari100k",
        "settings": {
            "reps": settings.reps,
            "profile_reps": settings.profile_reps,
            "poi_reps": settings.poi_reps,
            "seed": settings.seed,
            "runs": settings.runs,
            "confidence": 0.95,
        },
        "methods": [_method_json(r) for r in report.methods],
        "probability_of_improvement": [
            {
                "x": i.subject,
                "y": i.other,
                "games": i.games,
                "probability": i.probability,
                "interval": None if i.interval is None else list(i.interval),
            }
            for i in report.improvements
        ],
    }


# ----------------------------------------------------------------------------------- iris report


def _references(options: ReportOptions) -> References:
    return load_references(options.references.get("random"), options.references.get("human"))


def claims(path: Path, options: ReportOptions) -> bool:
    """Whether a score file or run folder names Atari games: games with reference scores (bundled: Atari
    100k), or names close to one (a misspelt game is reported as such, not as another env's)."""
    games = _references(options).games
    try:
        named = read_scores(path, None).games
    except IrisError:  # not a score file (another family's stats, or broken: the report that takes it says)
        return False
    return any(match_game(game, games) != (None, []) for game in named)


def _baseline_names(option: str | None, have_inputs: bool) -> list[str]:
    if option is None:
        option = DEFAULT_BASELINES if have_inputs else "all"
    if option.strip().lower() == "none":
        return []
    if option.strip().lower() == "all":
        return list(BASELINES)
    return [baseline_key(name) for name in option.split(",") if name.strip()]


def report_of(inputs: list[Input], options: ReportOptions) -> AtariReport:
    """The user's methods (equal names pooled), then the asked baselines, each against the first."""
    references = _references(options)
    methods = pool([read_scores(path, references.games, name) for name, path in inputs])
    taken = {method.name for method in methods}
    for key in _baseline_names(options.baselines, bool(inputs)):
        baseline = load_baseline(key)
        if baseline.name not in taken:  # a baseline the user passed as a file stays theirs
            methods.append(baseline)
    return build_report(methods, references, options)
