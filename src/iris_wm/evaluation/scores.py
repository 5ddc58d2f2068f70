"""Score files: reading, writing, game names, and the bundled published baselines.

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
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from iris_wm.errors import IrisError
from iris_wm.games import ATARI_100K_GAMES, game_key, match_game

RAW, HNS = "raw", "hns"  # what the numbers of a MethodScores are


@dataclass(frozen=True)
class Baseline:
    file: str  # in iris_wm/evaluation/data/
    display: str  # name in tables and figures
    source: str  # the paper, for the docs and the JSON report
    lookahead: bool = False  # uses search at decision time: the IRIS paper sets it apart


BASELINES = {
    "IRIS": Baseline("IRIS.json", "IRIS", "Micheli et al., ICLR 2023"),
    "DELTA_IRIS": Baseline("DELTA_IRIS.json", "Δ-IRIS", "Micheli et al., ICML 2024"),
    "DIAMOND": Baseline("DIAMOND.json", "DIAMOND", "Alonso et al., NeurIPS 2024"),
    "STORM": Baseline("STORM.json", "STORM", "Zhang et al., NeurIPS 2023"),
    "SPR": Baseline("SPR.json", "SPR", "Schwarzer et al., ICLR 2021"),
    "DrQ_eps": Baseline("DrQ_eps.json", "DrQ(ε)", "Kostrikov et al., ICLR 2021; Agarwal et al. 2021"),
    "CURL": Baseline("CURL.json", "CURL", "Laskin et al., ICML 2020"),
    "SimPLe": Baseline("SimPLe.json", "SimPLe", "Kaiser et al., ICLR 2020"),
    "EfficientZero": Baseline("EfficientZero.json", "EfficientZero", "Ye et al., NeurIPS 2021", True),
    "MuZero": Baseline("MuZero.json", "MuZero", "Schrittwieser et al., Nature 2020", True),
}


@dataclass
class MethodScores:
    """Per-run scores of one method: game -> list over runs, all raw or all human-normalised."""

    name: str
    games: dict[str, list[float]]
    kind: str = RAW
    source: str = ""  # where it was read from, for messages


@dataclass(frozen=True)
class References:
    """Random and human scores per game: the two ends of human normalisation."""

    random: dict[str, float]
    human: dict[str, float]

    @property
    def games(self) -> list[str]:
        return list(self.human)


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
        "(for other games pass --human/--random reference files that include them)"
    )


def _load_json(path: Path) -> object:
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except FileNotFoundError:
        raise IrisError(f"score file {path} does not exist; check the path") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise IrisError(f"{path} is not valid JSON ({error}); pass a score file in runs or records format") from None


def _number(value: object, where: str) -> float:
    # bool is an int subclass: true/false in a score list is a format error, not 1/0.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise IrisError(f"{where}: {value!r} is not a finite number; scores must be numbers")
    return float(value)


def _parse_runs(data: dict, where: str, known: list[str] | None) -> dict[str, list[float]]:
    games: dict[str, list[float]] = {}
    for key, value in data.items():
        if not isinstance(value, list):
            continue  # metadata of an `iris eval` file (checkpoint, epoch, ...)
        game = canonical_game(key, known, where)
        if game in games:
            raise IrisError(f"{where}: game '{game}' appears twice (as '{key}'); keep one entry per game")
        if not value:
            raise IrisError(f"{where}: game '{game}' has no runs; give at least one score per game")
        games[game] = [_number(score, f"{where}, {game}") for score in value]
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
        value = _number(record["HNS"] if "HNS" in record else record["score"], f"{where}, record {index}")
        games.setdefault(game, []).append((_number(record.get("seed", index), where), value))
    if len(kinds) > 1:
        raise IrisError(f"{where}: mixes normalised ('HNS') and raw ('score') records; use one kind per file")
    if not games:
        raise IrisError(f"{where}: the list of records is empty; give one record per game and seed")
    # Runs in seed order, so run i of every game is the same seed, as in the runs format.
    return {game: [value for _, value in sorted(runs)] for game, runs in games.items()}, kinds.pop()


def read_score_file(path: str | Path, known: list[str] | None, name: str | None = None) -> MethodScores:
    """One score file in runs or records format; ``known`` are the valid game names (None: any)."""
    path = Path(path)
    data = _load_json(path)
    name = name or path.stem
    if isinstance(data, dict):
        return MethodScores(name, _parse_runs(data, str(path), known), RAW, str(path))
    if isinstance(data, list):
        games, kind = _parse_records(data, str(path), known)
        return MethodScores(name, games, kind, str(path))
    raise IrisError(f"{path}: top level is {type(data).__name__}; expected an object {{game: [scores]}} or a list")


def read_run_folder(path: str | Path, known: list[str] | None, name: str | None = None) -> MethodScores:
    """Pool the runs of every ``eval/*.json`` under a run folder (or a folder of run folders)."""
    path = Path(path)
    files = sorted(path.rglob("eval/*.json"))
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


def _data_file(file: str) -> Path:
    return Path(str(resources.files("iris_wm.evaluation") / "data" / file))


def _single_values(path: Path, games: list[str] | None) -> dict[str, float]:
    """A reference file: game -> its one score. ``games=None`` accepts any game name."""
    data = _load_json(path)
    if not isinstance(data, dict):
        raise IrisError(f"{path}: a reference file must be an object {{game: [score]}}")
    if games is None:
        # Spell Atari 100k games our way, keep other games (Atari 57...) as the file spells them.
        atari = {game_key(game): game for game in ATARI_100K_GAMES}
        games = [atari.get(game_key(key), key) for key in data if isinstance(key, str)]
    return {game: runs[0] for game, runs in _parse_runs(data, str(path), games).items()}


def load_references(random_path: str | Path | None = None, human_path: str | Path | None = None) -> References:
    """Random and human scores: the bundled Atari 100k ones, or the user's files."""
    human_file = Path(human_path) if human_path else _data_file("HUMAN.json")
    random_file = Path(random_path) if random_path else _data_file("RANDOM.json")
    human, random = _single_values(human_file, None), _single_values(random_file, None)
    for have, lack, lack_file, kind in ((human, random, random_file, "random"), (random, human, human_file, "human")):
        missing = [game for game in have if game not in lack]
        if missing:
            raise IrisError(
                f"{lack_file}: missing {kind} reference score for {', '.join(missing)}; add them to the file"
            )
    for game in human:
        if human[game] == random[game]:
            raise IrisError(f"'{game}': human and random reference scores are equal; fix the reference files")
    return References(random={game: random[game] for game in human}, human=human)


def baseline_key(name: str) -> str:
    """The BASELINES key for a user's spelling ('delta-iris', 'DrQ(eps)', 'Δ-IRIS')."""
    spelled = {re.sub(r"[^0-9a-z]", "", key.lower()): key for key in BASELINES}
    for key, baseline in BASELINES.items():
        spelled[re.sub(r"[^0-9a-z]", "", baseline.display.lower().replace("δ", "delta").replace("ε", "eps"))] = key
    wanted = re.sub(r"[^0-9a-z]", "", name.lower().replace("δ", "delta").replace("ε", "eps"))
    if wanted not in spelled:
        raise IrisError(f"unknown baseline '{name}'; bundled baselines: {', '.join(BASELINES)} (or 'all', 'none')")
    return spelled[wanted]


def load_baseline(name: str) -> MethodScores:
    """A bundled published baseline, named by its display name."""
    key = baseline_key(name)
    baseline = BASELINES[key]
    method = read_score_file(_data_file(baseline.file), list(ATARI_100K_GAMES))
    return MethodScores(baseline.display, method.games, method.kind, f"bundled {key} ({baseline.source})")
