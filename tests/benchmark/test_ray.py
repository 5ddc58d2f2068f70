"""``iris benchmark --launcher ray``: one run through a Ray instance started on this machine."""

import json

import pytest

from iris_wm.cli import main
from tests.factories import tiny_benchmark_overrides

pytest.importorskip("ray")
pytest.importorskip("ale_py")


def test_one_run_through_a_local_ray_instance(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    arguments = ["benchmark", "--games", "Breakout", "--seeds", "1", "--launcher", "ray", "--out", str(sweep),
                 "--eval-episodes", "1", "--eval-envs", "1", "--report-reps", "100",
                 *tiny_benchmark_overrides(**{"evaluation.should": "false", "hydra.launcher.num_cpus": 1})]
    assert main(arguments) == 0
    out = capsys.readouterr().out
    run_dir = sweep / "runs" / "Breakout" / "seed_0"
    log = (run_dir / "benchmark.log").read_text()  # what the job printed in the Ray worker
    assert "Breakout seed 0: training 2 epochs" in log and "Breakout seed 0: finished; 1 of 1 runs" in log
    result = json.loads((run_dir / "eval" / "benchmark.json").read_text())
    assert json.loads((sweep / "scores.json").read_text())["Breakout"] == result["Breakout"]
    assert "1 of 1 runs finished" in out and (sweep / "report" / "report.md").is_file()
