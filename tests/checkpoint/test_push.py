"""``iris push``: what it uploads (our format, a model card, a video), and offline, one line."""

import json
import os
import subprocess
import sys

import pytest
import yaml

import iris_wm
from iris_wm.checkpoint.run_checkpoint import save_run_checkpoint
from iris_wm.commands.push import stage_upload
from iris_wm.run_folder import RunFolder
from iris_wm.training.compose import compose_config
from iris_wm.training.run_config import write_resolved_config
from tests.factories import tiny_iris_config, tiny_train_overrides

pytest.importorskip("huggingface_hub")
pytest.importorskip("ale_py")


@pytest.fixture
def run_dir(tmp_path):
    """A run folder as training leaves it: its config, a checkpoint, an evaluation and a test video."""
    from omegaconf import OmegaConf

    run = tmp_path / "run"
    config = compose_config([o for o in tiny_train_overrides(run) if not o.startswith("hydra.")])
    write_resolved_config(run, OmegaConf.structured(config))
    agent = iris_wm.create_model("iris", num_actions=4, device="cpu", config=tiny_iris_config())
    save_run_checkpoint(RunFolder(run), 3, agent, {}, {"epoch": 3})
    (run / "eval").mkdir()
    (run / "eval" / "eval_1.json").write_text(json.dumps({"Breakout": [7.5], "details": {"episodes": 100,
                                                                                        "mean": 7.5}}))
    (run / "media" / "episodes" / "test").mkdir(parents=True)
    (run / "media" / "episodes" / "test" / "episode_0.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    return run


def test_push_uploads_our_format_a_model_card_and_a_video(run_dir, tmp_path):
    staged = tmp_path / "staged"
    staged.mkdir()
    files = stage_upload(run_dir, staged, "hf://me/breakout-iris")
    assert sorted(p.name for p in files) == ["README.md", "agent.safetensors", "agent.yaml", "episode.mp4"]
    loaded = iris_wm.load_agent(staged, device="cpu")  # what is uploaded loads as it is
    assert loaded.num_actions == 4
    card = (staged / "README.md").read_text()
    assert "# iris on Breakout" in card and "trained 3 epochs with seed 0" in card
    assert 'iris_wm.load_agent("hf://me/breakout-iris/agent.safetensors")' in card
    assert "| eval_1.json | 100 | 7.50 | 7.50 |" in card and "[episode.mp4](episode.mp4)" in card
    config = yaml.safe_load(card.split("```yaml\n")[1].split("```")[0])
    assert config["env"]["id"] == "Breakout" and config["agent"]["kind"] == "iris"


def test_push_while_offline_is_one_line_and_uploads_nothing(run_dir):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "iris_wm.cli", "push", str(run_dir), "hf://me/breakout-iris"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == ("iris push: error: cannot push to hf://me/breakout-iris: HF_HUB_OFFLINE is set; "
                                   "unset it to upload")
