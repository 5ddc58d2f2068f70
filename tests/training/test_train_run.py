"""``iris train`` / ``iris resume`` / ``iris eval`` end to end on a real Atari game, tiny networks."""

import json
import math

import pytest

from iris_wm.cli import main
from iris_wm.data.dataset import EpisodeDataset
from iris_wm.training.metrics_logger import read_metrics
from tests.factories import assert_metrics_equal_fixture, fixture_metrics, kill_9_in_second_epoch, tiny_train_overrides

pytest.importorskip("ale_py")

@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    assert main(["train", *tiny_train_overrides(run_dir)]) == 0
    return run_dir


def test_a_run_leaves_a_complete_run_folder(finished_run):
    run = finished_run
    assert (run / "config" / "train.yaml").is_file() and (run / ".hydra" / "config.yaml").is_file()
    assert (run / "checkpoints" / "latest").read_text().strip() == "epoch_0004"
    for name in ("agent.safetensors", "agent.yaml", "optimizers.pt", "trainer_state.pt"):
        assert (run / "checkpoints" / "epoch_0004" / name).is_file()
    assert sorted(p.name for p in (run / "media" / "reconstructions").iterdir()) == ["epoch_0002.png", "epoch_0004.png"]
    for kind in ("train", "test", "imagination"):
        assert any((run / "media" / "episodes" / kind).glob("*.mp4")), kind
    assert (run / "media" / "learning_curves.png").is_file()
    assert any((run / "tensorboard").iterdir())
    dataset = EpisodeDataset.load(run / "checkpoints" / "dataset" / "train", "train")
    assert dataset.num_steps == 4 * 40

    metrics = fixture_metrics(run)
    assert [m["epoch"] for m in metrics] == [1, 2, 3, 4]
    assert "tokenizer/train/total_loss" in metrics[1] and "world_model/train/loss_obs" not in metrics[1]
    assert "world_model/train/loss_obs" in metrics[2] and "actor_critic/train/loss_values" in metrics[3]
    assert "test_dataset/return" in metrics[1] and "imagination/return" in metrics[3]
    assert "world_model/eval/loss_obs" in metrics[3] and "tokenizer/eval/total_loss" in metrics[1]
    # an untrained world model predicts frame tokens near-uniformly over the codebook (ln V)
    assert abs(metrics[2]["world_model/train/loss_obs"] - math.log(512)) < 1.0


def test_metrics_are_identical_to_those_recorded_before_agent_kinds_became_plug_ins(finished_run):
    """The fixture holds this run's metrics (the same overrides and seed) as the code computed them
    before the trainer, collector and evaluator went through the agent-kind contract (commit
    2473a41): the refactor changed no number. Every key and every count is equal; floats agree to
    float32 rounding, which differs between CPUs (their kernels' vector widths change the order of
    sums): on another machine than the fixture's, they differ in the seventh digit."""
    assert_metrics_equal_fixture(finished_run, "iris_tiny_run_metrics.jsonl")


def test_same_seed_gives_identical_metrics_with_or_without_the_frame_cache(finished_run, tmp_path):
    # The finished run cached tokens and reconstructions; this one recomputes them at every step.
    assert main(["train", *tiny_train_overrides(tmp_path, **{"training.cache_tokens": "false"})]) == 0
    assert fixture_metrics(tmp_path) == fixture_metrics(finished_run)


def test_eval_writes_scores_in_the_published_format(finished_run, capsys):
    out = finished_run / "eval" / "scores.json"
    assert main(["eval", str(finished_run), "--episodes", "2", "--num-envs", "2", "--out", str(out)]) == 0
    scores = json.loads(out.read_text())
    assert len(scores["Breakout"]) == 1 and scores["details"]["episodes"] == 2
    assert len(scores["details"]["episode_returns"]) == 2
    assert "Breakout: mean return" in capsys.readouterr().out


def test_kill_9_mid_epoch_then_resume_loses_no_episode(tmp_path):
    last_epoch = kill_9_in_second_epoch(tiny_train_overrides(tmp_path, epochs=30), tmp_path)
    dataset_dir = tmp_path / "checkpoints" / "dataset" / "train"
    before = EpisodeDataset.load(dataset_dir, "train")
    finished_before = {i: len(before.get_episode(i)) for i in before.episode_ids if before.get_episode(i).finished}

    assert main(["resume", str(tmp_path), f"common.epochs={last_epoch + 1}"]) == 0

    after = EpisodeDataset.load(dataset_dir, "train")
    for episode_id, length in finished_before.items():
        assert len(after.get_episode(episode_id)) == length  # every completed episode is still there, whole
    assert after.num_steps >= before.num_steps + 40
    epochs = [m["epoch"] for m in read_metrics(tmp_path)]
    assert epochs == list(range(1, last_epoch + 2))  # logs continue after the last completed epoch
    assert (tmp_path / "checkpoints" / "latest").read_text().strip() == f"epoch_{last_epoch + 1:04d}"


@pytest.mark.parametrize(("args", "message"), [
    (["train", "env.id=Pongg"], "did you mean Pong"),
    (["train", "env.id=Pong", "training.learning_rat=3"], "learning_rat"),
    (["train", "env.id=Pong", "common.epochs=many"], "epochs"),
    (["train", "preset=cpu-smok", "env.id=Pong"], "cpu-smok"),
    (["train", "preset=cpu-smoke"], "env.id"),
    (["train", "env.id=Pong", "+foo=1"], "foo"),
    (["resume", "/nonexistent/run"], "does not exist"),
])
def test_bad_input_is_one_line_and_exit_code_2(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not any(tmp_path.iterdir())  # nothing was created


def test_resume_of_a_folder_that_is_not_a_run_is_refused(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["resume", str(tmp_path)]) == 2
    assert "not an iris-wm run folder" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_corrupt_checkpoint_is_reported_on_resume_and_left_alone(finished_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(finished_run, run)
    weights = run / "checkpoints" / "epoch_0004" / "agent.safetensors"
    weights.write_bytes(weights.read_bytes()[:5000])
    damaged = weights.read_bytes()
    assert main(["resume", str(run), "common.epochs=5"]) == 2
    err = capsys.readouterr().err.strip()
    assert "corrupt or truncated" in err and len(err.splitlines()) == 1
    assert weights.read_bytes() == damaged and (run / "checkpoints" / "latest").read_text().strip() == "epoch_0004"


def test_a_sweep_makes_one_run_folder_per_job(tmp_path):
    overrides = [o for o in tiny_train_overrides(tmp_path, epochs=1) if not o.startswith("hydra.run.dir")]
    assert main(["train", "-m", *overrides, "common.seed=0,1", f"hydra.sweep.dir={tmp_path}"]) == 0
    for job in ("0", "1"):
        assert (tmp_path / job / "checkpoints" / "latest").read_text().strip() == "epoch_0001"
    seeds = [(tmp_path / job / "config" / "train.yaml").read_text() for job in ("0", "1")]
    assert "seed: 0" in seeds[0] and "seed: 1" in seeds[1]
