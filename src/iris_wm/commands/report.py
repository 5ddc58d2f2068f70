"""``iris report``: scores as tables and figures, against each family's references.

Each input (a score file ``{env: [score per run]}``, a run folder, or a family's own stats such as
Crafter's ``stats.jsonl``) belongs to the first environment family that claims it; the family's report
gives its metrics, reference rows and figures (Atari 100k: human-normalised aggregates against the
published baselines). Inputs no family claims, and any inputs normalised with ``--reference``, get the
report of any env: the mean per env and method with its bootstrap interval. See docs/report.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "inputs", nargs="*", metavar="[NAME=]SCORES_OR_RUN",
        help="score file (.json), run folder, or a family's stats (Crafter's stats.jsonl); NAME= renames it and "
             "equal names are pooled",
    )  # fmt: skip
    parser.add_argument("--env", help="the environment kind whose report to make (default: the one that claims "
                                      "the inputs; without inputs, the default kind's references)")
    parser.add_argument(
        "--baselines", default=None,
        help="comma-separated bundled baselines of the family, 'all' or 'none' (default: the family's)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, help="folder for report.md, report.json and figures/*.png")
    parser.add_argument("--reps", type=int, default=50_000, help="bootstrap reps of the CIs; 0: none")
    parser.add_argument("--profile-reps", type=int, default=2_000, help="bootstrap reps of the profile bands")
    parser.add_argument("--poi-reps", type=int, default=1_000, help="bootstrap reps of P(improvement) CIs")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    parser.add_argument("--runs", type=int, help="use the first RUNS runs of every game (default: all)")
    parser.add_argument("--human", type=Path, help="human reference scores {game: [score]} (default: bundled)")
    parser.add_argument("--random", type=Path, help="random reference scores {game: [score]} (default: bundled)")
    parser.add_argument("--no-figures", action="store_true", help="with --out, skip the PNG figures")
    parser.add_argument("--reference", action="append", default=[], metavar="random=FILE|expert=FILE",
                        help="any env: reference scores {env: [score]}; with both, scores are normalised as "
                             "(score - random) / (expert - random); with --curves, NAME=FILE draws a line")
    parser.add_argument("--curves", action="store_true",
                        help="learning curves of run folders (or folders of runs): test return against env steps, "
                             "median and interquartile band over the runs of each method")
    parser.add_argument("--prediction", action="store_true",
                        help="world models side by side: the prediction error of `iris eval --world-model` files "
                             "(or the newest in each run folder's eval/) against the horizon")


def _split_name(argument: str) -> tuple[str | None, Path]:
    # NAME=PATH, unless the whole argument is an existing path that happens to contain '='.
    if "=" in argument and not Path(argument).exists():
        name, path = argument.split("=", 1)
        if name:
            return name, Path(path)
    return None, Path(argument)


def _options(args: argparse.Namespace):
    """The command's options; ``references`` are --reference's (the report of any env) when given, else
    --human's and --random's (a family's own normalisation, Atari's)."""
    from iris_wm.errors import IrisError
    from iris_wm.scores.report import ReportOptions

    references = {name: path for name, path in (("human", args.human), ("random", args.random)) if path}
    if args.reference:
        if references:
            raise IrisError("--reference normalises any env's scores, --human and --random Atari's; give one kind")
        for option in args.reference:
            name, _, path = option.partition("=")
            if not name or not path:
                raise IrisError(f"--reference {option!r}: give random=FILE and expert=FILE")
            if name in references:
                raise IrisError(f"the {name} reference is given twice; give it once")
            references[name] = Path(path)
    for path in references.values():
        if not path.is_file():
            raise IrisError(f"reference file {path} does not exist; check the path")
    return ReportOptions(args.baselines, args.reps, args.profile_reps, args.poi_reps, args.seed, args.runs,
                         references)


def _claiming_kind(path: Path, options):
    """The first family (in registry order) that claims the input; None: no family does."""
    from iris_wm.envs import ENV_KINDS

    for kind in ENV_KINDS.records().values():
        if kind.claims_scores is not None and kind.claims_scores(path, options):
            return kind
    return None


def _report_kind(args: argparse.Namespace, inputs: list, options):
    """The family whose report the inputs get, or None for the report of any env."""
    from iris_wm.envs import DEFAULT_ENV_KIND, get_env_kind
    from iris_wm.errors import IrisError

    if args.env is not None:
        return get_env_kind(args.env)
    if not inputs:
        return get_env_kind(DEFAULT_ENV_KIND)
    kinds = {path: _claiming_kind(path, options) for _, path in inputs}
    names = {kind.name if kind else "other envs" for kind in kinds.values()}
    if len(names) > 1 and any(kinds.values()):
        detail = ", ".join(f"{path} ({kind.name if kind else 'other env'})" for path, kind in kinds.items())
        raise IrisError(f"the inputs mix the scores of several env families ({detail}); report each separately")
    return next(iter(kinds.values()))


def _curves(inputs: list, options):
    """The learning-curve view, with each env's reference returns: its family's (the random policy, published
    agents) and the --reference files'."""
    from iris_wm.envs import get_env_kind
    from iris_wm.errors import IrisError
    from iris_wm.evaluation.curves import curves_report, method_curves, reference_returns

    if not inputs:
        raise IrisError("--curves needs run folders (or folders of runs) to draw")
    curves = method_curves(inputs, options)
    references: dict[str, dict[str, float]] = {}
    for env, family in dict.fromkeys((curve.env, curve.family) for curve in curves):
        try:
            kind = get_env_kind(family)
        except IrisError:  # a family not installed here: its runs still have curves, without its references
            kind = None
        references[env] = kind.reference_returns(env) if kind and kind.reference_returns else {}
    for name, path in options.references.items():
        for env, score in reference_returns(path).items():
            if env in references:
                references[env][name] = score
    return curves_report(curves, references)


def _prediction(inputs: list):
    from iris_wm.errors import IrisError
    from iris_wm.training.prediction import prediction_report, read_prediction

    if not inputs:
        raise IrisError("--prediction needs `iris eval --world-model` files or run folders to compare")
    return prediction_report({name or (path.stem if path.is_file() else path.name): read_prediction(path)
                              for name, path in inputs})


def run(args: argparse.Namespace) -> int:
    from iris_wm.atomic import check_writable
    from iris_wm.errors import IrisError
    from iris_wm.scores import returns
    from iris_wm.scores.report import write_report

    if args.out is not None:
        check_writable(args.out, "--out", folder=True)
    inputs = [_split_name(argument) for argument in args.inputs]
    for _, path in inputs:
        if not path.exists():
            raise IrisError(f"{path} does not exist; pass a score file, a run folder or a family's stats file")
    if args.curves and args.prediction:
        raise IrisError("--curves and --prediction are two views; give one")
    options = _options(args)
    if args.curves:
        report = _curves(inputs, options)
    elif args.prediction:
        report = _prediction(inputs)
    else:
        kind = None if args.reference else _report_kind(args, inputs, options)
        report = (kind.report if kind is not None and kind.report is not None else returns.report)(inputs, options)
    print(report.terminal)
    if args.out is not None:
        for path in write_report(report, args.out, figures=not args.no_figures):
            print(f"wrote {path}")
    return 0
