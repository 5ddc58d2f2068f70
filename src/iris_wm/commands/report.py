"""``iris report``: aggregate scores against the published baselines, as tables and figures.

Atari 100k inputs are score files (``{game: [score per run]}`` or CURL-style records) and run
folders (every ``eval/*.json`` below them). Crafter inputs are ``stats.jsonl`` files or folders
holding them, Crafter run folders, and score files of Crafter runs. Scores of any other env (or any
inputs with ``--reference``) give the mean per env and method with its bootstrap interval,
normalised by the reference scores when given. See docs/report.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DEFAULT_BASELINES = "IRIS,DELTA_IRIS,DIAMOND,STORM"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "inputs", nargs="*", metavar="[NAME=]SCORES_OR_RUN",
        help="score file (.json), run folder, or Crafter stats.jsonl; NAME= renames it and equal names are pooled",
    )  # fmt: skip
    parser.add_argument(
        "--baselines", default=None,
        help=f"comma-separated bundled baselines, 'all' or 'none' (default for Atari: {DEFAULT_BASELINES})",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, help="folder for report.md, report.json and figures/*.png")
    parser.add_argument("--reps", type=int, default=50_000, help="bootstrap reps of the aggregate CIs; 0: none")
    parser.add_argument("--profile-reps", type=int, default=2_000, help="bootstrap reps of the profile bands")
    parser.add_argument("--poi-reps", type=int, default=1_000, help="bootstrap reps of P(improvement) CIs")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    parser.add_argument("--runs", type=int, help="use the first RUNS runs of every game (default: all)")
    parser.add_argument("--human", type=Path, help="human reference scores {game: [score]} (default: bundled)")
    parser.add_argument("--random", type=Path, help="random reference scores {game: [score]} (default: bundled)")
    parser.add_argument("--no-figures", action="store_true", help="with --out, skip the PNG figures")
    parser.add_argument("--reference", action="append", default=[], metavar="random=FILE|expert=FILE",
                        help="any env: reference scores {env: [score]}; with both, scores are normalised as "
                             "(score - random) / (expert - random)")


def _split_name(argument: str) -> tuple[str | None, Path]:
    # NAME=PATH, unless the whole argument is an existing path that happens to contain '='.
    if "=" in argument and not Path(argument).exists():
        name, path = argument.split("=", 1)
        if name:
            return name, Path(path)
    return None, Path(argument)


def _missing_path_error(path: Path):
    from iris_wm.errors import IrisError

    return IrisError(f"{path} does not exist; pass a score file, a run folder or a Crafter stats.jsonl")


def _pool(methods: list) -> list:
    """Pool the runs of inputs that share a name (e.g. several run folders named alike)."""
    from iris_wm.errors import IrisError

    pooled: dict = {}
    for method in methods:
        if method.name not in pooled:
            pooled[method.name] = method
            continue
        first = pooled[method.name]
        if first.kind != method.kind:
            raise IrisError(f"{method.name}: cannot pool raw scores with normalised ones; give them distinct names")
        for game, runs in method.games.items():
            first.games.setdefault(game, []).extend(runs)
        first.source += f", {method.source}"
    return list(pooled.values())


def _baseline_names(option: str | None, have_inputs: bool) -> list[str]:
    from iris_wm.evaluation.scores import BASELINES, baseline_key

    if option is None:
        option = DEFAULT_BASELINES if have_inputs else "all"
    if option.strip().lower() == "none":
        return []
    if option.strip().lower() == "all":
        return list(BASELINES)
    return [baseline_key(name) for name in option.split(",") if name.strip()]


def _write(out: Path, name: str, text: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    path.write_text(text, encoding="utf-8")
    return path


def _run_atari(args: argparse.Namespace, inputs: list[tuple[str | None, Path]]) -> list[Path]:
    from iris_wm.evaluation import report, scores

    references = scores.load_references(args.random, args.human)
    methods = _pool([scores.read_scores(path, references.games, name) for name, path in inputs])
    taken = {method.name for method in methods}
    for key in _baseline_names(args.baselines, bool(inputs)):
        baseline = scores.load_baseline(key)
        if baseline.name not in taken:  # a baseline the user passed as a file stays theirs
            methods.append(baseline)
    settings = report.ReportSettings(args.reps, args.profile_reps, args.poi_reps, args.seed, args.runs)
    result = report.build_report(methods, references, settings)
    print(report.to_terminal(result))
    if args.out is None:
        return []
    written = [
        _write(args.out, "report.md", report.to_markdown(result)),
        _write(args.out, "report.json", json.dumps(report.to_json(result), indent=1, ensure_ascii=False) + "\n"),
    ]
    if not args.no_figures:
        from iris_wm.evaluation import figures

        written += figures.report_figures(result, args.out / "figures")
    return written


def _run_crafter(args: argparse.Namespace, inputs: list[tuple[str | None, Path]]) -> list[Path]:
    from iris_wm.envs.crafter import report as crafter
    from iris_wm.errors import IrisError

    if args.baselines not in (None, "all", "none"):
        raise IrisError("Crafter's references are the human players' runs and the published scoreboard: "
                        "--baselines all (the default) or none")
    results = [crafter.read_crafter(path, name) for name, path in inputs]
    if args.baselines != "none":
        results += crafter.references()
    print(crafter.crafter_terminal(results))
    if args.out is None:
        return []
    written = [
        _write(args.out, "report.md", crafter.crafter_markdown(results)),
        _write(args.out, "report.json", json.dumps(crafter.crafter_json(results), indent=1) + "\n"),
    ]
    if not args.no_figures and any(result.success_rates is not None for result in results):
        from iris_wm.evaluation import figures

        written.append(figures.crafter_figure(results, args.out / "figures" / "crafter_success_rates.png"))
    return written


def _run_returns(args: argparse.Namespace, inputs: list[tuple[str | None, Path]]) -> list[Path]:
    from iris_wm.evaluation import returns

    references = returns.parse_references(args.reference)
    rows = returns.build_rows(_pool(returns.read_methods(inputs)), references, args.reps, args.seed)
    print(returns.to_terminal(rows))
    if args.out is None:
        return []
    written = [_write(args.out, "report.md", returns.to_markdown(rows)),
               _write(args.out, "report.json", json.dumps(returns.to_json(rows), indent=1) + "\n")]
    if not args.no_figures:
        from iris_wm.evaluation import figures

        written.append(figures.returns_figure(rows, args.out / "figures" / "scores.png"))
    return written


def _atari_scores(args: argparse.Namespace, path: Path) -> bool:
    """Whether a score file or run folder names Atari games: games with reference scores (bundled:
    Atari 100k), or names close to one (a misspelt game is reported as such, not as another env)."""
    from iris_wm.evaluation.scores import load_references, read_scores
    from iris_wm.games import match_game

    games = load_references(args.random, args.human).games
    return any(match_game(game, games) != (None, []) for game in read_scores(path, None).games)


def run(args: argparse.Namespace) -> int:
    from iris_wm.atomic import check_writable
    from iris_wm.envs.crafter.report import is_crafter_input
    from iris_wm.errors import IrisError

    if args.out is not None:
        check_writable(args.out, "--out", folder=True)
    inputs = [_split_name(argument) for argument in args.inputs]
    for _, path in inputs:
        if not path.exists():
            raise _missing_path_error(path)
    is_crafter = [is_crafter_input(path) for _, path in inputs]
    if any(is_crafter) and not all(is_crafter):
        raise IrisError("inputs mix Crafter stats and Atari scores; report each benchmark separately")
    if inputs and all(is_crafter):
        written = _run_crafter(args, inputs)
    elif inputs and (args.reference or not any(_atari_scores(args, path) for _, path in inputs)):
        written = _run_returns(args, inputs)
    else:
        written = _run_atari(args, inputs)
    for path in written:
        print(f"wrote {path}")
    return 0
