"""Test inputs: tiny configs, and synthetic checkpoints in the authors' format built from the
reference listing of their names and shapes."""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "iris_state_dict.txt"
HEAD_POSITIONS = {"head_observations": set(range(17)) - {15}, "head_rewards": {16}, "head_ends": {16}}
ACTION_DEPENDENT = ("world_model.embedder.embedding_tables.0.weight", "actor_critic.actor_linear.weight",
                    "actor_critic.actor_linear.bias")


def reference_listing() -> list[tuple[str, tuple[int, ...]]]:
    """(key, shape) for A = 4, in the authors' order."""
    if not REFERENCE.is_file():
        pytest.skip(f"reference listing not found at {REFERENCE}")
    rows = []
    for line in REFERENCE.read_text().splitlines():
        if re.match(r"^(tokenizer|world_model|actor_critic)\.", line):
            key, shape = line.split("\t")[:2]
            rows.append((key, tuple(int(d) for d in re.findall(r"\d+", shape))))
    return rows


def original_attention_mask(attention: str) -> torch.Tensor:
    """The authors' float 0/1 (340, 340) mask buffer: causal, or causal OR 17x17 blocks."""
    causal = torch.ones(340, 340).tril()
    return causal if attention == "causal" else torch.maximum(causal, torch.block_diag(*[torch.ones(17, 17)] * 20))


