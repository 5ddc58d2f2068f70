"""The pygame window: keys in, one drawn frame out per tick, recording and save mode.

Each tick: read the events; step the source (every tick if it moves alone, else on each key);
draw the view with ``render`` and blit it. While paused, asking whether to save, or browsing with
no key pressed, the loop sleeps in ``pygame.event.wait`` instead of spinning (the authors' viewer spun
at 100% CPU).
"""

from __future__ import annotations

import os
from pathlib import Path

from iris_wm.errors import IrisError

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # no banner on import
import pygame  # noqa: E402  (after the line above)

from iris_wm.play.recording import new_stem, save_clip
from iris_wm.play.render import Layout, render
from iris_wm.play.view import View

IDLE_WAIT_MS = 500  # a wait for a key sleeps at most this long, so that tick() always returns


class App:
    def __init__(self, source, *, fps: int, height: int, header: bool, save_mode: bool, recordings: Path) -> None:
        self.source, self.fps, self.save_mode, self.recordings = source, fps, save_mode, recordings
        self.view = source.reset()
        self.layout = Layout(self.view, height, header)
        try:
            pygame.display.init()
            self.screen = pygame.display.set_mode(self.layout.size)
        except pygame.error as error:
            raise IrisError(f"cannot open a window ({error}); add --headless to write a video instead") from None
        pygame.display.set_caption("iris play")
        if not source.moves_alone:
            pygame.key.set_repeat(300, 1000 // fps)  # a held key keeps browsing
        self.keys = {pygame.key.key_code(name): command for name, command in source.keymap.items()}
        self.clock = pygame.time.Clock()
        self.running, self.paused, self.asking = True, False, False
        self.recording: list[View] | None = None  # views since ',' started a recording
        self.episode: list[View] = [self.view]  # the running episode's views, kept in save mode
        self.saved: list[Path] = []  # every clip written, in order
        self.draw()

    def run(self, max_ticks: int | None = None) -> None:
        """Until the window is closed (or ``max_ticks`` ticks, for scripted runs)."""
        try:
            ticks = 0
            while self.running and (max_ticks is None or ticks < max_ticks):
                self.tick()
                ticks += 1
        finally:
            self.close()

    def tick(self) -> None:
        action = self._read_events()
        if self.running and self.source.moves_alone and not (self.paused or self.asking):
            if self.view.done:
                self._end_episode()
            else:
                self._show(self.source.step(action))
        self.draw()
        if self.source.moves_alone:
            self.clock.tick(self.fps)

    def draw(self) -> None:
        canvas = render(self.view, self.layout, self._status())
        self.screen.blit(pygame.image.frombuffer(canvas.tobytes(), self.layout.size, "RGB"), (0, 0))
        pygame.display.flip()

    def close(self) -> None:
        if self.recording is not None:
            self._stop_recording()
        pygame.display.quit()

    # -- events -----------------------------------------------------------------------------------

    def _read_events(self):
        """Handle this tick's events in order. A source that moves alone takes one command per step:
        returned is the first mapped key pressed, else a mapped key still held (a person's action),
        else None. The browser instead acts on every mapped key at once, so no press is lost."""
        waiting = self.paused or self.asking or not self.source.moves_alone
        events = ([pygame.event.wait(IDLE_WAIT_MS)] if waiting else []) + pygame.event.get()
        command = None
        for event in events:
            if event.type == pygame.QUIT:
                self.running = False
            elif event.type == pygame.KEYDOWN:
                pressed = self._key(event.key)
                command = pressed if command is None else command
        if command is None and self.source.moves_alone and self.keys:
            held = pygame.key.get_pressed()
            command = next((c for key, c in self.keys.items() if held[key]), None)
        return command

    def _key(self, key: int):
        """Act on a global key; returns the source's command for a mapped key, else None."""
        if self.asking:
            if key in (pygame.K_y, pygame.K_RETURN, pygame.K_n):
                self._answer(save=key != pygame.K_n)
        elif key == pygame.K_ESCAPE:
            self.running = False
        elif key == pygame.K_RETURN:
            self._end_episode()
        elif key == pygame.K_PERIOD:
            self.paused = not self.paused
        elif key == pygame.K_COMMA and self.recording is None:
            self.recording = [self.view]
        elif key == pygame.K_COMMA:
            self._stop_recording()
        elif key in self.keys and not self.paused:
            if self.source.moves_alone:
                return self.keys[key]
            self._show(self.source.step(self.keys[key]))
        return None

    # -- episodes, recording and save mode ----------------------------------------------------------

    def _show(self, view: View) -> None:
        self.view = view
        if self.recording is not None:
            self.recording.append(view)
        if self.save_mode:
            self.episode.append(view)

    def _end_episode(self) -> None:
        """On done or Enter: in save mode first ask (in the window) whether to keep the episode."""
        if self.save_mode and len(self.episode) > 1:
            self.asking = True
        else:
            self._reset()

    def _answer(self, save: bool) -> None:
        if save:
            self.saved.append(save_clip(self.episode, self.layout, self.fps, new_stem(self.recordings, "episode")))
            print(f"saved the episode ({len(self.episode)} frames): {self.saved[-1]} (+ .npz)")
        self.asking = False
        self._reset()

    def _reset(self) -> None:
        self.episode = []
        self._show(self.source.reset())

    def _stop_recording(self) -> None:
        views, self.recording = self.recording, None
        self.saved.append(save_clip(views, self.layout, self.fps, new_stem(self.recordings, "recording")))
        print(f"recorded {len(views)} frames: {self.saved[-1]} (+ .npz)")

    def _status(self) -> str:
        parts = ["save this episode? y / n" if self.asking else "", "paused" if self.paused else "",
                 "REC" if self.recording is not None else ""]
        return "  ·  ".join(part for part in parts if part)
