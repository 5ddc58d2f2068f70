"""Atari game names: every spelling of a game id reduced to one key (no emulator needed)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

# The 26 games of the Atari 100k benchmark, spelled as their gym ids without the suffix.
ATARI_100K_GAMES = (
    "Alien", "Amidar", "Assault", "Asterix", "BankHeist", "BattleZone", "Boxing", "Breakout",
    "ChopperCommand", "CrazyClimber", "DemonAttack", "Freeway", "Frostbite", "Gopher", "Hero",
    "Jamesbond", "Kangaroo", "Krull", "KungFuMaster", "MsPacman", "Pong", "PrivateEye", "Qbert",
    "RoadRunner", "Seaquest", "UpNDown",
)  # fmt: skip


def game_key(name: str) -> str:
    """'MsPacmanNoFrameskip-v4', 'ALE/MsPacman-v5', 'ms_pacman' and 'MsPacman' -> 'mspacman'."""
    name = re.sub(r"-v\d+$", "", name.strip()).split("/")[-1]
    name = re.sub(r"(NoFrameskip|Deterministic)$", "", name)
    return re.sub(r"[^0-9a-z]", "", name.lower())


def match_game(name: str, known: Iterable[str], num_close: int = 5) -> tuple[str | None, list[str]]:
    """The spelling of ``name`` among ``known`` (or None), and the closest known names."""
    by_key = {game_key(game): game for game in known}
    if game_key(name) in by_key:
        return by_key[game_key(name)], []
    close = difflib.get_close_matches(game_key(name), list(by_key), n=num_close, cutoff=0.6)
    return None, [by_key[key] for key in close]
