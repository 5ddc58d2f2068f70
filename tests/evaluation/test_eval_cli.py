"""`iris report` end to end through iris_wm.cli.main: outputs, figures, exit codes."""

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from iris_wm import cli

SCORES = "src/iris_wm/envs/atari/data"  # the bundled copies of the published score files
FAST = ["--reps", "200", "--profile-reps", "50", "--poi-reps", "50"]


def _png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def _iris_json(tmp_path, name="IRIS.json"):
    source = Path(__file__).parents[2] / SCORES / "IRIS.json"
    target = tmp_path / name
    target.write_text(source.read_text())
    return target


def test_report_writes_tables_json_and_figures(tmp_path, capsys):
    pytest.importorskip("rliable")
    pytest.importorskip("matplotlib")
    out = tmp_path / "out"
    ours = f"ours={_iris_json(tmp_path)}"
    assert cli.main(["report", ours, "--baselines", "IRIS,DIAMOND,CURL", "--out", str(out), *FAST]) == 0
    printed = capsys.readouterr().out
    ours_row = next(line.split() for line in printed.splitlines() if line.startswith("ours "))
    assert ours_row[:5] == ["ours", "5", "26/26", "10", "1.046"]
    assert "P(ours > CURL) = 0.792" in printed
    data = json.loads((out / "report.json").read_text())
    assert [m["name"] for m in data["methods"]] == ["ours", "IRIS", "DIAMOND", "CURL"]
    assert round(data["methods"][0]["aggregates"]["optimality_gap"], 3) == 0.512
    assert "| CURL | 100 | 26/26 | 2 | 0.261 [" in (out / "report.md").read_text()
    sizes = {}
    for name in ("aggregates", "per_game_hns", "performance_profile", "probability_of_improvement"):
        path = out / "figures" / f"{name}.png"
        sizes[name] = _png_size(path)
        assert path.stat().st_size > 20_000  # drawn, not blank
        assert f"wrote {path}" in printed
    for width, height in sizes.values():
        assert 800 <= width <= 3000 and 300 <= height <= 2500, sizes
    assert sizes["per_game_hns"][0] > sizes["per_game_hns"][1]  # 26 games in two wide rows


def test_no_inputs_reports_every_bundled_method_without_intervals(capsys):
    assert cli.main(["report", "--reps", "0", "--profile-reps", "0", "--poi-reps", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("(no confidence intervals (--reps 0))")
    rows = {line.split()[0]: line.split() for line in lines[2:12]}
    assert rows["IRIS"][3:8] == ["10", "1.046", "0.289", "0.501", "0.512"]
    assert rows["SPR"][1:8] == ["100", "26/26", "6", "0.616", "0.396", "0.337", "0.577"]
    assert rows["EfficientZero"][3:8] == ["14", "1.943", "1.090", "(1.047)", "(0.367)"]  # one run: no CI


def test_a_run_folder_is_an_input(tmp_path, capsys):
    (tmp_path / "run" / "eval").mkdir(parents=True)
    _iris_json(tmp_path / "run" / "eval", "final.json")
    assert cli.main(["report", str(tmp_path / "run"), "--baselines", "none", "--reps", "0", "--profile-reps", "0"]) == 0
    row = capsys.readouterr().out.splitlines()[2].split()
    assert row == ["run", "5", "26/26", "10", "1.046", "0.289", "0.501", "0.512"]


def test_crafter_stats_give_a_crafter_report(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    stats = tmp_path / "agent" / "stats.jsonl"
    stats.parent.mkdir()
    stats.write_text('{"reward": 3.0, "achievement_collect_wood": 1}\n{"reward": 1.0}\n')
    assert cli.main(["report", str(stats), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "agent" in printed and f"{(51 ** (1 / 22) - 1):.2f}" in printed
    width, height = _png_size(tmp_path / "out" / "figures" / "crafter_success_rates.png")
    assert width > height > 400


@pytest.mark.parametrize(
    "args, message",
    [
        (["bad_game.json"], "unknown game 'Pongg'; did you mean 'Pong'?"),
        (["not_scores.json"], "top level is str"),
        (["IRIS.json", "--runs", "-2"], "--runs must be a positive number of runs per game, got -2"),
        (["IRIS.json", "--baselines", "Dreamer"], "unknown baseline 'Dreamer'"),
        (["nowhere.json"], "does not exist"),
        (["IRIS.json", "--human", "human.json"], "missing human reference score for"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    _iris_json(tmp_path)
    (tmp_path / "bad_game.json").write_text('{"Pongg": [1.0]}')
    (tmp_path / "not_scores.json").write_text('"scores"')
    (tmp_path / "human.json").write_text('{"Pong": [14.6]}')
    assert cli.main(["report", *args, "--reps", "0"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("iris report: error: ") and captured.err.count("\n") == 1
    assert message in captured.err


def test_command_module_and_metrics_import_light():
    code = (
        "import sys, iris_wm.commands.report, iris_wm.scores.statistics, iris_wm.envs.atari.kind;"
        "print(sorted(m for m in ('matplotlib', 'scipy', 'rliable', 'torch', 'pandas') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
