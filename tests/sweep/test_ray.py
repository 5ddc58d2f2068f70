"""``iris benchmark --launcher ray``: one run through a Ray instance on this machine, and a task
whose worker dies while another runs. The instance (~7 s to start) is shared by the module's tests:
the launcher launches on a Ray connection the process has, and leaves it open."""

import json
import os
import time

import pytest

from iris_wm.cli import main
from iris_wm.training.launch import run_hydra
from tests.factories import tiny_benchmark_overrides

ray = pytest.importorskip("ray")
pytest.importorskip("ale_py")


@pytest.fixture(scope="module")
def ray_instance():
    ray.init(num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()


def test_one_run_through_a_local_ray_instance(ray_instance, tmp_path, capsys):
    sweep = tmp_path / "sweep"
    arguments = ["benchmark", "--games", "Breakout", "--seeds", "1", "--launcher", "ray", "--out", str(sweep),
                 "--eval-episodes", "1", "--eval-envs", "1", "--report-reps", "100",
                 *tiny_benchmark_overrides(**{"evaluation.enabled": "false"})]
    assert main(arguments) == 0
    out = capsys.readouterr().out
    run_dir = sweep / "runs" / "Breakout" / "seed_0"
    log = (run_dir / "benchmark.log").read_text()  # what the job printed in the Ray worker
    assert "Breakout seed 0: training 2 epochs" in log and "Breakout seed 0: finished; 1 of 1 runs" in log
    result = json.loads((run_dir / "eval" / "benchmark.json").read_text())
    assert json.loads((sweep / "scores.json").read_text()) == {"Breakout": result["Breakout"]}
    assert "1 of 1 runs finished" in out and (sweep / "report" / "report.md").is_file()
    assert ray.is_initialized()  # the launcher left the process's connection open


def test_a_task_whose_worker_dies_stops_no_other_task(ray_instance, tmp_path, capsys):
    died, finished = tmp_path / "died", tmp_path / "finished"

    def job(cfg) -> None:
        if cfg.common.seed == 0:
            died.touch()
            os._exit(1)  # the worker process ends, as one killed for its memory or lost with its node
        deadline = time.time() + 120
        while not died.exists() and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(3)  # well after the other task's death is known to the launcher
        finished.touch()

    overrides = ["--multirun", "env.id=Breakout", "common.seed=0,1", f"hydra.sweep.dir={tmp_path / 'runs'}",
                 "hydra/launcher=iris_ray", "hydra/hydra_logging=disabled", "hydra/job_logging=disabled",
                 "hydra.output_subdir=null"]
    assert run_hydra(overrides, job) == 1  # the failure fails the multirun, once every task has ended
    assert died.is_file() and finished.is_file()
    err = capsys.readouterr().err
    assert "iris_ray: 1 of 2 jobs failed:" in err and "common.seed=0" in err and "WorkerCrashedError" in err
