"""Bad input and filesystem faults, for every subcommand: one line of error naming the problem,
exit code 2, no traceback, before any work, and nothing already on disk changed."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from iris_wm.agents import create_model
from iris_wm.agents.delta_iris.original import to_original_names as delta_iris_file
from iris_wm.agents.iris.original import to_original_names as iris_file
from iris_wm.checkpoint import load_agent
from iris_wm.cli import main
from tests.agents.delta_iris.tiny import tiny_config as tiny_delta_config
from tests.factories import folder_hash, tiny_train_overrides

pytest.importorskip("ale_py")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A finished one-epoch Breakout run, with its scores file, a plain file, and its agent and a tiny
    Δ-IRIS agent in their authors' checkpoint formats beside it."""
    root = tmp_path_factory.mktemp("bad_input")
    run_dir = root / "run"
    assert main(["train", *tiny_train_overrides(run_dir, epochs=1)]) == 0
    torch.save(iris_file(load_agent(run_dir, device="cpu")), root / "iris_last.pt")
    torch.save(delta_iris_file(create_model("delta-iris", 4, "cpu", tiny_delta_config())), root / "delta_last.pt")
    (root / "a_file").write_text("not a folder")
    (root / "a_folder").mkdir()
    (root / "scores.json").write_text('{"Breakout": [1.0]}')
    return run_dir


