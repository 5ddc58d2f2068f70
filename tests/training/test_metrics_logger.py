import json
import os
import sys
import time
import types

import numpy as np
import pytest
import torch
from PIL import Image

from iris_wm.agents.base import Curve
from iris_wm.errors import IrisError
from iris_wm.training.metrics_logger import MetricsLogger, plot_metrics, read_metrics, truncate_after


def log_epochs(run_dir, epochs, **options):
    logger = MetricsLogger(run_dir, use_tensorboard=False, **options)
    for epoch in epochs:
        logger.log({"world_model/train/loss_obs": 6.0 - epoch, "train_dataset/return": float(epoch)}, step=epoch)
    logger.close()


def test_log_writes_one_json_line_per_call_with_tensors_as_numbers(tmp_path):
    logger = MetricsLogger(tmp_path, use_tensorboard=False)
    logger.log({"tokenizer/train/total_loss": torch.tensor(0.5), "count": np.int64(3), "lr": 1e-4}, step=1)
    logger.log({"test_dataset/return": torch.tensor([2.0])}, step=1)
    # flushed per line: visible before close, so a killed run keeps its completed lines
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"epoch": 1, "tokenizer/train/total_loss": 0.5, "count": 3, "lr": 1e-4},
        {"epoch": 1, "test_dataset/return": 2.0},
    ]
    logger.close()


def test_tensorboard_receives_the_scalars(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logger = MetricsLogger(tmp_path)
    logger.log({"tokenizer/train/total_loss": torch.tensor(0.25)}, step=1)
    logger.log({"tokenizer/train/total_loss": 0.125}, step=2)
    logger.close()
    # TensorBoard reads event files in name order: timestamp (seconds), host, pid, then a counter
    # that sorts as text (".10" before ".9"). A resumed run starts later, in another process.
    time.sleep(1.1)
    resumed = MetricsLogger(tmp_path, start_epoch=2)  # epoch 2 was logged but not checkpointed
    resumed.log({"tokenizer/train/total_loss": 0.5}, step=2)
    resumed.close()

    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    scalars = events.Scalars("tokenizer/train/total_loss")
    assert [(s.step, s.value) for s in scalars] == [(1, 0.25), (2, 0.5)]


def test_a_torn_last_line_is_ignored_and_repaired_on_reopen(tmp_path):
    log_epochs(tmp_path, [1, 2])
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 3, "world_model/tr')  # what kill -9 mid-write leaves
    assert [entry["epoch"] for entry in read_metrics(tmp_path)] == [1, 2]

    log_epochs(tmp_path, [3])
    assert [entry["epoch"] for entry in read_metrics(tmp_path)] == [1, 2, 3]


def test_a_broken_line_before_the_last_is_an_error(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"epoch": 1}\nnot json\n{"epoch": 2}\n')
    with pytest.raises(IrisError, match="line 2"):
        read_metrics(tmp_path)


def test_truncate_after_keeps_completed_epochs(tmp_path):
    log_epochs(tmp_path, [1, 2, 3, 4])
    truncate_after(tmp_path, 2)
    assert [entry["epoch"] for entry in read_metrics(tmp_path)] == [1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.jsonl"]  # no temporary file left
    log_epochs(tmp_path, [3])
    assert [entry["epoch"] for entry in read_metrics(tmp_path)] == [1, 2, 3]


def test_plot_metrics_draws_the_logged_curves(tmp_path):
    out = tmp_path / "media" / "learning_curves.png"
    curves = [Curve("train_dataset/return"), Curve("world_model/train/loss_obs", 6.2, "uniform (ln 512)")]
    assert plot_metrics(tmp_path, out, curves) is False  # nothing logged yet
    log_epochs(tmp_path, [1, 2, 3])
    assert plot_metrics(tmp_path, out, curves) is True
    assert plot_metrics(tmp_path, out, [Curve("never/logged")]) is False
    logger = MetricsLogger(tmp_path, use_tensorboard=False)
    assert logger.plot(tmp_path / "again.png", curves) is True
    logger.close()
    with Image.open(out) as image:
        width, height = image.size
    assert width > 200 and height > 200


def test_missing_optional_packages_name_the_fix(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import now raises ImportError
    with pytest.raises(IrisError, match="logger.tensorboard=false"):
        MetricsLogger(tmp_path)
    monkeypatch.setitem(sys.modules, "wandb", None)
    with pytest.raises(IrisError, match="pip install wandb"):
        MetricsLogger(tmp_path, use_tensorboard=False, wandb={})


def test_wandb_is_offline_unless_asked(tmp_path, monkeypatch):
    calls = []

    class Run:
        def log(self, values):
            calls.append(("log", values))

        def finish(self):
            calls.append(("finish",))

    def init(**kwargs):
        calls.append(("init", kwargs))
        return Run()

    monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace(init=init))
    for name in ("WANDB_SILENT", "WANDB_INIT_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)  # restored after the test
    log_epochs(tmp_path, [1], wandb={"project": "iris"})
    assert os.environ["WANDB_SILENT"] == "true" and os.environ["WANDB_INIT_TIMEOUT"] == "60"
    assert calls == [
        ("init", {"dir": str(tmp_path), "project": "iris", "mode": "offline"}),
        ("log", {"epoch": 1, "world_model/train/loss_obs": 5.0, "train_dataset/return": 1.0}),
        ("finish",),
    ]
