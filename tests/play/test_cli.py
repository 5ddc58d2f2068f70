"""What ``iris play`` says when it cannot do what was asked: one line naming the problem and the fix."""

from __future__ import annotations

import sys

import pytest

from iris_wm import save_agent
from iris_wm.cli import main
from tests.play.conftest import tiny_agent


def error_of(argv, capsys) -> str:
    assert main(argv) == 2
    return capsys.readouterr().err.strip()


def test_help_is_printed_by_help_while_h_is_the_header(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["play", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "-h, -H, --header" in text and "--headless" in text and "--flush-every N" in text


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a display always exists elsewhere")
def test_no_display_suggests_headless(run_dir, monkeypatch, capsys):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"):
        monkeypatch.delenv(name, raising=False)
    message = error_of(["play", str(run_dir)], capsys)
    assert message.startswith("iris play: error: no display") and "--headless" in message


@pytest.mark.parametrize("argv, expected", [
    (["-w", "--headless"], "-w needs a person at the keyboard"),
    (["-a", "-r", "--headless"], "-r shows what the agent sees"),
    (["-e", "-s"], "-s saves played episodes"),
    (["--steps", "5"], "--steps and --out go with --headless"),
    (["--flush-every", "3", "--headless"], "--flush-every applies to the world model modes"),
    (["-a", "--headless", "--fps", "0"], "--fps must be at least 1"),
    (["-a", "--headless", "--env", "Pong"], "Pong has 6 actions but the agent was trained with 4"),
])
def test_refused_combinations(run_dir, capsys, argv, expected):
    assert expected in error_of(["play", str(run_dir), *argv, "--device", "cpu"], capsys)


def test_a_checkpoint_alone_needs_a_game_and_cannot_browse(tmp_path, capsys):
    checkpoint = save_agent(tiny_agent(), tmp_path / "checkpoint")
    assert "say which game with --env" in error_of(["play", str(checkpoint), "--headless"], capsys)
    assert "-e browses the episodes saved in a run folder" in error_of(
        ["play", str(checkpoint), "-e", "--env", "Breakout", "--headless"], capsys)


def test_a_run_without_saved_episodes_says_where_it_looked(tmp_path, capsys):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "train.yaml").write_text("env:\n  id: Breakout\n")
    message = error_of(["play", str(tmp_path), "-e", "--headless"], capsys)
    assert "has no saved episodes to browse" in message and "checkpoints/dataset/train" in message