# (arguments, a phrase the error must contain); RUN, ROOT and FILE are filled in from the fixture.
CASES = [
    # train: values out of range, relationships, tied keys, unknown keys and choices
    (["train", "env.id=Pong", "common.epochs=0"], "common.epochs=0 is out of range"),
    (["train", "env.id=Pong", "common.epochs=-1"], "common.epochs=-1 is out of range"),
    (["train", "env.id=Pong", "training.tokenizer.steps_per_epoch=0"], "steps_per_epoch=0"),
    (["train", "env.id=Pong", "training.world_model.steps_per_epoch=-3"], "steps_per_epoch=-3"),
    (["train", "env.id=Pong", "collection.train.num_steps=0"], "num_steps=0"),
    (["train", "env.id=Pong", "collection.train.num_steps=-5"], "num_steps=-5"),
    (["train", "env.id=Pong", "collection.train.num_steps=null"], "exactly one of num_steps and num_episodes"),
    (["train", "env.id=Pong", "training.actor_critic.batch_num_samples=0"], "batch_num_samples=0"),
    (["train", "env.id=Pong", "collection.train.num_envs=0"], "num_envs=0"),
    (["train", "env.id=Pong", "evaluation.every=0"], "evaluation.every=0"),
    (["train", "env.id=Pong", "training.learning_rate=-1e-4"], "it must be positive"),
    (["train", "env.id=Pong", "training.world_model.max_grad_norm=0"], "max_grad_norm=0"),
    (["train", "env.id=Pong", "agent.world_model.num_heads=3"], "not divisible"),
    (["train", "env.id=Pong", "collection.train.epsilon=2"], "epsilon=2.0 is out of range"),
    (["train", "env.id=Pong", "collection.test.temperature=0"], "temperature=0.0 is out of range"),
    (["train", "env.id=Pong", "agent.actor_critic_loss.gamma=1.5"], "gamma=1.5"),
    (["train", "env.id=Pong", "agent.world_model.attn_pdrop=-0.1"], "attn_pdrop"),
    (["train", "env.id=Pong", "agent.tokenizer.vocab_size=0"], "vocab_size=0"),
    (["train", "env.id=Pong", "agent.tokenizer.autoencoder.ch=16"], "must be multiples of 32"),
    (["train", "env.id=Pong", "common.device=tpu"], "unknown device"),
    pytest.param(["train", "env.id=Pong", "common.device=cuda"], "CUDA is not available",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is there")),
    (["train", "env.id=Pong", "dataset.max_ram_usage=lots"], "max_ram_usage"),
    (["train", "env.id=Pong", "logger.wandb_mode=sometimes"], "wandb_mode"),
    (["train", "env.id=Pong", "env.test.size=32"], "tied"),
    (["train", "env.id=Pong", "agent.actor_critic_loss.imagine_horizon=21"], "exceeds the world model's context"),
    (["train", "env.id=Pong", "agent.tokenizer.perceptual_weights_path=random"], "untrained VGG16"),
    (["train", "env.id=Pongg"], "did you mean Pong"),
    (["train", "env.id=Pong", "training.learning_rat=3"], "learning_rat"),
    (["train", "env.id=Pong", "+foo=1"], "foo"),
    (["train", "env.id=Pong", "preset=cpu-smok"], "cpu-smok"),
    (["train", "env.id=Pong", "agent=dreamer"], "dreamer"),
    (["train", "preset=cpu-smoke"], "env.id is required"),
    (["train", "agent=iris-lm", "env.id=Pong"], "agent.world_model.model_name_or_path is required"),
    (["train", "agent=iris-lm", "env.id=Pong", "agent.world_model.model_name_or_path=ROOT/missing"],
     "could not be loaded"),
    (["train", "agent=iris-lm", "env.id=Pong", "agent.world_model.model_name_or_path=ROOT/a_folder",
      "agent.world_model.finetune=half"], "finetune=half is out of range"),
    (["train", "env.id=Pong", "agent.speed.token_pass=graphs"], "agent.speed.token_pass=graphs is out of range"),
    (["train", "-m", "env.id=Pong,Pongg"], "sweep job 1 (env.id=Pongg)"),
    (["train", "env=crafter", "env.id=Pong"], "unknown Crafter task 'Pong'"),
    (["train", "env=atari", "env.id=crafter"], "unknown Atari game 'crafter'"),
    (["train", "env=minecraft", "env.id=Pong"], "minecraft"),
    (["train", "-m", "env.id=Pong", "common.epochs=3,0"], "sweep job 1 (common.epochs=0)"),
    # train, Δ-IRIS: a Crafter preset with an Atari game, negative priorities, rollouts beyond the context
    (["train", "agent=delta-iris", "preset=delta-crafter", "env.id=Pong"],
     "preset=delta-crafter is made for env=crafter, but 'Pong' is a game of env=atari; choose preset=delta-atari"),
    (["train", "agent=delta-iris", "env.id=Pong", "training.world_model.priority_alpha=-1"],
     "training.world_model.priority_alpha=-1.0 is out of range: it must be at least 0"),
    (["train", "agent=delta-iris", "env.id=Pong", "agent.actor_critic_loss.imagine_horizon=21"],
     "5 + 21 + 1 = 27 frames do not fit the world model's context (agent.world_model.transformer.max_blocks=26); "
     "lower agent.actor_critic_loss.imagine_horizon"),
    pytest.param(["train", "preset=delta-cpu-smoke", "env.id=Pong", "training.bf16_autocast=on",
                  "hydra.run.dir=ROOT/bf16_run"], "training.bf16_autocast=on needs a CUDA device",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is there")),
    (["train", "env.id=Pong", "hydra.run.dir=FILE"], "is a file"),
    (["train", "env.id=Pong", "hydra.run.dir=RUN"], "is not empty"),
    # resume: what would change the run, bad values, folders that are not runs
    (["resume", "RUN", "env.id=Pong"], "env.id would change what the run is"),
    (["resume", "RUN", "agent.world_model.num_layers=3"], "would change what the run is"),
    (["resume", "RUN", "training.learning_rate=1e-3"], "would change what the run is"),
    (["resume", "RUN", "common.epochs=0"], "common.epochs=0 is out of range"),
    (["resume", "RUN", "common.epoch=5"], "epoch"),
    (["resume", "ROOT/missing"], "does not exist"),
    (["resume", "ROOT/a_folder"], "not an iris-wm run folder"),
    # eval
    (["eval", "RUN", "--temperature", "0"], "--temperature must be positive"),
    (["eval", "RUN", "--temperature", "-1"], "--temperature must be positive"),
    (["eval", "RUN", "--episodes", "0"], "at least 1"),
    (["eval", "RUN", "--out", "ROOT/a_folder"], "is a folder"),
    (["eval", "RUN", "--out", "FILE/scores.json"], "is a file"),
    (["eval", "RUN", "--env", "Pongg"], "did you mean Pong"),
    (["eval", "RUN", "--env", "Pong"], "actions"),
    (["eval", "ROOT/missing"], "does not exist"),
    (["eval", "RUN", "--device", "tpu"], "unknown device"),
    # report, convert, play
    (["report", "ROOT/missing.json"], "missing.json"),
    (["report", "ROOT/scores.json", "--out", "FILE"], "is a file"),
    (["convert", "iris", "ROOT/missing.pt", "ROOT/out"], "is not a file"),
    (["convert", "iris", "FILE", "ROOT/out"], "FILE"),
    (["convert", "iris", "ROOT/scores.json", "FILE"], "is a file"),
    (["convert", "dreamer", "FILE", "ROOT/out"], "unknown agent kind 'dreamer'"),
    (["convert", "iris", "ROOT/delta_last.pt", "ROOT/out"],
     "ROOT/delta_last.pt is an authors' delta-iris checkpoint, not iris; run iris convert delta-iris"),
    (["convert", "delta-iris", "ROOT/iris_last.pt", "ROOT/out"],
     "ROOT/iris_last.pt is an authors' iris checkpoint, not delta-iris; run iris convert iris"),
    (["play", "RUN", "-r", "--headless", "--out", "ROOT/a_folder"], "is a folder"),
    (["play", "ROOT/missing", "--headless"], "does not exist"),
    (["play", "RUN", "--headless", "--temperature", "0"], "--temperature"),
]


def fill(arguments: list[str], run_dir: Path) -> list[str]:
    root = run_dir.parent
    places = {"RUN": str(run_dir), "ROOT": str(root), "FILE": str(root / "a_file")}
    out = []
    for argument in arguments:
        for name, value in places.items():
            argument = argument.replace(name, value)
        out.append(argument)
    return out


def case_id(case) -> str:
    return " ".join((case.values if hasattr(case, "values") else case)[0])


@pytest.mark.parametrize(("arguments", "message"), CASES, ids=[case_id(c) for c in CASES])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(arguments, message, run, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # where train would make outputs/
    before = folder_hash(run.parent)
    code = main(fill(arguments, run))
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert fill([message], run)[0] in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert folder_hash(run.parent) == before
    assert not any(tmp_path.iterdir())


def test_enough_cases():
    commands = {(case.values if hasattr(case, "values") else case)[0][0] for case in CASES}
    assert len(CASES) >= 40 and commands == {"train", "resume", "eval", "report", "convert", "play"}


def test_a_crafter_without_its_api_is_one_line(tmp_path):
    """A crafter package that is not Crafter 1.8 (here: one with no Env) makes env=crafter unavailable."""
    fake = tmp_path / "crafter"
    fake.mkdir()
    (fake / "__init__.py").write_text("__version__ = '0.1'\n")
    (fake / "constants.py").write_text("actions = ['noop']\nachievements = []\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run([sys.executable, "-m", "iris_wm.cli", "train", "env=crafter"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "lacks Crafter 1.8's API" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crafter"]


def test_an_error_after_the_run_folder_was_made_leaves_nothing(tmp_path, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # fails when the trainer opens its logs
    run_dir = tmp_path / "run"
    assert main(["train", *tiny_train_overrides(run_dir, epochs=1)]) == 2
    err = capsys.readouterr().err.strip()
    assert "logger.tensorboard=false" in err and len(err.splitlines()) == 1
    assert not run_dir.exists()


# A collection that raises, in a process of its own: Hydra leaves its logging pointed at the failed job's streams.
BROKEN_COLLECTION = """
import sys
from iris_wm.cli import main
from iris_wm.training.collector import Collector

def broken(*args, **kwargs):
    raise RuntimeError("a bug in collection")

Collector.collect = broken
sys.exit(main(["train", *sys.argv[1:]]))
"""


def test_a_bug_before_the_first_checkpoint_shows_its_traceback_and_leaves_nothing(tmp_path):
    run_dir = tmp_path / "run"
    done = subprocess.run([sys.executable, "-c", BROKEN_COLLECTION, *tiny_train_overrides(run_dir, epochs=1)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and "RuntimeError: a bug in collection" in done.stderr
    assert not run_dir.exists()


def test_a_filesystem_fault_on_resume_is_one_line(run, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    (copy / "metrics.jsonl").unlink()
    (copy / "metrics.jsonl").mkdir()  # where the log should be, a folder
    files = lambda: {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()}  # noqa: E731
    before = files()
    assert main(["resume", str(copy), "common.epochs=2"]) == 2
    err = capsys.readouterr().err.strip()
    assert "Is a directory" in err and "metrics.jsonl" in err and len(err.splitlines()) == 1
    after = files()
    assert {p: after.get(p) for p in before} == before  # every file there before is as it was
    assert not (copy / "checkpoints" / "epoch_0002").exists()


def test_eval_prints_its_scores_when_they_cannot_be_written(run, tmp_path, monkeypatch, capsys):
    def full_disk(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)  # the atomic write's last step fails
    out = tmp_path / "scores.json"
    assert main(["eval", str(run), "--episodes", "1", "--num-envs", "1", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert "Breakout: mean return" in captured.out and "returns:" in captured.out
    assert "No space left on device" in captured.err and len(captured.err.strip().splitlines()) == 1
    assert not out.exists() and not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


def test_checkpoints_follow_the_umask(run):
    weights = run / "checkpoints" / "epoch_0001" / "agent.safetensors"
    umask = os.umask(0o022)
    os.umask(umask)
    assert weights.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_non_finite_loss_stops_the_run_before_its_checkpoint(tmp_path, monkeypatch, capsys):
    from iris_wm.agents.iris.tokenizer import Tokenizer

    compute_loss, calls = Tokenizer.compute_loss, []

    def poisoned(self, batch):
        losses = compute_loss(self, batch)
        calls.append(self.training)
        # epoch 3's second training step (the tokenizer trains two steps per epoch from epoch 2)
        if calls.count(True) == 4 and self.training:
            losses.total = losses.total * float("nan")
        return losses

    monkeypatch.setattr(Tokenizer, "compute_loss", poisoned)
    assert main(["train", *tiny_train_overrides(tmp_path, epochs=4)]) == 2
    err = capsys.readouterr().err.strip()
    assert "the tokenizer loss or gradient became non-finite at epoch 3, step 2 of 2" in err
    assert len(err.splitlines()) == 1
    assert (tmp_path / "checkpoints" / "latest").read_text().strip() == "epoch_0002"
    from safetensors.torch import load_file

    weights = load_file(tmp_path / "checkpoints" / "epoch_0002" / "agent.safetensors")
    assert all(torch.isfinite(tensor).all() for tensor in weights.values())
