"""examples/ppo_in_world_model.py on a tiny run for a few updates: PPO trains inside the run's world
model, then plays the real game beside the random policy; bad input is one line and exit code 2."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from iris_wm import create_model
from iris_wm.data.episode import Episode
from tests.factories import tiny_iris_config, write_run_folder

pytest.importorskip("ale_py")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ppo_in_world_model.py"


def load_example():
    spec = importlib.util.spec_from_file_location("ppo_in_world_model", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A Breakout run folder with a tiny IRIS agent and a few stored episodes (no training)."""
    torch.manual_seed(0)
    agent = create_model("iris", num_actions=4, device="cpu", config=tiny_iris_config())
    rng = np.random.default_rng(0)
    episodes = [Episode(rng.integers(0, 256, (length, 3, 64, 64), dtype=np.uint8), actions=rng.integers(0, 4, length),
                        rewards=np.zeros(length, np.float32), ends=np.eye(length, dtype=np.int64)[-1])
                for length in (9, 6)]
    return write_run_folder(tmp_path_factory.mktemp("run"), "env:\n  id: Breakout\n", agent, episodes)


def test_ppo_trains_in_the_world_model_and_plays_the_real_game(run, capsys):
    torch.set_num_threads(1)
    example = load_example()
    results = example.main([str(run), "--total-steps", "96", "--num-envs", "4", "--num-steps", "8",
                            "--num-minibatches", "2", "--update-epochs", "2", "--real-episodes", "1",
                            "--real-max-steps", "30", "--device", "cpu"])
    out = capsys.readouterr().out
    assert out.count("update ") == 3 and "return in the world model" in out
    assert results["imagined_episodes"] > 0 and math.isfinite(results["imagined_return"])
    assert math.isfinite(results["real_return"]) and math.isfinite(results["random_real_return"])


def test_bad_input_is_one_line_and_exit_code_2(tmp_path):
    result = subprocess.run([sys.executable, str(EXAMPLE), str(tmp_path / "missing")], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "is not an iris-wm run folder" in result.stderr
