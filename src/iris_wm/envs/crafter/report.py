"""Crafter metrics: per-achievement success rates, the Crafter score and the mean return, per run
and with their spread over runs.

Definitions from the Crafter paper (Hafner, ICLR 2022), in ``iris_wm.envs.crafter.score``: over a run's
episodes, the success rate of an achievement is the percentage of episodes in which it was unlocked
at least once; the score is exp(mean ln(1 + rate)) - 1 over the 22 achievements, in percent. Over
several runs (seeds) the score is reported as the mean and standard deviation (ddof 0) of the runs'
scores, as the benchmark does.

A run is read from any of:
- Crafter's own ``stats.jsonl`` (one JSON object per episode with ``"reward"``, ``"length"`` and
  ``"achievement_<name>": count``), or a JSON list of such objects; a folder stands for every
  ``stats.jsonl`` below it, one run each;
- an ``iris eval`` score file of a Crafter agent (``details.episode_achievements``), or a run folder
  (its newest ``eval/*.json``), or a folder of run folders (a sweep: one run each);
- the benchmark's published runs (a JSON list of runs with ``xs``, ``reward`` and per-achievement
  lists, e.g. the human players' file bundled here): episodes that ended within ``budget`` steps;
- a score file of Crafter runs, ``{"Crafter": [score per run]}`` (``iris benchmark``'s scores.json):
  the runs' scores alone, without the episodes behind them (no success rates, no return).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from iris_wm.envs.crafter.score import ACHIEVEMENTS, TASK, crafter_score, success_rates
from iris_wm.errors import IrisError
from iris_wm.run_folder import RunFolder, run_folders_below
from iris_wm.scores.report import Input, ReportOptions

PREFIX = "achievement_"


BUDGET = 1_000_000  # environment steps: the benchmark's budget for its published runs
REFERENCE_RUNS = Path(__file__).parent / "data" / "crafter_reward-human.json"
# The benchmark's scoreboard at 1M steps (score mean ± std over seeds, in %), for reference rows.
PUBLISHED = {"Human (published)": (50.5, 6.8), "Curious Replay": (19.4, 1.6), "PPO (ResNet)": (15.6, 1.6),
             "DreamerV3": (14.5, 1.6)}


@dataclass
class CrafterResult:
    name: str
    episodes: int
    success_rates: dict[str, float] | None  # achievement -> percent of episodes, 0..100 (mean over runs)
    score: float  # percent, the mean over runs
    mean_return: float | None  # None when the episodes carry no reward
    runs: int = 1
    score_std: float | None = None  # over runs, when there are several


@dataclass
class Run:
    counts: np.ndarray  # (episodes, 22)
    rewards: list[float | None]


def _episode_counts(episode: object, where: str) -> tuple[list[float], float | None]:
    if not isinstance(episode, dict):
        raise IrisError(f"{where}: an episode must be a JSON object with achievement_<name> counts")
    unknown = [key for key in episode if key.startswith(PREFIX) and key[len(PREFIX) :] not in ACHIEVEMENTS]
    if unknown:
        raise IrisError(f"{where}: unknown achievement {unknown[0]}; Crafter's 22 are {', '.join(ACHIEVEMENTS)}")
    counts = []
    for name in ACHIEVEMENTS:
        count = episode.get(PREFIX + name, 0)  # absent means never unlocked
        if isinstance(count, bool) or not isinstance(count, (int, float)) or not count >= 0:
            raise IrisError(f"{where}: {PREFIX}{name} = {count!r}; counts must be numbers >= 0")
        counts.append(float(count))
    reward = episode.get("reward", episode.get("return"))
    if reward is not None and (isinstance(reward, bool) or not isinstance(reward, (int, float))):
        raise IrisError(f"{where}: reward {reward!r} is not a number")
    return counts, None if reward is None else float(reward)


def _run_of_episodes(episodes: list[object], where: str) -> Run:
    counts, rewards = [], []
    for index, episode in enumerate(episodes):
        episode_counts, reward = _episode_counts(episode, f"{where}, episode {index + 1}")
        counts.append(episode_counts)
        rewards.append(reward)
    return Run(np.array(counts).reshape(-1, len(ACHIEVEMENTS)), rewards)


def _published_run(run: dict, where: str, budget: int) -> Run:
    """One run of the benchmark's format: per-episode lists, episodes ending within the budget."""
    kept = [i for i, end in enumerate(run["xs"]) if end <= budget]
    episodes = [{key: values[i] for key, values in run.items() if key.startswith(PREFIX) or key == "reward"}
                for i in kept]
    return _run_of_episodes(episodes, where)


