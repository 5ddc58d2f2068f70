"""A new agent kind is new files: one registered here (IRIS with a different tokenizer) trains
through ``iris train agent=...``, resumes, evaluates and plays, with no change to the shared code."""

import json
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from iris_wm.agents import AGENT_KINDS, AgentKind, get_agent_kind, register_agent_kind
from iris_wm.agents.iris.agent import IRISAgent
from iris_wm.agents.iris.config import IRISConfig
from iris_wm.agents.iris.tokenizer import Tokenizer
from iris_wm.checkpoint import load_agent
from iris_wm.cli import main
from iris_wm.training.metrics_logger import read_metrics
from tests.factories import tiny_train_overrides

pytest.importorskip("ale_py")

KIND = "patch-iris"
PATCH = 16  # 64x64 frames -> 4x4 patches: 16 tokens, as IRIS's world model expects


class PatchTokenizer(Tokenizer):
    """IRIS's quantizer between one strided convolution and one transposed convolution."""

    def __init__(self, config) -> None:
        super().__init__(config)
        z = config.autoencoder.z_channels
        self.encoder = nn.Sequential(nn.Conv2d(3, z, PATCH, stride=PATCH), nn.ReLU())
        self.decoder = nn.ConvTranspose2d(z, 3, PATCH, stride=PATCH)


@dataclass
class PatchIRISConfig(IRISConfig):
    kind: str = KIND


class PatchIRISAgent(IRISAgent):
    kind = KIND

    def __init__(self, config: PatchIRISConfig, num_actions: int) -> None:
        super().__init__(config, num_actions)
        self.tokenizer = PatchTokenizer(config.tokenizer)


@pytest.fixture(scope="module")
def kind():
    iris = get_agent_kind("iris")
    record = AgentKind(name=KIND, description="IRIS with a one-layer patch tokenizer", config_class=PatchIRISConfig,
                       training_class=iris.training_class, build=PatchIRISAgent, presets=iris.presets)
    register_agent_kind(record)
    yield record
    AGENT_KINDS._records.pop(KIND)


@pytest.fixture(scope="module")
def run(kind, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("patch_run")
    assert main(["train", f"agent={KIND}", *tiny_train_overrides(run_dir, epochs=4)]) == 0
    return run_dir


def test_the_new_kind_trains_every_phase_through_the_shared_trainer(run):
    metrics = read_metrics(run)
    assert [m["epoch"] for m in metrics] == [1, 2, 3, 4]
    assert {"tokenizer/train/total_loss", "world_model/train/loss_obs", "actor_critic/train/loss_values",
            "imagination/return", "world_model/eval/loss_obs"} <= set(metrics[3])
    agent = load_agent(run)
    assert type(agent) is PatchIRISAgent and isinstance(agent.tokenizer.encoder[0], nn.Conv2d)
    assert "kind: patch-iris" in (run / "config" / "train.yaml").read_text()


def test_it_resumes(run):
    before = load_agent(run).state_dict()
    assert main(["resume", str(run), "common.epochs=5"]) == 0
    assert [m["epoch"] for m in read_metrics(run)] == [1, 2, 3, 4, 5]
    after = load_agent(run).state_dict()
    assert set(after) == set(before) and any(not torch.equal(before[k], after[k]) for k in before)


def test_it_evaluates(run):
    out = run / "eval" / "scores.json"
    assert main(["eval", str(run), "--episodes", "1", "--num-envs", "1", "--out", str(out)]) == 0
    assert len(json.loads(out.read_text())["details"]["episode_returns"]) == 1


@pytest.mark.parametrize("mode", ["-r", "-a"])  # the agent in the game, and in its world model
def test_it_plays_headless(run, mode, tmp_path):
    out = tmp_path / "play.mp4"
    assert main(["play", str(run), mode, "--headless", "--steps", "4", "--out", str(out), "--device", "cpu"]) == 0
    assert out.stat().st_size > 0
