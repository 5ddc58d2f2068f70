"""iris report --curves: test returns of run folders against env steps, the median and interquartile band over
the runs of each method, and reference lines (the family's, and --reference files)."""

import json

import numpy as np
import pytest

from iris_wm.cli import main
from iris_wm.envs.atari.scores import load_baseline, load_references


def fake_run(folder, kind: str, env_id: str, returns: list[float], steps_per_epoch: int = 100):
    """A run folder as training leaves it: its config and one metrics line per epoch, evaluated every other."""
    (folder / "config").mkdir(parents=True)
    (folder / "config" / "train.yaml").write_text(f"env:\n  kind: {kind}\n  id: {env_id}\n")
    lines = []
    for epoch in range(1, 2 * len(returns) + 1):
        line = {"epoch": epoch, "train_dataset/#steps": epoch * steps_per_epoch, "duration_hours": 1 / 60}
        if epoch % 2 == 0:
            line["test_dataset/return"] = returns[epoch // 2 - 1]
        lines.append(json.dumps(line))
    (folder / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def test_seeds_pool_into_a_median_and_band_per_method(tmp_path):
    sweep = tmp_path / "sweep" / "runs" / "LitSide-v0"
    for seed, returns in enumerate([[4, 5, 7], [4, 6, 8], [3, 6, 6]]):
        fake_run(sweep / f"seed_{seed}", "gym", "LitSide-v0", returns)
    fake_run(tmp_path / "other", "gym", "LitSide-v0", [4, 4])
    (tmp_path / "random.json").write_text(json.dumps({"LitSide-v0": [4.0, 4.1], "details": {}}))
    out = tmp_path / "report"
    assert main(["report", "--curves", f"ours={tmp_path / 'sweep'}", f"flat={tmp_path / 'other'}",
                 "--reference", f"random={tmp_path / 'random.json'}", "--out", str(out), "--reps", "200"]) == 0
    data = json.loads((out / "report.json").read_text())
    ours, flat = sorted(data["curves"], key=lambda c: c["method"] != "ours")
    assert ours["steps"] == [200, 400, 600] and ours["median"] == [4, 6, 7] and ours["finals"] == [7, 8, 6]
    assert ours["q25"] == [3.5, 5.5, 6.5] and ours["q75"] == [4, 6, 7.5]
    low, high = ours["final_interval"]
    assert 6 <= low <= 7 <= high <= 8
    assert flat["steps"] == [200, 400] and flat["final_interval"] is None  # one run: no interval
    assert data["references"] == {"LitSide-v0": {"random": pytest.approx(4.05)}}
    assert (out / "figures" / "learning_curves.png").stat().st_size > 0
    assert ours["minutes_per_run"] == pytest.approx(6) and flat["minutes_per_run"] == pytest.approx(4)  # 1 an epoch
    assert "| LitSide-v0 | ours | 3 | 600 | 6 | 7.00 [" in (out / "report.md").read_text()


def test_atari_runs_get_the_random_policy_and_published_scores_as_lines(tmp_path):
    fake_run(tmp_path / "pong", "atari", "Pong", [-21, -15])
    out = tmp_path / "report"
    assert main(["report", "--curves", str(tmp_path / "pong"), "--out", str(out), "--no-figures"]) == 0
    references = json.loads((out / "report.json").read_text())["references"]["Pong"]
    assert references["random policy"] == load_references().random["Pong"]
    assert references["IRIS (published)"] == pytest.approx(np.mean(load_baseline("IRIS").games["Pong"]))
    assert "Δ-IRIS (published)" in references


def test_a_folder_without_runs_is_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["report", "--curves", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "no run folder" in err and err.count("\n") == 1


def test_an_eval_file_as_reference_is_drawn_at_its_mean_return_not_its_score(tmp_path):
    """iris eval's file scores Crafter by its own metric; beside test returns its line is the measured return."""
    fake_run(tmp_path / "run", "gym", "Some-v0", [1.0, 2.0])
    (tmp_path / "random.json").write_text(json.dumps({"Some-v0": [9.0], "details": {"mean": 1.5, "episodes": 8}}))
    out = tmp_path / "report"
    assert main(["report", "--curves", str(tmp_path / "run"), "--reference", f"random={tmp_path / 'random.json'}",
                 "--out", str(out), "--no-figures"]) == 0
    assert json.loads((out / "report.json").read_text())["references"] == {"Some-v0": {"random": 1.5}}
