"""``iris benchmark --env crafter`` end to end through the local launcher: a tiny agent evaluated
over two seeds (``--checkpoint``). A run's score in scores.json is the Crafter score of its evaluated
episodes' achievements, not their mean return, and the report is the Crafter report of the sweep."""

import json
import math

import pytest
import torch

import iris_wm
from iris_wm.cli import main
from iris_wm.envs.crafter.score import ACHIEVEMENTS
from tests.factories import tiny_iris_config

pytest.importorskip("crafter")

SEEDS, EPISODES = 2, 2


def published_crafter_score(episode_achievements: list[list[int]]) -> float:
    """The Crafter paper's definition, written out: s_i = percent of episodes unlocking achievement i
    at least once; score = exp(mean over the 22 of ln(1 + s_i)) - 1."""
    rates = [100 * sum(episode[i] > 0 for episode in episode_achievements) / len(episode_achievements)
             for i in range(len(ACHIEVEMENTS))]
    return math.exp(sum(math.log(1 + rate) for rate in rates) / len(rates)) - 1


def test_a_crafter_sweep_scores_each_run_by_the_crafter_score_and_reports_it(tmp_path, capsys):
    torch.manual_seed(0)
    agent = iris_wm.save_agent(iris_wm.create_model("iris", num_actions=17, device="cpu", config=tiny_iris_config()),
                               tmp_path / "agent")
    sweep = tmp_path / "sweep"
    assert main(["benchmark", "--env", "crafter", "--seeds", str(SEEDS), "--checkpoint", str(agent), "--out",
                 str(sweep), "--eval-episodes", str(EPISODES), "--eval-envs", "1", "--report-reps", "100",
                 "common.num_threads=1", "env.test.max_episode_steps=100"]) == 0
    out = capsys.readouterr().out

    expected, returns = [], []
    for seed in range(SEEDS):
        details = json.loads((sweep / "runs" / "Crafter" / f"seed_{seed}" / "eval" / "benchmark.json").read_text())[
            "details"]
        assert len(details["episode_achievements"]) == EPISODES
        expected.append(published_crafter_score(details["episode_achievements"]))
        returns.append(sum(details["episode_returns"]) / EPISODES)
    assert max(expected) > 0  # the episodes unlocked achievements: a score of 0 would prove little
    scores = json.loads((sweep / "scores.json").read_text())
    assert list(scores) == ["Crafter"] and scores["Crafter"] == pytest.approx(expected, abs=1e-9)
    assert scores["Crafter"] != pytest.approx(returns)  # the achievements' score, not the returns
    assert json.loads((sweep / "scores_details.json").read_text())["seeds"] == {"Crafter": list(range(SEEDS))}

    # the report of the sweep: the Crafter score over the seeds (mean ± std) and the success rates
    assert f"iris report iris={sweep / 'runs'}" in out
    mean, std = sum(expected) / SEEDS, math.sqrt(sum((s - sum(expected) / SEEDS) ** 2 for s in expected) / SEEDS)
    report = (sweep / "report" / "report.md").read_text()
    assert f"| iris | {SEEDS} | {SEEDS * EPISODES} | {mean:.2f} ± {std:.2f} |" in report
    assert "| collect_wood |" in report and (sweep / "report" / "figures" / "crafter_success_rates.png").is_file()

    # the status table (nothing trained: no epochs) and a report of scores.json alone
    assert main(["benchmark", "status", str(sweep)]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[-1] == f"{SEEDS} of {SEEDS} runs finished"
    for seed, row in enumerate(rows[1:-1]):
        assert row.split()[:6] == ["Crafter", "seed", str(seed), "finished", "-", "-"]
        assert row.split()[6] == f"{expected[seed]:.2f}"
    assert main(["report", f"iris={sweep / 'scores.json'}", "--baselines", "none"]) == 0
    assert f"{mean:.2f} ± {std:.2f}" in capsys.readouterr().out
