"""One writer per run folder, unique new folders, safe resume overrides, and stopping on SIGTERM /
SIGINT at a safe point with nothing lost."""

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from iris_wm.cli import main
from iris_wm.data.dataset import EpisodeDataset
from iris_wm.run_folder import new_run_folder
from iris_wm.training.metrics_logger import read_metrics
from tests.factories import folder_hash, tiny_train_overrides

pytest.importorskip("ale_py")

HOLD_LOCK = "import sys, time; from iris_wm.run_folder import lock_run_folder; " \
            "lock_run_folder(sys.argv[1]); print('locked', flush=True); time.sleep(60)"


@pytest.fixture
def run(tmp_path):
    run_dir = tmp_path / "run"
    assert main(["train", *tiny_train_overrides(run_dir, epochs=2)]) == 0
    return run_dir


def finished_episodes(run_dir) -> dict[int, int]:
    dataset = EpisodeDataset.load(run_dir / "checkpoints" / "dataset" / "train", "train")
    return {i: len(dataset.get_episode(i)) for i in dataset.episode_ids if dataset.get_episode(i).finished}


def test_a_second_writer_is_refused_and_a_dead_ones_lock_never_blocks(run, capsys):
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = folder_hash(run)
        assert main(["resume", str(run), "common.epochs=3"]) == 2
        err = capsys.readouterr().err.strip()
        assert f"in use by another iris process (pid {holder.pid})" in err and len(err.splitlines()) == 1
        assert folder_hash(run) == before  # the dataset and everything else intact
    finally:
        holder.kill()
        holder.wait()
    assert str(holder.pid) in (run / ".lock").read_text()  # the dead holder's pid is still written there
    assert main(["resume", str(run), "common.epochs=3"]) == 0
    assert [m["epoch"] for m in read_metrics(run)] == [1, 2, 3]


def test_new_run_folders_never_collide(tmp_path):
    folders = [new_run_folder(tmp_path) for _ in range(3)]  # within the same second
    assert len(set(folders)) == 3 and all(f.is_dir() for f in folders)
    assert folders[1].name == f"{folders[0].name}-2"


def saved_with_old_keys(run) -> None:
    """The run's config as a run made before keys were renamed saved it."""
    config = yaml.safe_load((run / "config" / "train.yaml").read_text())
    config["training"]["should"] = config["training"].pop("enabled")
    config["evaluation"]["should"] = config["evaluation"].pop("enabled")
    config["collection"]["path_to_static_dataset"] = config["collection"].pop("offline_dataset")
    (run / "config" / "train.yaml").write_text(yaml.safe_dump(config))


def test_a_run_saved_with_renamed_keys_resumes_and_an_old_key_on_the_command_line_names_the_new(run, capsys):
    saved_with_old_keys(run)
    before = folder_hash(run)
    assert main(["resume", str(run), "common.epochs=3", "evaluation.should=false"]) == 2
    assert capsys.readouterr().err.strip() == ("iris resume: error: evaluation.should was renamed evaluation.enabled; "
                                               "write evaluation.enabled=...")
    assert folder_hash(run) == before
    assert main(["resume", str(run), "common.epochs=3"]) == 0
    config = yaml.safe_load((run / "config" / "train.yaml").read_text())
    assert config["training"]["enabled"] is True and "should" not in config["training"]
    assert [m["epoch"] for m in read_metrics(run)] == [1, 2, 3]


def test_resume_records_accepted_overrides_and_says_when_there_is_nothing_to_do(run, capsys):
    assert main(["resume", str(run), "common.epochs=2"]) == 0
    assert "has completed 2 epochs, and common.epochs=2: nothing to do" in capsys.readouterr().out
    assert [m["epoch"] for m in read_metrics(run)] == [1, 2]
    assert main(["resume", str(run), "common.epochs=3", "evaluation.every=3"]) == 0
    config = yaml.safe_load((run / "config" / "train.yaml").read_text())
    assert config["common"]["epochs"] == 3 and config["evaluation"]["every"] == 3
    history = yaml.safe_load((run / "config" / "resumes.yaml").read_text())
    assert history == [{"from_epoch": 3, "overrides": ["common.epochs=3", "evaluation.every=3"]}]


