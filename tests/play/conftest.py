"""A tiny run folder built in a second (no training): a Breakout run's config, a tiny IRIS
checkpoint, and saved episodes of solid colours so that the browser's position can be read
from a pixel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from iris_wm import create_model
from iris_wm.data.episode import Episode
from tests.factories import tiny_iris_config, write_run_folder

TRAIN_COLORS = [(200, 0, 0), (0, 200, 0), (0, 0, 200)]  # one colour per train episode
TEST_COLOR = (200, 200, 0)
EPISODE_LENGTH = 12


def solid_episode(color: tuple[int, int, int], length: int = EPISODE_LENGTH) -> Episode:
    """Frames of one colour whose red channel at the top-left pixel counts the step (t * 10)."""
    frames = np.empty((length, 3, 64, 64), np.uint8)
    frames[:] = np.array(color, np.uint8)[None, :, None, None]
    frames[:, 0, 0, 0] = np.arange(length) * 10
    ends = np.zeros(length, np.int64)
    ends[-1] = 1
    return Episode(frames, actions=np.arange(length) % 4, rewards=np.ones(length, np.float32), ends=ends)


def tiny_agent():
    agent = create_model("iris", num_actions=4, device="cpu", config=tiny_iris_config())
    # Imagined episodes that (almost) never end, so that scripted key presses are not eaten by resets.
    agent.world_model.head_ends.head_module[-1].bias.data = torch.tensor([20.0, -20.0])
    return agent


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory) -> Path:
    run = write_run_folder(tmp_path_factory.mktemp("run"), "env:\n  id: Breakout\n", tiny_agent(),
                           [solid_episode(color) for color in TRAIN_COLORS])
    solid_episode(TEST_COLOR, 5).save(run / "media" / "episodes" / "test" / "episode_000000_epoch_001.npz")
    return run


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models: one torch thread is as fast, and leaves the other core alone."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def display(monkeypatch):
    """SDL's dummy video driver: real pygame surfaces, no screen."""
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")


@pytest.fixture
def open_app(display, run_dir, tmp_path):
    """open_app(mode, save_mode=False, **options) -> a real App on the dummy display; closed after the test."""
    from iris_wm.play.app import App
    from iris_wm.play.session import Options, open_source

    apps = []

    def make(mode: str, save_mode: bool = False, **options):
        source, _, _ = open_source(run_dir, Options(mode, device="cpu", **options))
        apps.append(App(source, fps=1000, height=128, header=True, save_mode=save_mode,
                        recordings=tmp_path / "recordings"))
        return apps[-1]

    yield make
    for app in apps:
        app.close()
