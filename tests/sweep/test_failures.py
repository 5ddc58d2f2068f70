"""A run that fails for a real reason (a regular file where its result's folder must go) while the
others succeed: its failure is retried up to ``--max-retries`` times and then left as failed, the
others' scores are kept, a second launch spends no job on any of them, and once the cause is gone a
launch with a higher ``--max-retries`` finishes exactly the failed runs. The runs evaluate a tiny
agent (``--checkpoint``): a job's retries and records are the same whether it trains or not."""

import argparse
import json
import re

import pytest

import iris_wm
from iris_wm.cli import main
from iris_wm.commands import benchmark
from iris_wm.run_folder import RunFolder
from iris_wm.sweep.records import read_record
from iris_wm.sweep.spec import open_sweep
from tests.factories import folder_hash, tiny_iris_config

pytest.importorskip("ale_py")

GAMES, SEEDS = ("Pong", "Qbert"), (0, 1)  # both with 6 actions: one agent plays both
FAULTY = (("Pong", 1), ("Qbert", 0))  # not a product of games and seeds: no sweep of games x seeds is exactly these


def test_failing_runs_are_retried_given_up_and_finished_later_without_touching_the_others(tmp_path, capsys):
    agent = iris_wm.save_agent(iris_wm.create_model("iris", num_actions=6, device="cpu", config=tiny_iris_config()),
                               tmp_path / "agent")
    sweep = tmp_path / "sweep"

    def arguments(max_retries: int) -> list[str]:
        return ["benchmark", "--games", ",".join(GAMES), "--seeds", str(len(SEEDS)), "--checkpoint", str(agent),
                "--out", str(sweep), "--max-retries", str(max_retries), "--eval-episodes", "1", "--eval-envs", "1",
                "--report-reps", "100", "env.test.max_episode_steps=60"]

    # the sweep folder as the command makes it, then the fault: each faulty run's eval/ is a regular file
    parser = argparse.ArgumentParser()
    benchmark.add_arguments(parser)
    open_sweep(sweep, benchmark.build_spec(parser.parse_args(arguments(1)[1:]))[0])
    runs = {(game, seed): sweep / "runs" / game / f"seed_{seed}" for game in GAMES for seed in SEEDS}
    for key in FAULTY:
        runs[key].mkdir(parents=True)
        (runs[key] / "eval").write_text("in the way of eval/benchmark.json")

    # 1. the good runs finish; each faulty one fails 1 + --max-retries times and is given up
    assert main(arguments(1)) == 1  # not reported: runs are not finished
    out = capsys.readouterr().out
    good = [key for key in runs if key not in FAULTY]
    expected: dict[str, list[float]] = {}
    for game, seed in good:
        result = RunFolder(runs[game, seed]).benchmark_result
        expected.setdefault(game, []).append(json.loads(result.read_text())[game][0])
    assert json.loads((sweep / "scores.json").read_text()) == expected  # the published format, nothing else
    assert json.loads((sweep / "scores_details.json").read_text())["seeds"] == {"Pong": [0], "Qbert": [1]}
    for game, seed in FAULTY:
        record = read_record(sweep, game, seed)
        assert (record.attempts, record.failures, record.gave_up) == (2, 2, True)
        assert "FileExistsError" in record.error
        assert (runs[game, seed] / "benchmark.log").read_text().count("Traceback") == 2
        assert f"{game} seed {seed}: failed (FileExistsError" in out and "giving up" in out
    assert "with a higher --max-retries" in out

    assert main(["benchmark", "status", str(sweep)]) == 0
    table = capsys.readouterr().out
    for game, seed in FAULTY:
        assert re.search(rf"{game} seed {seed}\s+failed \(FileExistsError", table), table
    assert table.count(" finished ") == len(good) and table.splitlines()[-1] == "2 of 4 runs finished"

    # 2. the same command: every run is finished or given up, so no job is launched
    before = {key: folder_hash(run) for key, run in runs.items()}
    assert main(arguments(1)) == 1
    out = capsys.readouterr().out
    assert "launching 0 runs\n" in out
    assert {key: folder_hash(run) for key, run in runs.items()} == before

    # 3. the cause removed, a higher --max-retries: only the failed runs are launched, and finish
    for key in FAULTY:
        (runs[key] / "eval").unlink()
    assert main(arguments(3)) == 0
    out = capsys.readouterr().out
    assert "launching 2 runs: Pong/seed_1, Qbert/seed_0" in out
    assert "finished earlier, skipped" not in out  # no job was dispatched for a finished run
    assert all(folder_hash(runs[key]) == before[key] for key in good)
    for game, seed in FAULTY:
        record = read_record(sweep, game, seed)
        assert (record.attempts, record.failures, record.gave_up, record.error) == (3, 2, False, None)
    scores = json.loads((sweep / "scores.json").read_text())
    assert {game: len(values) for game, values in scores.items()} == {"Pong": 2, "Qbert": 2}
    assert json.loads((sweep / "scores_details.json").read_text())["seeds"] == {"Pong": [0, 1], "Qbert": [0, 1]}
    assert "4 of 4 runs finished" in out and (sweep / "report" / "report.md").is_file()
