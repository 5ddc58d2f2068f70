"""Agents from the Hugging Face Hub, read from a cache laid out as huggingface_hub lays it out, with
the hub offline: no test reaches the network."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import iris_wm
from iris_wm.checkpoint.agent_files import save_agent
from iris_wm.errors import IrisError
from tests.factories import synthetic_original_state_dict, tiny_iris_config

hub_constants = pytest.importorskip("huggingface_hub.constants")
COMMIT = "c0ffee" + "0" * 34


def lay_out(cache: Path, repo_id: str, files: dict[str, Path], commit: str = COMMIT) -> None:
    """``files`` (path in the repo -> local file) as huggingface_hub caches a download of ``main``:
    blobs named by their hash, a snapshot of the commit linking to them, refs/main naming the commit."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    for name, source in files.items():
        data = source.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = repo / "snapshots" / commit / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)


@pytest.fixture
def offline_hub(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(cache))
    return cache


def test_load_agent_reads_our_format_from_the_cache_at_main_and_at_a_pinned_revision(offline_hub, tmp_path):
    agent = iris_wm.create_model("iris", num_actions=4, device="cpu", config=tiny_iris_config())
    folder = save_agent(agent, tmp_path / "agent")
    lay_out(offline_hub, "me/tiny-iris", {"agent.safetensors": folder / "agent.safetensors",
                                          "agent.yaml": folder / "agent.yaml"})
    for reference in ("hf://me/tiny-iris/agent.safetensors", f"hf://me/tiny-iris/agent.safetensors@{COMMIT}"):
        loaded = iris_wm.load_agent(reference, device="cpu")
        assert loaded.num_actions == 4
        assert all(torch.equal(loaded.state_dict()[k], v) for k, v in agent.state_dict().items())


def test_offline_and_not_cached_is_one_clear_error(offline_hub):
    with pytest.raises(IrisError, match="is not in the hub cache and the hub cannot be reached .HF_HUB_OFFLINE "
                                        "is set.; download it once online"):
        iris_wm.load_agent("hf://eloialonso/iris/pretrained_models/Pong.pt")
    lay_out(offline_hub, "me/tiny-iris", {"README.md": Path(__file__)})  # cached at main, not at v2
    with pytest.raises(IrisError, match=r"^hf://me/tiny-iris/agent.safetensors@v2 is not in the hub cache"):
        iris_wm.load_agent("hf://me/tiny-iris/agent.safetensors@v2")


def test_play_pretrained_plays_the_authors_published_agent_from_the_cache(tmp_path):
    """``iris play --pretrained Breakout`` finds the authors' Breakout agent in the IRIS kind's table
    and reads it from hf://eloialonso/iris, here a cache holding a file in their format."""
    cache = tmp_path / "hub"
    checkpoint = tmp_path / "Breakout.pt"
    torch.save(synthetic_original_state_dict(num_actions=4), checkpoint)
    lay_out(cache, "eloialonso/iris", {"pretrained_models/Breakout.pt": checkpoint})
    out = tmp_path / "play.mp4"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "iris_wm.cli", "play", "--pretrained", "breakout", "--headless",
                           "--steps", "3", "--out", str(out), "--device", "cpu"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert out.is_file() and "wrote 3 frames" in done.stdout
    done = subprocess.run([sys.executable, "-m", "iris_wm.cli", "eval", "--pretrained", "Seaquest"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "hf://eloialonso/iris/pretrained_models/Seaquest.pt is not in the hub cache" in done.stderr


def test_every_atari_100k_game_has_the_authors_published_agent():
    from iris_wm.agents import find_pretrained
    from iris_wm.games import ATARI_100K_GAMES

    for game in ATARI_100K_GAMES:
        kind, entry = find_pretrained(f"ALE/{game}-v5")
        assert (kind.name, entry.env_kind) == ("iris", "atari")
        assert entry.reference == f"hf://eloialonso/iris/pretrained_models/{game}.pt"
