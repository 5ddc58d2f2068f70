"""What a benchmark sweep asks: agent kind, environment kind, games, seeds, the training overrides
(or a checkpoint to evaluate instead) and the test protocol. It is written once into the sweep
folder's ``benchmark.yaml``; running the same command again finds it there and continues the sweep,
and a command that asks something else is refused, so that one sweep never mixes two protocols."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import yaml

from iris_wm.atomic import atomic_write_text
from iris_wm.errors import IrisError

SPEC_FILE = "benchmark.yaml"
FORMAT = "iris-wm-benchmark"
RUNS = "runs"  # the sweep folder's run folders: runs/GAME/seed_S
RUN_KEY = "benchmark_run"  # the sweep key: a job's run name (GAME/seed_S), which sets its env.id and common.seed


@dataclass(frozen=True)
class BenchmarkSpec:
    agent: str  # agent kind
    env: str  # environment kind
    games: tuple[str, ...]  # canonical ids (the env kind's resolve_id)
    seeds: int  # runs per game, seeds 0 .. seeds - 1
    overrides: tuple[str, ...] = ()  # iris train key=value overrides of every run
    checkpoint: str | None = None  # evaluate this agent over the seeds instead of training
    eval_episodes: int = 100  # the paper's test protocol: 100 episodes over 25 environments
    eval_envs: int = 25

    def __post_init__(self) -> None:
        if self.seeds < 1:
            raise IrisError(f"--seeds must be at least 1, got {self.seeds} (the Atari 100k protocol: 5)")
        if self.eval_episodes < 1 or self.eval_envs < 1:
            raise IrisError("--eval-episodes and --eval-envs must be at least 1")

    def jobs(self) -> list[tuple[str, int]]:
        return [(game, seed) for game in self.games for seed in range(self.seeds)]

    def run_dir(self, sweep: Path, game: str, seed: int) -> Path:
        return sweep / RUNS / run_name(game, seed)

    def train_overrides(self) -> list[str]:
        """The overrides every run's config is composed from, before its game and seed."""
        return [f"agent={self.agent}", f"env={self.env}", *self.overrides]

    def sweep_overrides(self, sweep: Path, runs: list[str]) -> list[str]:
        """Hydra's multirun over exactly ``runs`` (run names: one sweep key, not games x seeds, so
        that a finished or abandoned pair gets no job), each job in its own deterministic run folder."""
        return ["--multirun", *self.train_overrides(), f"+{RUN_KEY}={','.join(runs)}",
                f"hydra.sweep.dir={sweep / RUNS}", f"hydra.sweep.subdir=${{{RUN_KEY}}}",
                # each job's output goes to its benchmark.log, its config to config/train.yaml; Hydra's
                # logging and .hydra/ copies would repeat them, changed at every launch
                "hydra/hydra_logging=disabled", "hydra/job_logging=disabled", "hydra.output_subdir=null"]


def run_name(game: str, seed: int) -> str:
    """A run's folder under the sweep's runs/, and its value of the sweep key."""
    return f"{game}/seed_{seed}"


def parse_run_name(name: str) -> tuple[str, int]:
    game, _, seed = name.rpartition("/seed_")
    return game, int(seed)


def parse_games(text: str, env_kind) -> tuple[str, ...]:
    """One of the env kind's game sets (Atari's ``atari26``) or a comma-separated list, each game in any
    spelling the env kind accepts."""
    if text in env_kind.game_sets:
        return tuple(env_kind.game_sets[text])
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        sets = "".join(f" or --games {name}" for name in env_kind.game_sets)
        raise IrisError(f"--games {text!r} names no game; give a comma-separated list of {env_kind.name} "
                        f"games{sets}")
    return tuple(dict.fromkeys(env_kind.resolve_id(name) for name in names))  # unknown games list close matches


def default_sweep_folder(spec: BenchmarkSpec, games_text: str) -> Path:
    """The same command gives the same folder, so that running it again continues the sweep."""
    label = re.sub(r"[^0-9A-Za-z]+", "-", games_text).strip("-")[:60] or spec.env
    mode = "eval" if spec.checkpoint else "train"
    return Path("benchmark") / f"{spec.agent}_{label}_{spec.seeds}seeds_{mode}"


def open_sweep(sweep: Path, spec: BenchmarkSpec) -> bool:
    """Start the sweep folder (True) or check that it holds this very sweep (False)."""
    path = sweep / SPEC_FILE
    if sweep.is_file():
        raise IrisError(f"--out {sweep} is a file; give a folder for the sweep")
    if sweep.is_dir() and any(sweep.iterdir()) and not path.is_file():
        raise IrisError(f"{sweep} is not an iris benchmark sweep (no {SPEC_FILE}); choose a new --out, so that "
                        f"nothing in it is touched")
    if not path.is_file():
        atomic_write_text(path, yaml.safe_dump({"format": FORMAT, **_as_yaml(spec)}, sort_keys=False))
        return True
    stored = _read(path)
    for field in fields(BenchmarkSpec):
        asked, was = _as_yaml(spec)[field.name], stored.get(field.name)
        if asked != was:
            raise IrisError(f"{sweep} is a sweep with {field.name}={was}, and this command asks {asked}; run the "
                            f"same command to continue it, or choose a new --out")
    return False


def read_spec(sweep: Path) -> BenchmarkSpec:
    data = _read(sweep / SPEC_FILE)
    return BenchmarkSpec(**{field.name: _from_yaml(field.name, data[field.name]) for field in fields(BenchmarkSpec)})


def _as_yaml(spec: BenchmarkSpec) -> dict:
    return {name: list(value) if isinstance(value, tuple) else value for name, value in asdict(spec).items()}


def _from_yaml(name: str, value):
    return tuple(value) if name in ("games", "overrides") else value


def _read(path: Path) -> dict:
    if not path.is_file():
        raise IrisError(f"{path.parent} is not an iris benchmark sweep (no {SPEC_FILE}); give the folder iris "
                        f"benchmark wrote (its --out)")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise IrisError(f"{path} is not valid YAML ({str(error).splitlines()[0]}); restore it") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise IrisError(f"{path} was not written by iris benchmark; choose a new --out")
    missing = [field.name for field in fields(BenchmarkSpec) if field.name not in data]
    if missing:
        raise IrisError(f"{path} lacks {', '.join(missing)}; it was not written by this iris benchmark")
    return data
