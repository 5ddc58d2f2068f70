"""Each environment family needs only its own extra: with ale-py made unimportable, Crafter and
env=gym train, and Atari says in one line which extra it needs; with neither ale-py nor crafter,
`iris report` still reports Atari scores and Crafter stats (registering a family imports no simulator)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("crafter")

TINY = ["common.epochs=1", "common.num_threads=1", "collection.train.num_steps=8", "logger.tensorboard=false",
        "training.tokenizer.start_after_epochs=1"]


def iris(arguments: list[str], shadow) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{shadow}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "iris_wm.cli", *arguments], env=env, capture_output=True,
                          text=True, timeout=300)


def iris_train(arguments: list[str], shadow, run_dir) -> subprocess.CompletedProcess:
    return iris(["train", *arguments, f"hydra.run.dir={run_dir}"], shadow)


def unimportable(folder, *modules: str):
    """A folder whose packages shadow the installed ones and fail to import, as where they are not installed."""
    for module in modules:
        package = folder / module
        package.mkdir(parents=True)
        (package / "__init__.py").write_text(f"raise ImportError('No module named {module} (unimportable here)')\n")
    return folder


@pytest.fixture
def without_ale(tmp_path):
    return unimportable(tmp_path / "shadow", "ale_py")


@pytest.mark.parametrize("arguments", [["env=crafter", "preset=cpu-smoke"],
                                       ["env=gym", "env.id=CartPole-v1", "env.pixels=render", "preset=cpu-smoke"]],
                         ids=["crafter", "gym"])
def test_crafter_and_gym_train_without_ale_py(arguments, without_ale, tmp_path):
    done = iris_train([*arguments, *TINY], without_ale, tmp_path / "run")
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "run" / "checkpoints" / "latest").is_file()


def test_atari_without_ale_py_names_its_extra(without_ale, tmp_path):
    done = iris_train(["env.id=Pong", "preset=cpu-smoke", *TINY], without_ale, tmp_path / "run")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "pip install 'iris-wm[atari]'" in done.stderr and not (tmp_path / "run").exists()


def test_reports_need_no_simulator(tmp_path):
    shadow = unimportable(tmp_path / "shadow", "ale_py", "crafter")
    atari = tmp_path / "atari.json"
    atari.write_text(json.dumps({"Pong": [1.0, 3.0], "Breakout": [10.0, 12.0]}))
    crafter_stats = tmp_path / "agent" / "stats.jsonl"
    crafter_stats.parent.mkdir()
    crafter_stats.write_text(json.dumps({"length": 100, "reward": 2.1, "achievement_collect_wood": 1}) + "\n")
    done = iris(["report", str(atari), "--reps", "0", "--profile-reps", "0", "--poi-reps", "0"], shadow)
    assert done.returncode == 0, done.stderr
    assert "human-normalised" in done.stdout and "IRIS" in done.stdout  # Atari's report, with its baselines
    done = iris(["report", str(crafter_stats)], shadow)
    assert done.returncode == 0, done.stderr
    assert "score (%)" in done.stdout and "Human (bundled runs)" in done.stdout  # Crafter's, with its references
