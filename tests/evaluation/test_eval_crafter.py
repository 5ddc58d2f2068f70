"""Crafter success rates and score (Hafner, ICLR 2022)."""

import json
import math

import numpy as np
import pytest

from iris_wm.envs.crafter import report as crafter
from iris_wm.envs.crafter.report import ACHIEVEMENTS
from iris_wm.errors import IrisError


def test_score_formula():
    assert len(ACHIEVEMENTS) == 22
    assert crafter.crafter_score(np.zeros(22)) == 0.0
    assert crafter.crafter_score(np.full(22, 100.0)) == pytest.approx(100.0)
    rates = np.array([100.0] * 11 + [0.0] * 11)
    assert crafter.crafter_score(rates) == pytest.approx(math.sqrt(101.0) - 1.0)  # exp(mean(ln(1+s))) - 1


def test_success_rate_counts_episodes_with_at_least_one_unlock():
    counts = np.zeros((4, 22))
    counts[:, 0] = [0, 1, 5, 0]  # unlocked in 2 of 4 episodes, however many times
    assert crafter.success_rates(counts)[0] == 50.0 and crafter.success_rates(counts)[1] == 0.0


def _stats(path, episodes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(episode) + "\n" for episode in episodes))
    return path


def test_reading_crafter_stats_jsonl(tmp_path):
    episodes = [
        {"length": 100, "reward": 2.1, "achievement_collect_wood": 3, "achievement_wake_up": 1},
        {"length": 200, "reward": 0.9, "achievement_collect_wood": 0},
    ]
    path = _stats(tmp_path / "agent" / "stats.jsonl", episodes)
    result = crafter.read_crafter(path)
    assert result.name == "agent" and result.episodes == 2 and result.mean_return == pytest.approx(1.5)
    assert result.success_rates["collect_wood"] == 50.0 and result.success_rates["wake_up"] == 50.0
    expected = math.exp(2 * math.log(51.0) / 22) - 1
    assert result.score == pytest.approx(expected)
    assert crafter.read_crafter(tmp_path).episodes == 2  # a folder: every stats.jsonl below it
    assert crafter.claims(path) and crafter.claims(tmp_path)
    text = crafter.crafter_markdown([result])
    assert "| collect_wood | 50.0 |" in text and f"| agent | 1 | 2 | {expected:.2f} | 1.50 |" in text


@pytest.mark.parametrize(
    "episode, message",
    [
        ({"achievement_fly": 1}, "unknown achievement achievement_fly"),
        ({"achievement_collect_wood": -1}, "counts must be numbers >= 0"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_episodes_are_clear_errors(tmp_path, episode, message):
    path = _stats(tmp_path / "stats.jsonl", [episode])
    with pytest.raises(IrisError, match=message):
        crafter.read_crafter(path)


def test_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(IrisError, match="no stats.jsonl and no run folder with an eval"):
        crafter.read_crafter(tmp_path)


def test_the_human_players_runs_score_as_published():
    human = crafter.read_crafter(crafter.REFERENCE_RUNS)
    assert human.runs == 5 and human.episodes == 100
    assert round(human.score, 1) == 50.5 and round(human.score_std, 1) == 6.8


def test_runs_are_scored_one_by_one_and_spread_over_runs(tmp_path):
    """Two runs, hand-computed: run 1 unlocks collect_wood in 1 of 2 episodes, run 2 in both."""
    def eval_file(name, achievements, returns):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"Crafter": [0.0], "details": {"episode_achievements": achievements,
                                                                  "episode_returns": returns}}))
        return path

    wood = ACHIEVEMENTS.index("collect_wood")
    one = [0] * 22
    one[wood] = 3
    run_1 = eval_file("a", [one, [0] * 22], [1.0, 0.0])
    run_2 = eval_file("b", [one, one], [1.0, 1.0])
    runs = [*crafter._runs_of_file(run_1, crafter.BUDGET), *crafter._runs_of_file(run_2, crafter.BUDGET)]
    result = crafter.summarize(runs, "both")
    scores = [math.exp(math.log(51.0) / 22) - 1, math.exp(math.log(101.0) / 22) - 1]
    assert result.runs == 2 and result.episodes == 4
    assert result.score == pytest.approx(np.mean(scores)) and result.score_std == pytest.approx(np.std(scores))
    assert result.success_rates["collect_wood"] == 75.0 and result.mean_return == 0.75
    assert crafter.claims(run_1) and crafter.read_crafter(run_2).score == pytest.approx(scores[1])


def test_the_report_lists_the_references(tmp_path, capsys):
    from iris_wm.cli import main

    assert main(["report", str(crafter.REFERENCE_RUNS), "--out", str(tmp_path / "report")]) == 0
    out = capsys.readouterr().out
    assert "50.53 ± 6.79" in out and "DreamerV3" in out and "14.50 ± 1.60" in out
    assert (tmp_path / "report" / "figures" / "crafter_success_rates.png").stat().st_size > 10_000
