"""``iris eval RUN_DIR|CHECKPOINT``: the paper's test protocol on the real game.

Full games (no life-loss ends, one no-op start, 108,000-frame limit), actions sampled at the agent
kind's test temperature (as its authors evaluate it; `iris info` lists them); by default 100
episodes over 25 environments, as the authors' evaluation script. Writes the per-episode returns as
JSON in the published score-file format (game -> [score of this run]) with the details beside.
``--policy random`` plays the uniformly random policy under the same protocol, on a run folder's test
env (or ``--env``'s), and writes RUN_DIR/random_policy/eval_TIME.json: beside the run's own evaluations,
not among them.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from iris_wm.cli_arguments import add_pretrained_arguments

    parser.add_argument("path", nargs="?", help="a run folder, a checkpoint folder, the authors' last.pt, or "
                                                "hf://OWNER/REPO/FILE[@REVISION]")
    add_pretrained_arguments(parser)
    parser.add_argument("--episodes", type=int, default=100, help="test episodes (the paper: 100)")
    parser.add_argument("--num-envs", type=int, default=25, help="environments stepped together (the authors': 25)")
    parser.add_argument("--env", help="the game; read from the run folder when not given")
    parser.add_argument("--video", action="store_true", help="also write every episode as MP4")
    parser.add_argument("--out", type=Path, help="JSON file to write (default: RUN_DIR/eval/eval_TIME.json)")
    parser.add_argument("--temperature", type=float,
                        help="policy sampling temperature (default: the agent kind's test temperature, "
                             "which iris info lists)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--world-model", dest="prediction", action="store_true",
                        help="also measure the world model's open-loop prediction error on the episodes played: "
                             "frame error, reward and end accuracy per imagined step (a table and a figure)")
    parser.add_argument("--world-model-episodes", dest="prediction_episodes", type=Path, metavar="FOLDER",
                        help="with --world-model: measure it on these episodes (a dataset folder, e.g. "
                             "RUN_DIR/checkpoints/dataset/test) instead of those played: the same folder for "
                             "several agents compares their world models on the same episodes")
    parser.add_argument("--horizon", type=int, default=10, help="with --world-model: imagined steps (default 10)")
    parser.add_argument("--segments", type=int, default=256,
                        help="with --world-model: segments of the episodes measured (default 256)")
    parser.add_argument("--policy", choices=["agent", "random"], default="agent",
                        help="random: the uniformly random policy under the same protocol (PATH, a run folder, "
                             "or --env gives the env), the floor of learning curves")
    parser.add_argument("--device", default="auto")


def run(args: argparse.Namespace) -> int:
    from iris_wm.atomic import atomic_write_text, check_writable
    from iris_wm.checkpoint import load_agent
    from iris_wm.cli_arguments import agent_source
    from iris_wm.errors import IrisError
    from iris_wm.evaluation.protocol import EvalProtocol, evaluate, summary_lines
    from iris_wm.run_folder import RunFolder

    random = args.policy == "random"
    if random and args.prediction:
        raise IrisError("--world-model measures an agent's world model; the random policy has none")
    if args.prediction_episodes is not None and not args.prediction:
        raise IrisError("--world-model-episodes says where to measure --world-model; give both")
    protocol = EvalProtocol(args.episodes, args.num_envs, args.temperature, args.seed,
                            args.horizon if args.prediction else 0, args.segments, args.prediction_episodes)
    source = random_policy_source(args) if random else agent_source(args)
    env_kind, env_config, run_dir = test_env_config(source, args.env if source.path is not None else None)
    run = RunFolder(run_dir or Path("."))
    folder = run.random_policy if random else run.eval_dir
    out = args.out or folder / f"eval_{time.strftime('%Y-%m-%d_%H-%M-%S')}.json"
    check_writable(out, "--out", folder=False)
    agent = None if random else load_agent(source.path, device=args.device)
    video_dir = out.parent / f"{out.stem}_videos" if args.video else None
    result = evaluate(agent, env_kind, env_config, protocol, "random policy" if random else str(source.path),
                      video_dir)
    # The scores first: a failure to write them must not lose an evaluation that took hours.
    for line in summary_lines(result, env_kind.score_metric):
        print(line, flush=True)
    atomic_write_text(out, json.dumps(result, indent=1))
    print(f"scores -> {out}")
    if args.prediction:
        print_prediction(result["details"]["prediction"], out.with_name(f"{out.stem}_prediction.png"))
    return 0


def print_prediction(prediction: dict | None, figure: Path) -> None:
    """The world model's error per horizon, as a table and a figure."""
    from iris_wm.training.prediction import PredictionError, prediction_figure, prediction_report

    if prediction is None:
        print("world model: no episode was long enough to measure its predictions; play more or longer episodes")
        return
    error = PredictionError.from_json(prediction)
    print("world model, open loop from real context frames, real actions:")
    print(prediction_report({"world model": error}).terminal)
    print(f"figure -> {prediction_figure({'world model': error}, figure)}")


def random_policy_source(args: argparse.Namespace):
    """Where the random policy plays: a run folder's test env, or the game of ``--env``."""
    from iris_wm.cli_arguments import AgentSource, env_choice
    from iris_wm.envs import get_env_kind
    from iris_wm.errors import IrisError

    if args.pretrained is not None or args.agent is not None or args.temperature is not None:
        raise IrisError("--policy random plays no agent: leave out --pretrained, --agent and --temperature")
    if args.path is None:
        if args.env is None:
            raise IrisError("--policy random needs the env: a run folder as PATH, or --env GAME")
        kind, game = env_choice(args.env)
        return AgentSource(None, kind, game or get_env_kind(kind).config_class().id)
    return AgentSource(Path(args.path), None, None)


def test_env_config(source, game: str | None):
    """The environment kind and test settings of the run folder's config, or the paper's test
    settings of the game given with --env (or of the published agent)."""
    from dataclasses import replace

    from iris_wm.cli_arguments import env_choice
    from iris_wm.envs import DEFAULT_ENV_KIND, get_env_kind
    from iris_wm.errors import IrisError
    from iris_wm.run_folder import RunFolder
    from iris_wm.training.run_config import read_run_config

    path = source.path  # None: the random policy on --env's game
    if isinstance(path, Path) and not path.exists():
        raise IrisError(f"{path} does not exist; give a run folder, a checkpoint folder or a last.pt file")
    # a run folder, or the run folder of one of its checkpoints (RUN/checkpoints/epoch_N)
    run_dir = next((folder for folder in (path, path.parent.parent) if RunFolder(folder).config_file.is_file()),
                   None) if isinstance(path, Path) else None
    env_config = read_run_config(run_dir, []).env if run_dir is not None else None
    if env_config is None and game is not None:
        kind_name, game = env_choice(game)
        kind = get_env_kind(kind_name)
    else:
        kind = get_env_kind(env_config.kind if env_config is not None else source.env_kind or DEFAULT_ENV_KIND)
    test = env_config.test if env_config is not None else kind.config_class().test
    game = game or (test.id if run_dir is not None else source.game)
    if game is None:
        raise IrisError(f"{path} is not a run folder: say which game with --env, e.g. --env Pong")
    return kind, replace(test, id=kind.resolve_id(game)), run_dir