@pytest.mark.parametrize("where", ["collect", "world_model", "evaluate"])
def test_sigterm_in_any_phase_stops_safely_and_resume_loses_no_episode(where, tmp_path, monkeypatch, capsys):
    """The signal arrives during epoch 2's phase ``where`` (every phase and an evaluation run in
    epoch 2 here). The training phases share one code path (``Trainer.train_phase``): one of them
    stands for the three."""
    from iris_wm.training.collector import Collector
    from iris_wm.training.evaluator import Evaluator
    from iris_wm.training.trainer import Trainer

    def signal_in(cls, method, matches):
        original = getattr(cls, method)

        def with_signal(self, *args, **kwargs):
            if matches(self, *args):
                os.kill(os.getpid(), signal.SIGTERM)
            return original(self, *args, **kwargs)
        monkeypatch.setattr(cls, method, with_signal)

    if where == "collect":
        signal_in(Collector, "collect",
                  lambda self, agent, config, epoch: epoch == 2 and self.dataset.name == "train_dataset")
    elif where == "evaluate":
        signal_in(Evaluator, "evaluate", lambda self, epoch: epoch == 2)
    else:
        signal_in(Trainer, "train_phase", lambda self, phase, epoch: epoch == 2 and phase.name == where)
    every_phase_from_epoch_2 = {f"training.{phase}.start_after_epochs": 1
                                for phase in ("tokenizer", "world_model", "actor_critic")}
    assert main(["train", *tiny_train_overrides(tmp_path, epochs=3, **every_phase_from_epoch_2)]) == 143
    assert f"interrupted (SIGTERM) after epoch 1; continue with `iris resume {tmp_path}`" in capsys.readouterr().out
    assert (tmp_path / "checkpoints" / "latest").read_text().strip() == "epoch_0001"
    before = finished_episodes(tmp_path)
    assert before  # Breakout's train env ends an episode at each lost life: some end in epoch 1
    monkeypatch.undo()
    assert main(["resume", str(tmp_path)]) == 0
    after = finished_episodes(tmp_path)
    assert all(after[i] == length for i, length in before.items())  # every finished episode kept, whole
    assert [m["epoch"] for m in read_metrics(tmp_path)] == [1, 2, 3]


def test_sigterm_to_a_training_process(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "iris_wm.cli", "train", *tiny_train_overrides(tmp_path, epochs=30)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and not (tmp_path / "checkpoints" / "latest").exists():
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 143, err
    assert "interrupted (SIGTERM) after epoch" in out and "continue with `iris resume" in out
    assert "Traceback" not in err


def test_an_interrupt_before_the_first_epoch_leaves_nothing(tmp_path, monkeypatch, capsys):
    from iris_wm.training.collector import Collector

    collect = Collector.collect

    def interrupted(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        return collect(self, *args, **kwargs)

    monkeypatch.setattr(Collector, "collect", interrupted)
    run_dir = tmp_path / "run"
    assert main(["train", *tiny_train_overrides(run_dir, epochs=2)]) == 130
    assert "before the first epoch ended; nothing was kept" in capsys.readouterr().out
    assert not run_dir.exists()


DIE_IN_EPOCH_3 = """
import os, sys
from iris_wm.training.metrics_logger import MetricsLogger
from iris_wm.training.run_state import RunState
cls = {"log": MetricsLogger, "save": RunState}[sys.argv[1]]
original = getattr(cls, sys.argv[1])
def die_in_epoch_3(self, *args):
    if args[-1] == 3:  # log(metrics, epoch), save(epoch)
        os._exit(137)
    return original(self, *args)
setattr(cls, sys.argv[1], die_in_epoch_3)
from iris_wm.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("dies_in", ["log", "save"])
def test_a_kill_between_the_metrics_line_and_the_checkpoint_leaves_one_line_per_completed_epoch(run, dies_in):
    """Killed while writing epoch 3's metrics line or its checkpoint, whichever comes second: the
    resumed run has exactly one metrics line per epoch, so no checkpointed epoch lacks its line."""
    process = subprocess.run([sys.executable, "-c", DIE_IN_EPOCH_3, dies_in, "resume", str(run), "common.epochs=3"],
                             capture_output=True, text=True, timeout=300)
    assert process.returncode == 137, process.stderr
    assert main(["resume", str(run)]) == 0
    assert [m["epoch"] for m in read_metrics(run)] == [1, 2, 3]
    assert (run / "checkpoints" / "latest").read_text().strip() == "epoch_0003"
