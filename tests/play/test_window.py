"""Each mode in a real pygame window on SDL's dummy driver, driven by scripted key events."""

from __future__ import annotations

import time

import numpy as np
import pygame
import pytest

from iris_wm.envs.atari.settings import ATARI_KEYS
from iris_wm.envs.crafter.env import ACTION_NAMES as CRAFTER_ACTIONS
from iris_wm.envs.crafter.settings import CRAFTER_KEYS
from iris_wm.play import app as app_module
from iris_wm.play.keymap import BROWSER_KEYS, GLOBAL_KEYS, action_keymap, describe
from iris_wm.play.render import Layout, render
from iris_wm.play.view import View
from tests.play.conftest import TEST_COLOR, TRAIN_COLORS
from tests.play.helpers import panel_pixel, press, shown


def test_the_window_shows_the_drawn_frame_and_the_agent_plays_the_real_game(open_app):
    app = open_app("agent", reconstruction=True)
    names = [caption for caption, _ in app.view.panels]
    assert [pixels.shape for _, pixels in app.view.panels] == [(210, 160, 3), (64, 64, 3), (64, 64, 3)], names
    raw_frames = []
    for _ in range(10):
        app.tick()
        raw_frames.append(app.view.frame)
        assert np.array_equal(shown(app), render(app.view, app.layout))
    assert app.view.step == 10 and app.view.action in ("NOOP", "FIRE", "RIGHT", "LEFT")
    assert set(app.view.extras) == {"value"}
    # The agent acts on the real game: its raw frames change (the paddle moves, the ball launches).
    assert any(not np.array_equal(a, b) for a, b in zip(raw_frames, raw_frames[1:], strict=False))


def test_a_key_press_chooses_the_action_taken_in_the_world_model(open_app):
    app = open_app("world-model")
    before = app.view.frame
    for key, action in ((pygame.K_d, "RIGHT"), (pygame.K_SPACE, "FIRE"), (None, "NOOP"), (pygame.K_a, "LEFT"),
                        (pygame.K_w, "NOOP")):  # w is UP, which Breakout does not have
        if key is not None:
            press(key)
        app.tick()
        assert app.view.action == action
    assert app.view.step == 5
    assert not np.array_equal(app.view.frame, before)  # imagined frames, sampled from the world model
    assert np.array_equal(shown(app), render(app.view, app.layout))


def test_memory_is_flushed_when_the_context_is_full_or_every_n_steps(open_app):
    full = open_app("world-model")  # the tiny world model remembers 4 frames
    memories = []
    for _ in range(6):
        full.tick()
        memories.append(full.view.extras["memory"])
    assert memories == ["2/4 frames", "3/4 frames", "4/4 frames", "2/4 frames", "3/4 frames", "4/4 frames"]
    every = open_app("agent-world-model", flush_every=2)
    memories = []
    for _ in range(4):
        every.tick()
        memories.append(every.view.extras["memory"])
    assert memories == ["2/2 frames", "1/2 frames", "2/2 frames", "1/2 frames"]
    assert set(every.view.extras) == {"memory", "value"}


def test_the_browser_moves_between_frames_episodes_and_categories(open_app):
    app = open_app("episodes")
    red, green, blue = TRAIN_COLORS

    def at() -> tuple[tuple[int, ...], int]:
        """(the colour of the episode shown, the step it shows) read from the window."""
        return panel_pixel(app, 32, 32), panel_pixel(app, 0, 0)[0] // 10

    assert at() == (red, 0) and app.view.title.startswith("[train] episode_000000 (1/3)")
    for keys, expected in (((pygame.K_RIGHT,), (red, 1)), ((pygame.K_PAGEUP,), (red, 11)),
                           ((pygame.K_RIGHT,), (red, 11)), ((pygame.K_LEFT,), (red, 10)),
                           ((pygame.K_PAGEDOWN,), (red, 0)), ((pygame.K_RIGHT, pygame.K_SPACE), (red, 0)),
                           ((pygame.K_UP,), (green, 0)), ((pygame.K_UP, pygame.K_UP), (red, 0)),
                           ((pygame.K_DOWN,), (blue, 0)), ((pygame.K_y,), (TEST_COLOR, 0)),
                           ((pygame.K_RIGHT, pygame.K_RIGHT), (TEST_COLOR, 2)), ((pygame.K_RETURN,), (TEST_COLOR, 0))):
        press(*keys)
        app.tick()
        assert at() == expected, keys
    assert app.view.title.startswith("[test] episode_000000_epoch_001 (1/1)")
    press(pygame.K_i)  # no imagined episodes in this run: said in the header, the view stays
    app.tick()
    assert at() == (TEST_COLOR, 0) and "no imagination episodes in media/episodes/imagination" in app.view.title
    press(pygame.K_t, pygame.K_END)  # End is no browser key
    app.tick()
    assert at() == (red, 0)
    # Frame t's header: the action taken on it and its reward, as the episode videos show them.
    assert (app.view.action, app.view.reward, app.view.episode_return, app.view.done) == ("NOOP", 1.0, 1.0, False)