def _eval_run(data: dict, where: str) -> Run:
    details = data["details"]
    episodes = [{**{PREFIX + name: count for name, count in zip(ACHIEVEMENTS, counts, strict=True)},
                 "reward": reward}
                for counts, reward in zip(details["episode_achievements"], details["episode_returns"], strict=True)]
    return _run_of_episodes(episodes, where)


def _load_json(path: Path) -> object:
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise IrisError(f"{path} is not valid JSON ({error}); pass Crafter's stats.jsonl or an iris eval "
                        f"file") from None


def _runs_of_file(path: Path, budget: int) -> list[Run]:
    data = _load_json(path)
    if isinstance(data, dict) and "episode_achievements" in data.get("details", {}):
        return [_eval_run(data, str(path))]
    if not isinstance(data, list):
        raise IrisError(f"{path}: expected a list of episodes (Crafter's stats.jsonl format) or an iris eval file "
                        f"of a Crafter agent")
    if data and all(isinstance(run, dict) and "xs" in run for run in data):
        return [_published_run(run, f"{path}, run {i + 1}", budget) for i, run in enumerate(data)]
    return [_run_of_episodes(data, str(path))]


def _newest_eval(run: RunFolder) -> Path | None:
    evaluations = run.evaluations()
    return evaluations[-1] if evaluations else None


def _run_files(path: Path) -> list[Path]:
    """The files of a path's runs: itself, the stats.jsonl below a folder, or each run folder's
    newest evaluation."""
    if not path.exists():
        raise IrisError(f"{path} does not exist; check the path")
    if not path.is_dir():
        return [path]
    evaluations = [f for f in map(_newest_eval, run_folders_below(path)) if f is not None]
    files = evaluations or sorted(path.rglob("stats.jsonl"))
    if not files:
        raise IrisError(f"{path}: no stats.jsonl and no run folder with an eval/*.json; run iris eval on the runs "
                        f"or record episodes with crafter.Recorder")
    return files


def _score_file(path: Path) -> list[float] | None:
    """The scores of a score file of Crafter runs (``{"Crafter": [score per run]}`` and nothing else);
    None for any other file or folder."""
    if not path.is_file() or path.suffix != ".json":
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or list(data) != [TASK] or not isinstance(data[TASK], list):
        return None
    scores = data[TASK]
    if not scores or any(isinstance(s, bool) or not isinstance(s, (int, float)) or not 0 <= s <= 100 for s in scores):
        raise IrisError(f"{path}: {TASK} must list each run's Crafter score, a number from 0 to 100 (%)")
    return [float(score) for score in scores]


def _scores_only(scores: list[float], name: str) -> CrafterResult:
    """Runs known by their scores alone: their mean and spread, no episodes behind them."""
    return CrafterResult(name, 0, None, float(np.mean(scores)), None, runs=len(scores),
                         score_std=float(np.std(scores)) if len(scores) > 1 else None)


def claims(path: str | Path, options: ReportOptions | None = None) -> bool:
    """True for Crafter stats, a Crafter agent's iris eval file, a score file of Crafter runs, or
    folders of the first two."""
    path = Path(path)
    if _score_file(path) is not None:
        return True
    try:
        files = _run_files(path) if path.is_dir() else [path]
    except IrisError:
        return False
    head = files[0].read_text(encoding="utf-8", errors="replace")[:200_000] if files[0].is_file() else ""
    return files[0].suffix == ".jsonl" or f'"{PREFIX}' in head or '"episode_achievements"' in head


def _default_name(path: Path) -> str:
    # Crafter names every file stats.jsonl: the folder holding it says more.
    if path.is_file() and path.name != "stats.jsonl":
        return path.stem
    return (path.parent if path.is_file() else path).resolve().name


