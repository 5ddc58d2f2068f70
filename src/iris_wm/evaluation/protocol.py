"""The paper's test protocol on the real game: full games (the env kind's test settings), actions
sampled at a temperature (by default the agent kind's, as its authors evaluate it), a number of
episodes over several environments (the authors' evaluation script: 100 over 25).
The result is a score file in the published runs format (``{game: [score of this run]}``) with the
details beside, as ``iris eval`` and ``iris benchmark`` write it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from iris_wm.agents import policy_temperature
from iris_wm.agents.base import Agent
from iris_wm.data.dataset import EpisodeDataset
from iris_wm.envs import EnvKind
from iris_wm.errors import IrisError
from iris_wm.evaluation.random_policy import RandomPolicy
from iris_wm.media import EpisodeMediaDir
from iris_wm.training.collector import Collector
from iris_wm.training.config import CollectionConfig
from iris_wm.training.prediction import open_loop_error


@dataclass(frozen=True)
class EvalProtocol:
    episodes: int = 100
    num_envs: int = 25
    temperature: float | None = None  # None: the agent kind's test temperature
    seed: int = 0
    # The world model's open-loop prediction error on the episodes played, up to this many imagined steps
    # (0: not measured), over this many segments of them (iris_wm.training.prediction).
    prediction_horizon: int = 0
    prediction_segments: int = 256
    # Measure it on these episodes (a folder of episode files) instead of those played: the same folder for
    # several agents puts their world models on the same footing.
    prediction_episodes: Path | None = None

    def __post_init__(self) -> None:
        if self.episodes < 1 or self.num_envs < 1:
            raise IrisError("--episodes and --num-envs must be at least 1")
        if self.prediction_horizon < 0 or self.prediction_segments < 1:
            raise IrisError("--horizon must be at least 1 and --segments at least 1")
        if self.prediction_episodes is not None and not any(Path(self.prediction_episodes).glob("*.npz")):
            raise IrisError(f"{self.prediction_episodes} holds no episode files (*.npz); give a dataset folder, e.g. "
                            f"RUN_DIR/checkpoints/dataset/test")
        if self.temperature is not None and not self.temperature > 0:
            raise IrisError(f"--temperature must be positive, got {self.temperature}; leave it out for the agent "
                            f"kind's test temperature")


def evaluate(agent: Agent | None, env_kind: EnvKind, env_config: Any, protocol: EvalProtocol, source: str,
             video_dir: Path | None = None) -> dict[str, Any]:
    """Play ``protocol.episodes`` test episodes -> ``{game: [score], "details": {...}}``, where the
    score is the env kind's ``score_metric`` (else the mean return). ``agent`` None: the random policy."""
    env = env_kind.make_vector_env(env_config, min(protocol.num_envs, protocol.episodes), protocol.seed)
    num_actions = int(env.single_action_space.n)
    if agent is None:
        agent, temperature = RandomPolicy(num_actions, protocol.seed), 1.0  # its draws ignore the temperature
    elif num_actions != agent.num_actions:
        env.close()
        raise IrisError(f"{env_config.id} has {num_actions} actions but the agent was trained with "
                        f"{agent.num_actions}; pass the game it was trained on with --env")
    else:
        temperature = policy_temperature(agent, protocol.temperature)
    # Episodes given for the prediction error are checked before any is played.
    given_episodes = prediction_dataset(protocol, agent) if protocol.prediction_episodes else None
    action_names = env_kind.action_names(env_config)
    videos = EpisodeMediaDir(video_dir or Path("."), keep=protocol.episodes if video_dir else 0)
    dataset = EpisodeDataset(None, "eval")

    def save_video(episode_id, episode) -> None:
        videos.save(episode_id, 0, episode, title=f"{env_config.id} test episode {episode_id}",
                    action_names=action_names)

    collector = Collector(env, dataset, np.random.default_rng(protocol.seed), protocol.seed,
                          on_episode_end=save_video, env_kind=env_kind)
    collector.collect(agent.eval(), CollectionConfig(num_envs=env.num_envs, epsilon=0.0,
                                                     temperature=temperature, num_steps=None,
                                                     num_episodes=protocol.episodes), epoch=0)
    env.close()
    episodes = [dataset.get_episode(i) for i in dataset.episode_ids]
    returns = [episode.metrics()["episode_return"] for episode in episodes]
    details = {"checkpoint": source, "episodes": len(returns), "mean": float(np.mean(returns)),
               "std": float(np.std(returns)), "episode_returns": returns, "temperature": temperature,
               "seed": protocol.seed, "policy": agent.kind}
    # What the env kind measures beyond the return (Crafter: achievement counts and the score).
    finals = [episode.final_extras() for episode in episodes]
    details |= {f"episode_{name}": [final[name].tolist() for final in finals] for name in finals[0]}
    if env_kind.episode_metrics:
        details |= env_kind.episode_metrics(finals)
    if protocol.prediction_horizon:
        measured = dataset if given_episodes is None else given_episodes
        error = open_loop_error(agent, measured, protocol.prediction_horizon, protocol.prediction_segments,
                                np.random.default_rng(protocol.seed))
        details["prediction"] = error.as_json() if error is not None else None
    score = details[env_kind.score_metric] if env_kind.score_metric else float(np.mean(returns))
    return {env_config.id: [score], "details": details}


def prediction_dataset(protocol: EvalProtocol, agent: Agent) -> EpisodeDataset:
    dataset = EpisodeDataset.load(Path(protocol.prediction_episodes), "prediction")
    largest = max(int(dataset.get_episode(i).actions.max()) for i in dataset.episode_ids)
    if largest >= agent.num_actions:
        raise IrisError(f"the episodes in {protocol.prediction_episodes} take action {largest}, and the agent has "
                        f"{agent.num_actions} actions; give episodes of the env it was trained on")
    return dataset


def summary_lines(result: dict[str, Any], score_metric: str | None) -> list[str]:
    """What ``iris eval`` prints of a result: returns, and the env kind's score where it has one."""
    game, details = next(key for key in result if key != "details"), result["details"]
    returns = details["episode_returns"]
    lines = [f"{game}: mean return {details['mean']:.2f} ± {details['std']:.2f} over {len(returns)} episodes; "
             f"returns: {' '.join(f'{r:g}' for r in returns)}"]
    if score_metric:
        lines.append(f"{game}: {score_metric} {result[game][0]:.2f}")
    return lines
