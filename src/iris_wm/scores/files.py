"""Score files of any environment: reading, writing, and the spelling of game names.

Two published formats are read (see ``docs/report.md``):

* runs format: a JSON object ``{game: [score of run 1, score of run 2, ...]}`` (raw scores).
  Top-level keys whose value is not a list are metadata and skipped, so the JSON that
  ``iris eval`` writes (same format, a few extra keys) reads the same way.
* records format (CURL): a JSON list of ``{"game", "seed", "HNS"}`` records, already
  human-normalised; records with ``"score"`` instead of ``"HNS"`` hold raw scores.

A folder stands for a run folder (or a folder of run folders): every ``eval/*.json`` below it
is read in runs format and the runs of each game are pooled.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from iris_wm.errors import IrisError
from iris_wm.games import match_game
from iris_wm.run_folder import evaluations_below

RAW, HNS = "raw", "hns"  # what the numbers of a MethodScores are


@dataclass
class MethodScores:
    """Per-run scores of one method: game -> list over runs, all raw or all human-normalised."""

    name: str
    games: dict[str, list[float]]
    kind: str = RAW
    source: str = ""  # where it was read from, for messages


def canonical_game(name: object, known: list[str] | None, where: str) -> str:
    """The spelling of ``name`` used in ``known`` (e.g. 'ms_pacman' -> 'MsPacman'); ``known`` None
    takes any name as it is spelled (the ids of any environment)."""
    if not isinstance(name, str):
        raise IrisError(f"{where}: game name {name!r} is not a string; use names like 'Breakout'")
    if known is None:
        return name
    game, close = match_game(name, known, num_close=1)
    if game is not None:
        return game
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise IrisError(
        f"{where}: unknown game '{name}'; {hint}known games: {', '.join(known)} "
        "(for other games pass reference files that include them: --human/--random)"
    )


def load_json(path: Path) -> object:
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except FileNotFoundError:
        raise IrisError(f"score file {path} does not exist; check the path") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise IrisError(f"{path} is not valid JSON ({error}); pass a score file in runs or records format") from None


def number(value: object, where: str) -> float:
    # bool is an int subclass: true/false in a score list is a format error, not 1/0.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise IrisError(f"{where}: {value!r} is not a finite number; scores must be numbers")
    return float(value)


def parse_runs(data: dict, where: str, known: list[str] | None) -> dict[str, list[float]]:
    games: dict[str, list[float]] = {}
    for key, value in data.items():
        if not isinstance(value, list):
            continue  # metadata of an `iris eval` file (checkpoint, epoch, ...)
        game = canonical_game(key, known, where)
        if game in games:
            raise IrisError(f"{where}: game '{game}' appears twice (as '{key}'); keep one entry per game")
        if not value:
            raise IrisError(f"{where}: game '{game}' has no runs; give at least one score per game")
        games[game] = [number(score, f"{where}, {game}") for score in value]
    if not games:
        raise IrisError(f"{where}: no games found; expected {{game: [score per run, ...]}} or a list of records")
    return games


def _parse_records(data: list, where: str, known: list[str] | None) -> tuple[dict[str, list[float]], str]:
    games: dict[str, list[tuple[float, float]]] = {}
    kinds = set()
    for index, record in enumerate(data):
        if not isinstance(record, dict) or "game" not in record or not ({"HNS", "score"} & set(record)):
            raise IrisError(
                f"{where}: record {index} is {str(record)[:60]}; "
                'records need {"game", "seed", "HNS"} (normalised) or {"game", "seed", "score"} (raw)'
            )
        kinds.add(HNS if "HNS" in record else RAW)
        game = canonical_game(record["game"], known, where)
        value = number(record["HNS"] if "HNS" in record else record["score"], f"{where}, record {index}")
        games.setdefault(game, []).append((number(record.get("seed", index), where), value))
    if len(kinds) > 1:
        raise IrisError(f"{where}: mixes normalised ('HNS') and raw ('score') records; use one kind per file")
    if not games:
        raise IrisError(f"{where}: the list of records is empty; give one record per game and seed")
    # Runs in seed order, so run i of every game is the same seed, as in the runs format.
    return {game: [value for _, value in sorted(runs)] for game, runs in games.items()}, kinds.pop()


def read_score_file(path: str | Path, known: list[str] | None, name: str | None = None) -> MethodScores:
    """One score file in runs or records format; ``known`` are the valid game names (None: any)."""
    path = Path(path)
    data = load_json(path)
    name = name or path.stem
    if isinstance(data, dict):
        return MethodScores(name, parse_runs(data, str(path), known), RAW, str(path))
    if isinstance(data, list):
        games, kind = _parse_records(data, str(path), known)
        return MethodScores(name, games, kind, str(path))
    raise IrisError(f"{path}: top level is {type(data).__name__}; expected an object {{game: [scores]}} or a list")


def read_run_folder(path: str | Path, known: list[str] | None, name: str | None = None) -> MethodScores:
    """Pool the runs of every ``eval/*.json`` under a run folder (or a folder of run folders)."""
    path = Path(path)
    files = evaluations_below(path)
    if not files:
        raise IrisError(f"{path}: no eval/*.json files found; run `iris eval` on the run first or pass a score file")
    pooled: dict[str, list[float]] = {}
    for file in files:
        for game, runs in read_score_file(file, known).games.items():
            pooled.setdefault(game, []).extend(runs)
    return MethodScores(name or path.resolve().name, pooled, RAW, str(path))


def read_scores(path: str | Path, known: list[str] | None, name: str | None = None) -> MethodScores:
    """A score file or a run folder."""
    path = Path(path)
    if path.is_dir():
        return read_run_folder(path, known, name)
    return read_score_file(path, known, name)


def write_score_file(path: str | Path, method: MethodScores) -> None:
    """Write in the published format of the method's kind: runs format (raw) or records (HNS)."""
    if method.kind == RAW:
        data: object = {game: runs for game, runs in method.games.items()}
    else:
        data = [
            {"game": game, "seed": float(seed), "HNS": value}
            for game, runs in method.games.items()
            for seed, value in enumerate(runs, start=1)
        ]
    Path(path).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")




def pool(methods: list[MethodScores]) -> list[MethodScores]:
    """Pool the runs of methods that share a name (e.g. several run folders named alike)."""
    pooled: dict[str, MethodScores] = {}
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
