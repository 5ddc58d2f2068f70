"""Building the report: run counts, missing games, the improvement of the subject, text output."""

import json

import pytest

from iris_wm.envs.atari import report
from iris_wm.envs.atari.scores import load_baseline, load_references
from iris_wm.errors import IrisError
from iris_wm.scores.files import MethodScores
from iris_wm.scores.report import ReportOptions

NO_BOOTSTRAP = ReportOptions(reps=0, profile_reps=0, poi_reps=0)


def _partial_iris(drop=("Pong", "Qbert")) -> MethodScores:
    iris = load_baseline("IRIS")
    return MethodScores("partial", {g: runs for g, runs in iris.games.items() if g not in drop})


def test_missing_games_are_named_everywhere():
    built = report.build_report([_partial_iris(), load_baseline("IRIS")], load_references(), NO_BOOTSTRAP)
    partial = built.methods[0]
    assert partial.missing == ["Pong", "Qbert"] and len(partial.games) == 24
    assert "warning: partial is missing 2 games (aggregates cover the others): Pong, Qbert" in report.to_terminal(built)
    markdown = report.to_markdown(built)
    assert "partial is missing 2 games" in markdown and "| Pong | -20.7 | 14.6 | missing | 14.6 |" in markdown
    assert json.loads(json.dumps(report.to_json(built)))["methods"][0]["missing_games"] == ["Pong", "Qbert"]
    assert built.improvements[0].games == 24  # compared on the games both have


def test_unequal_run_counts_need_runs():
    method = MethodScores("uneven", {"Pong": [1.0, 2.0, 3.0], "Alien": [300.0, 400.0]})
    with pytest.raises(IrisError, match=r"different numbers of runs per game \(Alien 2, Pong 3\); pass --runs 2"):
        report.build_report([method], load_references(), NO_BOOTSTRAP)
    settings = ReportOptions(reps=0, profile_reps=0, poi_reps=0, runs=2)
    result = report.build_report([method], load_references(), settings).methods[0]
    assert result.runs == 2 and result.hns.shape == (2, 2)
    with pytest.raises(IrisError, match=r"fewer than 3 runs in Alien \(2\); lower --runs"):
        report.build_report([method], load_references(), ReportOptions(reps=0, runs=3))


@pytest.mark.parametrize("field, value, message", [("runs", -1, "--runs must be a positive"), ("reps", -5, "--reps")])
def test_negative_counts_are_rejected(field, value, message):
    with pytest.raises(IrisError, match=message):
        ReportOptions(**{field: value})


def test_duplicate_names_and_empty_input_are_errors():
    with pytest.raises(IrisError, match="two methods are named 'IRIS'; name one with NAME=PATH"):
        report.build_report([load_baseline("IRIS"), load_baseline("IRIS")], load_references(), NO_BOOTSTRAP)
    with pytest.raises(IrisError, match="nothing to report"):
        report.build_report([], load_references(), NO_BOOTSTRAP)


def test_text_outputs_with_intervals():
    pytest.importorskip("rliable")
    settings = ReportOptions(reps=200, profile_reps=20, poi_reps=20, seed=0)
    built = report.build_report([load_baseline("IRIS"), load_baseline("SPR")], load_references(), settings)
    terminal = report.to_terminal(built)
    iris_row = next(line for line in terminal.splitlines() if line.startswith("IRIS "))
    assert iris_row.split()[:6] == ["IRIS", "5", "26/26", "10", "1.046", iris_row.split()[5]]
    assert "stratified bootstrap, 200 reps, seed 0" in terminal and "P(IRIS > SPR) = 0.610 [" in terminal
    markdown = report.to_markdown(built)
    assert "| IRIS | 5 | 26/26 | 10 | 1.046 [" in markdown and "| #superhuman | 0 | – | 10 | 6 |" in markdown
    data = report.to_json(built)
    assert data["methods"][0]["aggregates"]["iqm"] == pytest.approx(0.50115538, abs=1e-8)
    low, high = data["methods"][0]["intervals"]["mean"]
    assert low < 1.046 < high
    assert data["probability_of_improvement"][0]["y"] == "SPR" and data["settings"]["reps"] == 200