def test_pause_sleeps_instead_of_spinning(open_app, monkeypatch):
    monkeypatch.setattr(app_module, "IDLE_WAIT_MS", 200)
    app = open_app("agent-world-model")
    app.tick()
    press(pygame.K_PERIOD)
    app.tick()
    step = app.view.step
    wall, cpu = time.perf_counter(), time.process_time()
    app.tick()  # no event: waits for one
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert app.view.step == step and "paused" in app._status()
    assert wall >= 0.15 and cpu < 0.1, (wall, cpu)
    press(pygame.K_PERIOD)
    app.tick()
    assert app.view.step == step + 1


def test_recording_writes_an_mp4_and_the_frames(open_app, tmp_path):
    app = open_app("agent-world-model")
    press(pygame.K_COMMA)
    for _ in range(4):
        app.tick()
    assert "REC" in app._status()
    press(pygame.K_COMMA)
    app.tick()
    (mp4,) = app.saved
    assert mp4.parent == tmp_path / "recordings" and mp4.name.startswith("recording_")
    with np.load(mp4.with_suffix(".npz"), allow_pickle=False) as clip:
        assert clip["frames"].shape == (5, 64, 64, 3) and clip["frames"].dtype == np.uint8
        assert clip["actions"][0] == "-" and len(clip["rewards"]) == len(clip["dones"]) == 5
    assert mp4.stat().st_size > 0


def test_save_mode_asks_in_the_window_and_keeps_it_responsive(open_app):
    app = open_app("world-model", save_mode=True)
    press(pygame.K_d)
    app.tick()
    app.tick()
    press(pygame.K_RETURN)  # ends the episode: the question appears, the game waits
    app.tick()
    assert app.asking and "save this episode? y / n" in app._status()
    press(pygame.K_d)
    app.tick()  # returns: the window is redrawn while waiting for the answer
    assert app.view.step == 2 and app.asking
    press(pygame.K_y)
    app.tick()  # saves, starts a new episode and plays its first step
    assert not app.asking and app.view.step == 1 and len(app.saved) == 1
    with np.load(app.saved[0].with_suffix(".npz"), allow_pickle=False) as episode:
        assert list(episode["actions"]) == ["-", "RIGHT", "NOOP"]
    app.tick()
    press(pygame.K_RETURN, pygame.K_n)
    app.tick()
    assert not app.asking and app.view.step == 1 and len(app.saved) == 1  # "n" discards


def test_closing_the_window_or_escape_quits(open_app):
    for event in (pygame.event.Event(pygame.QUIT), pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE)):
        app = open_app("episodes")
        pygame.event.post(event)
        app.run(max_ticks=50)
        assert not app.running and not pygame.display.get_init()


def test_keymaps_are_the_authors_layout_on_valid_pygame_keys(display):
    assert action_keymap(ATARI_KEYS, ["NOOP", "FIRE", "RIGHT", "LEFT"]) == {"space": 1, "d": 2, "a": 3}
    assert len(action_keymap(ATARI_KEYS, list(ATARI_KEYS.values()))) == 17
    crafter_keys = action_keymap(CRAFTER_KEYS, list(CRAFTER_ACTIONS))
    assert crafter_keys["space"] == CRAFTER_ACTIONS.index("do") and crafter_keys["6"] == 16 and len(crafter_keys) == 16
    pygame.display.init()
    try:
        for name in [*ATARI_KEYS, *CRAFTER_KEYS, *BROWSER_KEYS, *GLOBAL_KEYS]:
            assert pygame.key.key_code(name) != pygame.K_UNKNOWN, name
    finally:
        pygame.display.quit()
    printed = describe({"space": 1, "up": "next episode"}, ["NOOP", "FIRE"]).splitlines()
    assert [line.split(maxsplit=1) for line in printed[:3]] == [["space", "FIRE"], ["up", "next episode"],
                                                               ["return", "new episode (browser: first frame)"]]


@pytest.mark.parametrize("header", [True, False])
def test_the_canvas_is_in_whole_macro_blocks_with_panels_at_one_height(header):
    frames = [np.zeros((210, 160, 3), np.uint8), np.zeros((64, 64, 3), np.uint8), np.zeros((64, 64, 3), np.uint8)]
    view = View([(str(i), frame) for i, frame in enumerate(frames)], "title", 0, "-", 0.0, 0.0, False, {"value": "0"})
    layout = Layout(view, 100, header)
    assert layout.panel_sizes == [(76, 100), (100, 100), (100, 100)]
    assert layout.size[0] % 16 == 0 and layout.size[1] % 16 == 0
    assert (layout.top > 0) == header
    canvas = render(view, layout, "REC")
    assert canvas.shape == (layout.size[1], layout.size[0], 3)
    assert (canvas[layout.top + 50, 100] == 0).all()  # the black frame, not the grey background
