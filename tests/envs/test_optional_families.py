"""Each environment family needs only its own extra: with ale-py made unimportable, Crafter and
env=gym train, and Atari says in one line which extra it needs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("crafter")

TINY = ["common.epochs=1", "common.num_threads=1", "collection.train.num_steps=8", "logger.tensorboard=false",
        "training.tokenizer.start_after_epochs=1"]


def iris_train(arguments: list[str], without_ale, run_dir) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{without_ale}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "iris_wm.cli", "train", *arguments, f"hydra.run.dir={run_dir}"],
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def without_ale(tmp_path):
    """A folder whose ale_py shadows the installed one and fails to import, as where it is not installed."""
    package = tmp_path / "shadow" / "ale_py"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("raise ImportError('No module named ale_py (unimportable in this test)')\n")
    return tmp_path / "shadow"


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