def small_random_value(key: str, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    return torch.randn(shape, generator=generator) * 0.05


def synthetic_original_state_dict(num_actions: int = 4, attention: str = "causal", seed: int = 0,
                                  value: Callable[..., torch.Tensor] = small_random_value
                                  ) -> OrderedDict[str, torch.Tensor]:
    """Every key of the authors' last.pt in their order; masks and head indices as their code builds
    them, every other tensor from ``value(key, shape, generator)``."""
    generator = torch.Generator().manual_seed(seed)
    state: OrderedDict[str, torch.Tensor] = OrderedDict()
    for key, shape in reference_listing():
        if key in ACTION_DEPENDENT:
            shape = (num_actions, *shape[1:])
        if key.endswith("attn.mask"):
            state[key] = original_attention_mask(attention)
        elif key.endswith(".indices"):
            positions = HEAD_POSITIONS[key.split(".")[1]]
            state[key] = torch.tensor([p for p in range(340) if p % 17 in positions])
        else:
            state[key] = value(key, shape, generator)
    return state


def tiny_iris_config(**world_model) -> dict:
    """Small IRIS networks (same architecture, narrower and shallower) for fast tests."""
    return {
        "tokenizer": {
            "vocab_size": 32,
            "embed_dim": 16,
            "perceptual_weight": 0.0,
            # 64x64 frames -> 4x4 = 16 tokens, as the paper, through narrower and shallower levels
            "autoencoder": {"resolution": 64, "z_channels": 16, "ch": 32, "ch_mult": [1, 1, 1, 1, 1],
                            "num_res_blocks": 1, "attn_resolutions": [8]},
        },
        "world_model": {"tokens_per_block": 17, "max_blocks": 4, "num_layers": 2, "num_heads": 2,
                        "embed_dim": 32, **world_model},
        "actor_critic": {"lstm_dim": 32},
        "actor_critic_loss": {"imagine_horizon": 4, "burn_in": 4},
    }


def tiny_train_overrides(run_dir, epochs: int = 4, **extra) -> list[str]:
    """cpu-smoke made smaller still: every phase runs (tokenizer from epoch 2, world model from 3,
    actor-critic and imagination from 4; evaluation at 2 and 4) in well under a minute."""
    overrides = {
        "env.id": "Breakout", "preset": "cpu-smoke", "hydra.run.dir": str(run_dir), "common.epochs": epochs,
        "common.num_threads": 1, "logger.tensorboard": "true",
        "collection.train.num_steps": 40, "collection.test.num_envs": 1, "collection.test.num_episodes": 1,
        "env.test.max_episode_steps": 400,
        "training.tokenizer.batch_num_samples": 4, "training.tokenizer.steps_per_epoch": 2,
        "training.world_model.batch_num_samples": 2, "training.world_model.steps_per_epoch": 2,
        "training.actor_critic.batch_num_samples": 2, "training.actor_critic.steps_per_epoch": 2,
        "evaluation.imagination_episodes_to_save": 1, **extra,
    }
    return [f"{key}={value}" for key, value in overrides.items()]


def tiny_delta_overrides(run_dir, epochs: int = 4, **extra) -> list[str]:
    """delta-cpu-smoke made smaller still: a random first epoch, the tokenizer from epoch 1, the world
    model from 2, the actor-critic and imagination from 3; evaluations at 2 and 4."""
    overrides = {
        "preset": "delta-cpu-smoke", "env.id": "Breakout", "hydra.run.dir": str(run_dir), "common.epochs": epochs,
        "common.num_threads": 1, "logger.tensorboard": "false",
        "collection.train.num_steps": 30, "collection.train.num_steps_first_epoch": 40,
        "collection.test.num_envs": 1, "collection.test.num_episodes": 1, "env.test.max_episode_steps": 400,
        "training.tokenizer.batch_num_samples": 2, "training.tokenizer.steps_first_epoch": 3,
        "training.tokenizer.steps_per_epoch": 2, "training.world_model.batch_num_samples": 2,
        "training.world_model.steps_per_epoch": 2, "training.actor_critic.batch_num_samples": 2,
        "training.actor_critic.steps_per_epoch": 2, "evaluation.imagination_episodes_to_save": 1, **extra,
    }
    return [f"{key}={value}" for key, value in overrides.items()]


def kill_9_in_second_epoch(train_overrides: list[str], run_dir: Path, timeout_s: float = 300) -> int:
    """Run ``iris train OVERRIDES`` in a process, let it finish an epoch and go into the next, then
    kill it with SIGKILL; returns the last epoch its checkpoint completed."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "iris_wm.cli", "train", *train_overrides]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    latest = Path(run_dir) / "checkpoints" / "latest"
    try:
        deadline = time.time() + timeout_s
        while time.time() < deadline and not latest.exists():
            time.sleep(0.2)
        assert latest.exists(), "training did not complete an epoch in time"
        time.sleep(1.5)  # into the next epoch
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    return int(latest.read_text().strip().split("_")[1])


def folder_hash(folder: Path) -> str:
    """Every file's path, mode and bytes under ``folder``."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(oct(path.stat().st_mode).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def tiny_benchmark_overrides(**extra) -> list[str]:
    """A run of a benchmark in a few seconds: two epochs with every phase (the tokenizer and the
    world model from epoch 1, the actor-critic from 2), evaluated during training at epoch 2."""
    overrides = {
        "preset": "cpu-smoke", "common.epochs": 2, "common.num_threads": 1, "logger.tensorboard": "false",
        "collection.train.num_steps": 16, "collection.test.num_envs": 1, "collection.test.num_episodes": 1,
        "collection.train.num_episodes_to_save": 0, "collection.test.num_episodes_to_save": 0,
        "env.test.max_episode_steps": 100, "evaluation.every": 2, "evaluation.save_reconstructions": "false",
        "evaluation.imagination_episodes_to_save": 0,
        **{f"training.{phase}.{key}": value for phase in ("tokenizer", "world_model", "actor_critic")
           for key, value in (("batch_num_samples", 2), ("steps_per_epoch", 1))},
        "training.tokenizer.start_after_epochs": 0, "training.world_model.start_after_epochs": 0,
        "training.actor_critic.start_after_epochs": 1,
        # narrower still than cpu-smoke's networks: the tokenizer's convolutions dominate on a CPU
        "agent.tokenizer.embed_dim": 16, "agent.tokenizer.autoencoder.z_channels": 16,
        "agent.actor_critic.lstm_dim": 32, **extra,
    }
    return [f"{key}={value}" for key, value in overrides.items()]


def start_iris(arguments: list[str]):
    """``iris ARGUMENTS`` in a process of its own group (so that a kill takes its children too)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "iris_wm.cli", *arguments], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def kill_group_when(process, condition: Callable[[], bool], timeout_s: float = 300) -> None:
    """SIGKILL ``process`` and everything it started, as soon as ``condition()`` holds."""
    import contextlib
    import os
    import signal
    import time

    deadline = time.time() + timeout_s
    try:
        while time.time() < deadline and not condition():
            assert process.poll() is None, f"the process ended (exit code {process.returncode}) before the kill"
            time.sleep(0.1)
        assert condition(), "the condition for the kill did not come in time"
    finally:
        with contextlib.suppress(ProcessLookupError):  # ended already: the assertion above says why
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        while time.time() < deadline and group_alive(process.pid):  # its children die a moment later
            time.sleep(0.05)


def group_alive(group: int) -> bool:
    """Whether a process of the group still runs (zombies, already dead, excepted)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended while we looked
            continue
        if fields[0] != "Z" and int(fields[2]) == group:
            return True
    return False


def write_run_folder(run: Path, config_yaml: str, agent=None, train_episodes=()) -> Path:
    """A run folder made without training: its config (``config_yaml``, merged onto the defaults
    where read), ``agent`` as its one checkpoint, and ``train_episodes`` as its stored episodes."""
    from iris_wm import save_agent
    from iris_wm.data.dataset import EpisodeDataset

    (run / "config").mkdir(parents=True)
    (run / "config" / "train.yaml").write_text(config_yaml)
    if agent is not None:
        save_agent(agent, run / "checkpoints" / "epoch_0001")
        (run / "checkpoints" / "latest").write_text("epoch_0001\n")
    if train_episodes:
        dataset = EpisodeDataset(run / "checkpoints" / "dataset" / "train", "train")
        for episode in train_episodes:
            dataset.add_episode(episode)
        dataset.save_modified()
    return run


FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture_metrics(run_dir: Path) -> list[dict]:
    """A run's metrics as the identity fixtures hold them: all but the time, and the prediction error (measured
    since the first fixtures were recorded)."""
    from iris_wm.training.metrics_logger import read_metrics

    return [{k: v for k, v in entry.items() if k != "duration_hours" and not k.startswith("prediction/")}
            for entry in read_metrics(run_dir)]


def record_fixture(run_dir: Path, name: str) -> Path:
    """Write a run's metrics as the fixture ``name`` (recorded once, before a change that must keep them)."""
    import json

    path = FIXTURES / name
    path.write_text("".join(json.dumps(entry) + "\n" for entry in fixture_metrics(run_dir)))
    return path


def assert_metrics_equal_fixture(run_dir: Path, name: str) -> None:
    """Every key and count of the fixture, floats to float32 rounding: that differs between CPUs (their kernels'
    vector widths change the order of sums), so that on another machine floats differ in the seventh digit."""
    import json

    expected = [json.loads(line) for line in (FIXTURES / name).read_text().splitlines()]
    got = fixture_metrics(run_dir)
    assert [sorted(entry) for entry in got] == [sorted(entry) for entry in expected]
    for entry, recorded in zip(got, expected, strict=True):
        for key, value in recorded.items():
            assert value == pytest.approx(entry[key], rel=1e-5, abs=1e-6), (entry["epoch"], key)
