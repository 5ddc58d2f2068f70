"""A new environment family is new files: one registered here (Catch, a ball to catch with a paddle,
with its own config keys, preset part, keys and frame) trains, evaluates, reports, benchmarks and
plays through the shared code, which names no family."""

from __future__ import annotations

import functools
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from iris_wm.cli import main
from iris_wm.envs import ENV_KINDS, EnvKind, register_env_kind, tie_sides
from iris_wm.envs.vector import python_vector_env
from iris_wm.errors import IrisError
from iris_wm.training.metrics_logger import read_metrics
from tests.factories import tiny_benchmark_overrides, tiny_train_overrides

pytest.importorskip("gymnasium")

FAMILY = "catch-family"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@dataclass
class CatchSide:
    id: str | None = None
    vectorization: str | None = None
    rows: int | None = 8  # the grid's height: steps per episode + 1


@dataclass
class CatchEnvConfig:
    kind: str = FAMILY
    id: str = "Catch"
    vectorization: str = "sync"
    train: CatchSide = field(default_factory=CatchSide)
    test: CatchSide = field(default_factory=lambda: CatchSide(rows=None))

    def __post_init__(self) -> None:
        tie_sides(self, ("rows",), ("id", "vectorization"))


@functools.cache
def catch_class() -> type:
    """examples/catch.py's env class, loaded once (the module registers Catch-v0 with gymnasium)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("catch_example", EXAMPLES / "catch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Catch


def make_catch(side: CatchSide, seed: int | None = None):
    env = catch_class()()
    if seed is not None:
        env.reset(seed=seed)
    return env


def resolve_catch(id: str) -> str:
    if id.lower() != "catch":
        raise IrisError(f"unknown Catch task {id!r}: the family has one, 'Catch'")
    return "Catch"


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    presets = tmp_path_factory.mktemp("presets")
    (presets / "cpu-smoke.yaml").write_text("env:\n  train:\n    rows: 8\n")  # the family's part of the preset
    record = register_env_kind(EnvKind(
        name=FAMILY, description="Catch: move the paddle under the falling ball", config_class=CatchEnvConfig,
        make_vector_env=python_vector_env(make_catch),
        make_env=make_catch, resolve_id=resolve_catch, action_names=lambda side: ["LEFT", "STAY", "RIGHT"],
        play_keys=lambda names: {"left": "LEFT", "right": "RIGHT", "space": "STAY"},
        raw_frame=lambda env: env.frame(), presets=presets))
    yield record
    ENV_KINDS._records.pop(FAMILY)


def catch_overrides(run_dir, **extra) -> list[str]:
    overrides = tiny_train_overrides(run_dir, **{"env": FAMILY, "env.id": "catch", **extra})
    return [o for o in overrides if not o.startswith("env.test.max_episode_steps")]


@pytest.fixture(scope="module")
def run(family, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("catch_run")
    assert main(["train", *catch_overrides(run_dir)]) == 0
    return run_dir


def test_it_trains_every_phase(run):
    metrics = read_metrics(run)
    assert [m["epoch"] for m in metrics] == [1, 2, 3, 4]
    assert "imagination/return" in metrics[3] and "test_dataset/return" in metrics[3]
    assert f"kind: {FAMILY}" in (run / "config" / "train.yaml").read_text()
    episodes = sorted((run / "checkpoints" / "dataset" / "train").glob("*.npz"))
    assert episodes and all(len(np.load(path)["actions"]) == 7 for path in episodes[:-1])  # 7 steps each


def test_it_evaluates_and_reports(run, capsys):
    out = run / "eval" / "scores.json"
    assert main(["eval", str(run), "--episodes", "4", "--num-envs", "2", "--out", str(out)]) == 0
    scores = json.loads(out.read_text())
    assert scores["Catch"] == [scores["details"]["mean"]] and len(scores["details"]["episode_returns"]) == 4
    assert main(["report", f"tiny={run}", "--out", str(run / "report"), "--reps", "100"]) == 0
    (row,) = json.loads((run / "report" / "report.json").read_text())
    assert (row["env"], row["method"]) == ("Catch", "tiny") and row["mean"] == pytest.approx(scores["Catch"][0])


def test_a_checkpoint_folder_of_the_run_is_evaluated_on_the_run_s_env(run, tmp_path):
    checkpoint = run / "checkpoints" / (run / "checkpoints" / "latest").read_text().strip()
    out = tmp_path / "checkpoint.json"
    assert main(["eval", str(checkpoint), "--episodes", "2", "--num-envs", "1", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["details"]["checkpoint"].endswith(checkpoint.name)


def test_the_world_model_s_prediction_error_is_measured_in_training_and_by_eval(run, tmp_path, capsys):
    last = read_metrics(run)[-1]
    horizons = sorted(int(key.rpartition("_h")[2]) for key in last if key.startswith("prediction/frame_mse_h"))
    assert horizons[0] == 1 and 0 <= last["prediction/frame_mse_h1"] <= 1
    assert 0 <= last["prediction/token_accuracy_h1"] <= 1  # IRIS's tokens
    assert (run / "media" / "prediction_error.png").stat().st_size > 0
    out = tmp_path / "wm.json"
    assert main(["eval", str(run), "--episodes", "4", "--num-envs", "2", "--world-model", "--horizon", "3",
                 "--segments", "16", "--out", str(out)]) == 0
    prediction = json.loads(out.read_text())["details"]["prediction"]
    assert prediction["horizons"] == [1, 2, 3] and all(0 <= a <= 1 for a in prediction["reward_accuracy"])
    tokens = np.array(prediction["token_accuracy"], dtype=float)  # nan where no frame followed (episodes' ends)
    assert len(tokens) == 3 and 0 <= np.nanmin(tokens) <= np.nanmax(tokens) <= 1
    assert "horizon  frame MSE per pixel  token accuracy" in capsys.readouterr().out
    assert (tmp_path / "wm_prediction.png").is_file()
    # world models side by side: the file, and a run folder's newest eval file with a prediction in it
    other_run = tmp_path / "other_run"
    (other_run / "eval").mkdir(parents=True)
    shutil.copy(out, other_run / "eval" / "wm.json")
    assert main(["report", "--prediction", f"file={out}", f"run={other_run}", "--out", str(tmp_path / "cmp")]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["World", "model", "horizon"] and sum(line.startswith("run ") for line in table) == 3
    assert (tmp_path / "cmp" / "figures" / "prediction_error.png").stat().st_size > 0
    assert main(["report", "--prediction", str(run / "config")]) == 2  # no eval file with a prediction there
    # on given episodes (the run's training episodes) instead of those played; none there is one line
    given = tmp_path / "given.json"
    assert main(["eval", str(run), "--episodes", "1", "--num-envs", "1", "--world-model", "--horizon", "3",
                 "--segments", "16", "--world-model-episodes", str(run / "checkpoints" / "dataset" / "train"),
                 "--out", str(given)]) == 0
    measured = json.loads(given.read_text())["details"]["prediction"]
    assert measured["segments"][0] > 0 and measured["frame_mse"] != prediction["frame_mse"]  # other episodes
    assert main(["eval", str(run), "--world-model", "--world-model-episodes", str(tmp_path)]) == 2


def test_the_random_policy_is_evaluated_beside_the_run_and_reported_apart(run, tmp_path):
    def random_returns(seed: int) -> list[float]:
        out = tmp_path / f"random_{seed}.json"
        assert main(["eval", "--policy", "random", str(run), "--episodes", "40", "--num-envs", "4",
                     "--seed", str(seed), "--out", str(out)]) == 0
        details = json.loads(out.read_text())["details"]
        assert details["policy"] == "random" and details["checkpoint"] == "random policy"
        return details["episode_returns"]

    returns = random_returns(0)
    assert returns == random_returns(0) and returns != random_returns(1)  # seeded
    assert -1 < np.mean(returns) < 0.2  # Catch: +1 caught, -1 missed; a random paddle misses most balls
    assert main(["eval", "--policy", "random", str(run), "--episodes", "2", "--num-envs", "1"]) == 0
    (written,) = (run / "random_policy").glob("eval_*.json")  # beside the run's evaluations, not in eval/
    assert main(["report", f"tiny={run}", f"random={written}", "--out", str(tmp_path / "report"), "--reps", "0"]) == 0
    rows = json.loads((tmp_path / "report" / "report.json").read_text())
    assert sorted((row["method"], row["runs"]) for row in rows) == [("random", 1), ("tiny", 1)]


@pytest.mark.parametrize("mode", ["-r", "-a", "-e"])
def test_it_plays_headless(run, mode, tmp_path):
    out = tmp_path / "catch.mp4"
    assert main(["play", str(run), mode, "--headless", "--steps", "4", "--out", str(out), "--device", "cpu"]) == 0
    assert out.stat().st_size > 0


def test_it_benchmarks(family, tmp_path):
    sweep = tmp_path / "sweep"
    overrides = [o for o in tiny_benchmark_overrides() if not o.startswith("env.test.max_episode_steps")]
    assert main(["benchmark", "--env", FAMILY, "--games", "Catch", "--seeds", "1", "--out", str(sweep),
                 "--eval-episodes", "2", "--eval-envs", "1", *overrides]) == 0
    assert len(json.loads((sweep / "scores.json").read_text())["Catch"]) == 1
