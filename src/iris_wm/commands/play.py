"""``iris play RUN_DIR|CHECKPOINT [mode]``: watch the agent, play inside the world model, browse
saved episodes, in a pygame window or, with ``--headless``, into an MP4 (see docs/play.md).

As in the authors' viewer ``-h`` turns the header on; ``--help`` prints this help.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from iris_wm.cli_arguments import add_pretrained_arguments

    parser.add_argument("path", nargs="?", help="a run folder, a checkpoint folder, the authors' last.pt, or "
                                                "hf://OWNER/REPO/FILE[@REVISION]")
    add_pretrained_arguments(parser)
    parser.epilog = ("keys: Enter new episode, . pause, , record, Esc quit; -w and -e print theirs at start. "
                     "Details: docs/play.md")
    mode_group = parser.add_argument_group("mode (default: the agent plays the real test game)")
    modes = mode_group.add_mutually_exclusive_group()
    modes.add_argument("-w", "--world-model", dest="mode", action="store_const", const="world-model",
                       help="you play inside the world model with the keyboard (the first frame is real)")
    modes.add_argument("-a", "--agent-world-model", dest="mode", action="store_const", const="agent-world-model",
                       help="the agent plays inside the world model")
    modes.add_argument("-e", "--episodes", dest="mode", action="store_const", const="episodes",
                       help="browse the run's saved train / test / imagined episodes frame by frame")
    parser.set_defaults(mode="agent")
    # A group of its own that may take -h from --help: the authors' -h means header.
    view = parser.add_argument_group("display", conflict_handler="resolve")
    view.add_argument("-h", "-H", "--header", action="store_true",
                      help="show step, action, reward, return and done above the frames (--help prints help)")
    view.add_argument("-r", "--reconstruction", action="store_true",
                      help="default mode: show the raw frame, the 64x64 input and what the agent sees side by side")
    view.add_argument("-f", "--fps", type=int, default=15, metavar="N", help="frames per second (default 15)")
    view.add_argument("--height", type=int, default=480, metavar="PX",
                      help="height of each frame panel in pixels (default 480)")
    view.add_argument("-s", "--save-mode", action="store_true",
                      help="at the end of each episode ask (y/n, in the window) whether to save it")
    view.add_argument("--recordings", type=Path, metavar="DIR",
                      help="folder for recordings and saved episodes (default RUN_DIR/media/recordings)")
    headless = parser.add_argument_group("headless (every mode but -w)")
    headless.add_argument("--headless", action="store_true", help="write a video instead of opening a window")
    headless.add_argument("--steps", type=int, metavar="N", help="frames to write (default 500)")
    headless.add_argument("--out", type=Path, metavar="FILE.mp4",
                          help="the MP4 to write (default: in the recordings folder)")
    agent = parser.add_argument_group("agent and game")
    agent.add_argument("--flush-every", type=int, metavar="N",
                       help="-w/-a: restart the world model's memory from the current frame every N steps "
                            "(default: when its context is full)")
    agent.add_argument("--env", metavar="GAME", help="the game; read from the run folder when not given")
    agent.add_argument("--temperature", type=float, metavar="T",
                       help="policy sampling temperature (default: the agent kind's test temperature, "
                            "which iris info lists)")
    agent.add_argument("--seed", type=int, default=0, help="seeds the game and the sampling (default 0)")
    agent.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, ...")


def run(args: argparse.Namespace) -> int:
    from iris_wm.atomic import check_writable
    from iris_wm.cli_arguments import agent_source
    from iris_wm.play.session import Options, open_source
    from iris_wm.run_folder import RunFolder

    check_arguments(args)
    if args.out is not None:
        check_writable(args.out, "--out", folder=False)
    if not args.headless:
        check_display()
    agent = agent_source(args)
    options = Options(args.mode, args.env or agent.game, args.device, args.seed, args.temperature,
                      args.reconstruction, args.flush_every, agent.env_kind)
    source, run_dir, action_names = open_source(agent.path, options)
    recordings = args.recordings or RunFolder(run_dir or Path(".")).recordings
    if args.headless:
        from iris_wm.play.headless import write_headless
        from iris_wm.play.recording import new_stem

        out = args.out or new_stem(recordings, args.mode).with_suffix(".mp4")
        frames = write_headless(source, out, args.steps or 500, fps=args.fps, height=args.height, header=args.header)
        print(f"wrote {frames} frames to {out}")
        return 0
    return play_in_window(source, args, recordings, action_names)


def check_arguments(args: argparse.Namespace) -> None:
    from iris_wm.errors import IrisError

    for name, value, low in (("--fps", args.fps, 1), ("--height", args.height, 16), ("--steps", args.steps, 1),
                             ("--flush-every", args.flush_every, 1), ("--temperature", args.temperature, 1e-6)):
        if value is not None and value < low:
            raise IrisError(f"{name} must be at least {low:g}, got {value}")
    refusals = [
        (args.reconstruction and args.mode != "agent", "-r shows what the agent sees in the real game: only "
                                                       "in the default mode"),
        (args.flush_every is not None and args.mode not in ("world-model", "agent-world-model"),
         "--flush-every applies to the world model modes -w and -a"),
        (args.save_mode and args.mode == "episodes", "-s saves played episodes; -e shows saved ones"),
        (args.headless and args.mode == "world-model", "-w needs a person at the keyboard; for a video of "
                                                       "imagination use -a --headless"),
        (args.headless and args.save_mode, "-s asks a person; --headless writes every frame to --out anyway"),
        (not args.headless and (args.steps is not None or args.out is not None), "--steps and --out go with "
                                                                                  "--headless"),
    ]
    for refused, message in refusals:
        if refused:
            raise IrisError(message)


def check_display() -> None:
    """Fail before loading anything when no window can open (an SDL_VIDEODRIVER set by hand wins)."""
    from iris_wm.errors import IrisError

    if importlib.util.find_spec("pygame") is None:
        raise IrisError("the play window needs pygame: pip install 'iris-wm[play]' (--headless works without it)")
    if (sys.platform.startswith("linux") and not os.environ.get("SDL_VIDEODRIVER")
            and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")):
        raise IrisError("no display to open a window on (DISPLAY and WAYLAND_DISPLAY are unset); add --headless "
                        "to write a video instead, e.g. iris play RUN -a --headless --steps 500 --out play.mp4")


def play_in_window(source, args: argparse.Namespace, recordings: Path, action_names: list[str]) -> int:
    from iris_wm.play.app import App
    from iris_wm.play.keymap import describe

    print(f"keys:\n{describe(source.keymap, action_names)}")
    if args.save_mode:
        print("  y / n: save / discard each finished episode (asked in the window)")
    App(source, fps=args.fps, height=args.height, header=args.header, save_mode=args.save_mode,
        recordings=recordings).run()
    return 0
