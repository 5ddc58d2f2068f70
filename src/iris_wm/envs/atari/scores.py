"""Atari 100k's scores: the human and random reference scores of human normalisation, and the bundled
published baselines (per-run scores of each method, in data/)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from iris_wm.errors import IrisError
from iris_wm.games import ATARI_100K_GAMES, game_key
from iris_wm.scores.files import MethodScores, load_json, parse_runs, read_score_file


@dataclass(frozen=True)
class Baseline:
    file: str  # in data/ beside this module
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


@dataclass(frozen=True)
class References:
    """Random and human scores per game: the two ends of human normalisation."""

    random: dict[str, float]
    human: dict[str, float]

    @property
    def games(self) -> list[str]:
        return list(self.human)


def _data_file(file: str) -> Path:
    return Path(__file__).parent / "data" / file


def _single_values(path: Path, games: list[str] | None) -> dict[str, float]:
    """A reference file: game -> its one score. ``games=None`` accepts any game name."""
    data = load_json(path)
    if not isinstance(data, dict):
        raise IrisError(f"{path}: a reference file must be an object {{game: [score]}}")
    if games is None:
        # Spell Atari 100k games our way, keep other games (Atari 57...) as the file spells them.
        atari = {game_key(game): game for game in ATARI_100K_GAMES}
        games = [atari.get(game_key(key), key) for key in data if isinstance(key, str)]
    return {game: runs[0] for game, runs in parse_runs(data, str(path), games).items()}


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


CURVE_BASELINES = ("IRIS", "DELTA_IRIS")  # the published agents drawn beside learning curves


def reference_returns(game: str) -> dict[str, float]:
    """The random policy's score of ``game`` and the published IRIS and Δ-IRIS mean final scores (raw game
    scores, as test returns are); empty for a game outside Atari 100k."""
    references = load_references()
    if game not in references.random:
        return {}
    returns = {"random policy": references.random[game]}
    for key in CURVE_BASELINES:
        runs = load_baseline(key).games.get(game)
        if runs:
            returns[f"{BASELINES[key].display} (published)"] = sum(runs) / len(runs)
    return returns