def summarize(runs: list[Run], name: str) -> CrafterResult:
    """Per-run success rates and scores; their means, and the scores' spread over runs."""
    runs = [run for run in runs if len(run.counts)]
    if not runs:
        raise IrisError(f"{name}: no episodes; evaluate the agent on Crafter first")
    rates = np.stack([success_rates(run.counts) for run in runs])  # (runs, 22)
    scores = np.array([crafter_score(r) for r in rates])
    rewards = [reward for run in runs for reward in run.rewards]
    known = [reward for reward in rewards if reward is not None]
    return CrafterResult(
        name=name,
        episodes=sum(len(run.counts) for run in runs),
        success_rates=dict(zip(ACHIEVEMENTS, rates.mean(axis=0).tolist(), strict=True)),
        score=float(scores.mean()),
        mean_return=float(np.mean(known)) if known and len(known) == len(rewards) else None,
        runs=len(runs),
        score_std=float(scores.std()) if len(runs) > 1 else None,
    )


def read_crafter(path: str | Path, name: str | None = None, budget: int = BUDGET) -> CrafterResult:
    """Success rates, score (with its spread over runs) and mean return of the runs at ``path``."""
    path = Path(path)
    name = name or _default_name(path)
    scores = _score_file(path)
    if scores is not None:
        return _scores_only(scores, name)
    runs = [run for file in _run_files(path) for run in _runs_of_file(file, budget)]
    return summarize(runs, name)


def references() -> list[CrafterResult]:
    """The human players' runs (bundled, computed here) and the published scoreboard's rows."""
    human = read_crafter(REFERENCE_RUNS, "Human (bundled runs)")
    published = [CrafterResult(name, 0, None, score, None, runs=0, score_std=std)
                 for name, (score, std) in PUBLISHED.items()]
    return [human, *published]


def _number(value: float | None, digits: int = 1) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def score_text(result: CrafterResult) -> str:
    """``14.50 ± 1.60`` over several runs, ``14.50`` for one."""
    spread = f" ± {result.score_std:.2f}" if result.score_std is not None else ""
    return f"{result.score:.2f}{spread}"


def crafter_markdown(results: list[CrafterResult]) -> str:
    """A Markdown report: score (± std over runs) and return per method, then every achievement's
    success rate for the methods whose episodes are known."""
    detailed = [r for r in results if r.success_rates is not None]
    lines = [
        "# Crafter report",
        "",
        "Score = exp(mean ln(1 + s_i)) − 1 over the 22 achievements, s_i = success rate in % (Hafner, ICLR 2022); "
        "± is the standard deviation over runs.",
        "",
        "| Method | runs | episodes | Score (%) | Return |",
        "|---|---:|---:|---:|---:|",
        *(f"| {r.name} | {r.runs or '–'} | {r.episodes or '–'} | {score_text(r)} | {_number(r.mean_return, 2)} |"
          for r in results),
    ]
    if not detailed:  # scores alone: no achievement to show
        return "\n".join(lines) + "\n"
    lines += ["", "| Achievement | " + " | ".join(r.name for r in detailed) + " |", "|---|" + "---:|" * len(detailed)]
    for achievement in ACHIEVEMENTS:
        rates = " | ".join(f"{r.success_rates[achievement]:.1f}" for r in detailed)
        lines.append(f"| {achievement} | {rates} |")
    return "\n".join(lines) + "\n"


def crafter_terminal(results: list[CrafterResult]) -> str:
    """Score, return and episodes per method, as a fixed-width table."""
    width = max(len("Method"), *(len(r.name) for r in results))
    lines = [f"{'Method':<{width}}  runs  episodes       score (%)  return"]
    for r in results:
        lines.append(f"{r.name:<{width}}  {r.runs or '–':>4}  {r.episodes or '–':>8}  {score_text(r):>14}  "
                     f"{_number(r.mean_return, 2):>6}")
    return "\n".join(lines)


def crafter_json(results: list[CrafterResult]) -> dict:
    return {
        "benchmark": "crafter",
        "methods": [
            {
                "name": r.name,
                "runs": r.runs,
                "episodes": r.episodes,
                "score": r.score,
                "score_std": r.score_std,
                "mean_return": r.mean_return,
                "success_rates": r.success_rates,
            }
            for r in results
        ],
    }


def results_of(inputs: list[Input], options: ReportOptions) -> list[CrafterResult]:
    """The inputs' runs, then the human players' runs and the published scoreboard as reference rows."""
    if options.baselines not in (None, "all", "none"):
        raise IrisError("Crafter's references are the human players' runs and the published scoreboard: "
                        "--baselines all (the default) or none")
    if options.references:
        raise IrisError("Crafter's report has its own references (the human players' runs); leave out "
                        "--reference, --human and --random")
    results = [read_crafter(path, name) for name, path in inputs]
    return results + (references() if options.baselines != "none" else [])
