"""``iris eval RUN_DIR|CHECKPOINT``: the paper's test protocol on the real game.

Full games (no life-loss ends, one no-op start, 108,000-frame limit), actions sampled at
temperature 0.5; by default 100 episodes over 25 environments, as the authors' evaluation script.
Writes the per-episode returns as JSON in the published score-file format (game -> [score of this
run]) with the details beside.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, help="a run folder, a checkpoint folder, or the authors' last.pt")
    parser.add_argument("--episodes", type=int, default=100, help="test episodes (the paper: 100)")
    parser.add_argument("--num-envs", type=int, default=25, help="environments stepped together (the authors': 25)")
    parser.add_argument("--env", help="the game; read from the run folder when not given")
    parser.add_argument("--video", action="store_true", help="also write every episode as MP4")
    parser.add_argument("--out", type=Path, help="JSON file to write (default: RUN_DIR/eval/eval_TIME.json)")
    parser.add_argument("--temperature", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from iris_wm.atomic import atomic_write_text, check_writable
    from iris_wm.checkpoint import load_agent
    from iris_wm.data.dataset import EpisodeDataset
    from iris_wm.errors import IrisError
    from iris_wm.training.collector import Collector
    from iris_wm.training.config import CollectionConfig
    from iris_wm.training.media import EpisodeMediaDir

    if args.episodes < 1 or args.num_envs < 1:
        raise IrisError("--episodes and --num-envs must be at least 1")
    if not args.temperature > 0:
        raise IrisError(f"--temperature must be positive, got {args.temperature} (the paper's test protocol: 0.5)")
    env_kind, env_config, run_dir = test_env_config(args)
    out = args.out or (run_dir or Path(".")) / "eval" / f"eval_{time.strftime('%Y-%m-%d_%H-%M-%S')}.json"
    check_writable(out, "--out", folder=False)
    agent = load_agent(args.path, device=args.device).eval()
    env = env_kind.make_vector_env(env_config, min(args.num_envs, args.episodes), args.seed)
    if env.num_actions != agent.num_actions:
        raise IrisError(f"{env_config.id} has {env.num_actions} actions but the agent was trained with "
                        f"{agent.num_actions}; pass the game it was trained on with --env")
    videos = EpisodeMediaDir(out.parent / f"{out.stem}_videos", keep=args.episodes if args.video else 0)
    dataset = EpisodeDataset(None, "eval")

    def save_video(episode_id, episode) -> None:
        videos.save(episode_id, 0, episode, title=f"{env_config.id} test episode {episode_id}",
                    action_names=env.action_names)

    collector = Collector(env, dataset, np.random.default_rng(args.seed), args.seed, on_episode_end=save_video,
                          step_extras=env_kind.step_extras)
    collector.collect(agent, CollectionConfig(num_envs=env.num_envs, epsilon=0.0, temperature=args.temperature,
                                              num_steps=None, num_episodes=args.episodes), epoch=0)
    env.close()
    episodes = [dataset.get_episode(i) for i in dataset.episode_ids]
    returns = [episode.metrics()["episode_return"] for episode in episodes]
    details = {"checkpoint": str(args.path), "episodes": len(returns), "mean": float(np.mean(returns)),
               "std": float(np.std(returns)), "episode_returns": returns, "temperature": args.temperature,
               "seed": args.seed}
    # What the env kind measures beyond the return (Crafter: achievement counts and the score).
    finals = [episode.final_extras() for episode in episodes]
    details |= {f"episode_{name}": [final[name].tolist() for final in finals] for name in finals[0]}
    if env_kind.episode_metrics:
        details |= env_kind.episode_metrics(finals)
    score = details[env_kind.score_metric] if env_kind.score_metric else float(np.mean(returns))
    result = {env_config.id: [score], "details": details}
    # The scores first: a failure to write them must not lose an evaluation that took hours.
    print(f"{env_config.id}: mean return {np.mean(returns):.2f} ± {np.std(returns):.2f} over {len(returns)} "
          f"episodes; returns: {' '.join(f'{r:g}' for r in returns)}", flush=True)
    if env_kind.score_metric:
        print(f"{env_config.id}: {env_kind.score_metric} {score:.2f}", flush=True)
    atomic_write_text(out, json.dumps(result, indent=1))
    print(f"scores -> {out}")
    return 0


def test_env_config(args: argparse.Namespace):
    """The environment kind and test settings of the run folder's config, or the paper's test
    settings of an Atari game given with --env."""
    from dataclasses import replace

    from iris_wm.envs import DEFAULT_ENV_KIND, get_env_kind
    from iris_wm.errors import IrisError
    from iris_wm.training.hydra_app import RESOLVED_CONFIG, read_run_config

    if not args.path.exists():
        raise IrisError(f"{args.path} does not exist; give a run folder, a checkpoint folder or a last.pt file")
    run_dir = args.path if (args.path / RESOLVED_CONFIG).is_file() else None
    env_config = read_run_config(run_dir, []).env if run_dir is not None else None
    kind = get_env_kind(env_config.kind if env_config is not None else DEFAULT_ENV_KIND)
    test = env_config.test if env_config is not None else kind.config_class().test
    game = args.env or (test.id if run_dir is not None else None)
    if game is None:
        raise IrisError(f"{args.path} is not a run folder: say which game with --env, e.g. --env Pong")
    return kind, replace(test, id=kind.resolve_id(game)), run_dir
