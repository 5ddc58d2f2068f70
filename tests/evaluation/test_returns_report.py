"""iris report on the scores of any environment: the mean per env and method with its bootstrap
interval, normalised by reference scores when given."""

from __future__ import annotations

import json

import numpy as np
import pytest

from iris_wm.cli import main

pytest.importorskip("rliable")

RUNS = {"ours": {"MiniGrid-DoorKey-5x5-v0": [0.9, 0.8, 0.95], "CarRacing-v3": [300.0, 420.0, 380.0]},
        "theirs": {"MiniGrid-DoorKey-5x5-v0": [0.5, 0.6, 0.4]}}


@pytest.fixture
def score_files(tmp_path):
    paths = {}
    for name, games in RUNS.items():
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(games))
    return paths


def test_means_with_intervals_per_env_and_method(score_files, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["report", *(f"{name}={path}" for name, path in score_files.items()), "--out", str(out),
                 "--reps", "2000"]) == 0
    rows = json.loads((out / "report.json").read_text())
    assert [(row["env"], row["method"]) for row in rows] == [("CarRacing-v3", "ours"), ("MiniGrid-DoorKey-5x5-v0",
                                                                                         "ours"),
                                                             ("MiniGrid-DoorKey-5x5-v0", "theirs")]
    for row in rows:
        runs = RUNS[row["method"]][row["env"]]
        assert row["mean"] == pytest.approx(np.mean(runs)) and row["runs"] == 3
        low, high = row["interval"]
        assert min(runs) <= low <= row["mean"] <= high <= max(runs)
    assert (out / "figures" / "scores.png").stat().st_size > 0
    assert "| MiniGrid-DoorKey-5x5-v0 | theirs | 3 | 0.50 [" in (out / "report.md").read_text()
    assert "CarRacing-v3" in capsys.readouterr().out


def test_normalised_by_random_and_expert_references(score_files, tmp_path):
    random, expert = tmp_path / "random.json", tmp_path / "expert.json"
    random.write_text(json.dumps({"MiniGrid-DoorKey-5x5-v0": [0.1], "CarRacing-v3": [-50.0]}))
    expert.write_text(json.dumps({"MiniGrid-DoorKey-5x5-v0": [0.96], "CarRacing-v3": [900.0]}))
    out = tmp_path / "report"
    assert main(["report", f"ours={score_files['ours']}", "--reference", f"random={random}", "--reference",
                 f"expert={expert}", "--out", str(out), "--reps", "500"]) == 0
    rows = {row["env"]: row for row in json.loads((out / "report.json").read_text())}
    assert rows["CarRacing-v3"]["normalised"] == pytest.approx((np.mean([300, 420, 380]) + 50) / 950)
    assert rows["MiniGrid-DoorKey-5x5-v0"]["normalised"] == pytest.approx((np.mean([0.9, 0.8, 0.95]) - 0.1) / 0.86)


def test_one_reference_alone_is_one_line(score_files, tmp_path, capsys):
    random = tmp_path / "random.json"
    random.write_text(json.dumps({"CarRacing-v3": [-50.0]}))
    assert main(["report", str(score_files["ours"]), "--reference", f"random={random}"]) == 2
    err = capsys.readouterr().err
    assert "needs both --reference random=FILE and --reference expert=FILE" in err and err.count("\n") == 1
