"""``iris play`` with a Δ-IRIS run: a person in its world model sees the memory restart from the
current frame when the context is full; the agent plays in the world model and in the real game."""

from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from iris_wm import create_model
from iris_wm.cli import main
from tests.factories import write_run_folder

pytest.importorskip("ale_py")
PRESET = Path(__file__).resolve().parents[2] / "src/iris_wm/agents/delta_iris/presets/delta-cpu-smoke.yaml"


def tiny_delta_agent(max_blocks: int = 4):
    config = OmegaConf.to_container(OmegaConf.load(PRESET))["agent"]
    config["world_model"]["transformer"]["max_blocks"] = max_blocks
    config["actor_critic_loss"] |= {"burn_in": 1, "imagine_horizon": 2}
    agent = create_model("delta-iris", num_actions=4, device="cpu", config=config)
    agent.world_model.head_ends.head_module[-1].bias.data = torch.tensor([20.0, -20.0])  # imagined episodes go on
    return agent


@pytest.fixture(scope="module")
def delta_run(tmp_path_factory) -> Path:
    return write_run_folder(tmp_path_factory.mktemp("delta_run"), "agent:\n  kind: delta-iris\nenv:\n  id: Breakout\n",
                            tiny_delta_agent())


def test_the_world_model_memory_restarts_from_the_current_frame_when_full(delta_run, monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    from iris_wm.play.app import App
    from iris_wm.play.session import Options, open_source

    source, _, _ = open_source(delta_run, Options("world-model", device="cpu"))
    app = App(source, fps=1000, height=128, header=True, save_mode=False, recordings=delta_run / "recordings")
    try:
        memories, frames = [], []
        for _ in range(6):
            app.tick()
            memories.append(app.view.extras["memory"])
            frames.append(app.view.frame.copy())
    finally:
        app.close()
    # 4 blocks of 6 tokens: the fourth step fills them, the fifth starts again from its frame alone
    assert memories == ["2/4 frames", "3/4 frames", "4/4 frames", "4/4 frames", "2/4 frames", "3/4 frames"]
    assert not np.array_equal(frames[0], frames[5])  # imagination goes on across the restart


@pytest.mark.parametrize("mode", ["-a", "-r"])
def test_the_agent_plays_headless_in_the_world_model_and_the_game(delta_run, tmp_path, mode):
    out = tmp_path / "video.mp4"
    assert main(["play", str(delta_run), mode, "--headless", "--steps", "8", "--out", str(out), "--device", "cpu"]) == 0
    assert out.stat().st_size > 0
