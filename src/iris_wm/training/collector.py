"""Collection of real experience with the agent (docs/algorithm.md, 'Training loop').

The vector env resets each env as soon as its episode ends, so no env idles while the others
finish (the original waited for all of them, wasting steps; docs/faithfulness.md). Finished episodes
are written to disk at once; unfinished ones are stored at the end of each call and continued
by the next, with their last frames replayed through the LSTM (burn-in).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm import tqdm

from iris_wm.agents import policy_temperature
from iris_wm.agents.base import Agent
from iris_wm.data.dataset import EpisodeDataset
from iris_wm.data.episode import Episode
from iris_wm.data.frames import hwc_to_chw, to_float
from iris_wm.envs import EnvKind
from iris_wm.envs.vector import env_infos
from iris_wm.training.config import CollectionConfig
from iris_wm.training.interrupt import check_stop

if TYPE_CHECKING:
    import gymnasium


@dataclass
class EpisodeBuffer:
    """Steps of one env's current episode collected during this call."""

    observations: list[np.ndarray] = field(default_factory=list)  # (3, H, W) uint8 each
    actions: list[int] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    extras: dict[str, list[np.ndarray]] = field(default_factory=dict)  # the env kind's per-step values

    def to_episode(self, truncated: bool = False) -> Episode:
        return Episode(observations=np.stack(self.observations), actions=np.array(self.actions, dtype=np.int64),
                       rewards=np.array(self.rewards, dtype=np.float32), ends=np.array(self.ends, dtype=np.int64),
                       truncated=truncated, extras={name: np.stack(v) for name, v in self.extras.items()})


class Collector:
    """``env_kind``'s hooks, where it has them: ``step_extras`` (info -> {name: array}) and ``episode_metrics``
    (finished episodes' last extras -> metrics); with ``metrics_over_whole_run`` the metrics cover every
    episode finished since the run began (a benchmark's budget), else those of each call."""

    def __init__(self, env: gymnasium.vector.VectorEnv, dataset: EpisodeDataset, rng: np.random.Generator, seed: int,
                 truncation_is_end: bool = True, on_episode_end=None, env_kind: EnvKind | None = None,
                 metrics_over_whole_run: bool = False) -> None:
        self.env, self.dataset, self.rng, self.seed = env, dataset, rng, seed
        self.truncation_is_end = truncation_is_end
        self.on_episode_end = on_episode_end  # callback(episode_id, Episode): media, logging
        self.step_extras = env_kind.step_extras if env_kind is not None else None
        self.episode_metrics = env_kind.episode_metrics if env_kind is not None else None
        self.metrics_over_whole_run = metrics_over_whole_run
        self.run_final_extras: list[dict[str, np.ndarray]] = []  # every finished episode's, metrics_over_whole_run
        self.observations: np.ndarray | None = None  # (N, 3, H, W) uint8: what each env shows now
        self.seeded = False
        self.epoch = 0  # of the last collection
        self.episode_ids: list[int | None] = [None] * env.num_envs  # dataset id of each unfinished episode

    def start_fresh(self) -> None:
        """Reset every env (seeded the first time; later resets continue the envs' random streams, so
        that successive evaluations see different no-op starts). Unfinished episodes stay as they are."""
        observations, _ = self.env.reset(seed=None if self.seeded else self.seed)
        self.observations = hwc_to_chw(observations)  # the envs' frames are (H, W, 3): moved once, here
        self.seeded = True
        self.episode_ids = [None] * self.env.num_envs

    @torch.no_grad()
    def collect(self, agent: Agent, config: CollectionConfig, epoch: int) -> dict[str, float]:
        if (config.num_steps is None) == (config.num_episodes is None):
            raise ValueError("give exactly one of num_steps and num_episodes")
        if self.observations is None:
            self.start_fresh()
        n = self.env.num_envs
        self.epoch = epoch
        num_steps, epsilon = config.num_steps, config.epsilon
        if epoch == 1 and config.num_steps_first_epoch is not None and config.num_steps is not None:
            num_steps, epsilon = config.num_steps_first_epoch, 1.0
        temperature = policy_temperature(agent, config.temperature)
        self._reset_policy_state(agent)
        buffers = [EpisodeBuffer() for _ in range(n)]
        # Evaluation gives every env the same number of episodes: stopping at the first 16 to end
        # would favour short ones.
        quota = None if config.num_episodes is None else episode_quota(config.num_episodes, n)
        finished_returns, finished_lengths, finished_extras, steps = [], [], [], 0
        total = num_steps if num_steps is not None else config.num_episodes
        progress = tqdm(total=total, desc=f"collect {self.dataset.name}", unit="step" if quota is None else "episode",
                        leave=False, dynamic_ncols=True, disable=None)
        while (steps < num_steps) if quota is None else (quota > 0).any():
            check_stop()
            if epsilon < 1:  # a fully random step needs no policy
                frames = to_float(torch.from_numpy(self.observations).to(agent.device))
                actions = agent.act(frames, config.should_sample, temperature).cpu().numpy()
            if self.rng.random() < epsilon:  # one draw for all envs, as the original (docs/faithfulness.md)
                actions = self.rng.integers(self.env.single_action_space.n, size=n)
            observations, rewards, terminated, truncated, infos = self.env.step(actions)
            # From each env's info of this step: the ended episode's last step where one ended.
            extras = [self.step_extras(info) for info in env_infos(infos, n)] if self.step_extras else [{}] * n
            for i in range(n):
                buffers[i].observations.append(self.observations[i])
                buffers[i].actions.append(int(actions[i]))
                buffers[i].rewards.append(float(rewards[i]))
                ended = terminated[i] or (truncated[i] and self.truncation_is_end)
                buffers[i].ends.append(int(ended))
                for name, value in extras[i].items():
                    buffers[i].extras.setdefault(name, []).append(value)
            steps += n
            for i in np.flatnonzero(terminated | truncated):
                if quota is not None and quota[i] <= 0:
                    buffers[i], self.episode_ids[i] = EpisodeBuffer(), None  # past its quota: dropped
                    continue
                episode = self._store(i, buffers[i], truncated=bool(truncated[i] and not terminated[i]))
                finished_returns.append(episode.metrics()["episode_return"])
                finished_lengths.append(len(episode))
                finished_extras.append(episode.final_extras())
                buffers[i] = EpisodeBuffer()
                if quota is not None:
                    quota[i] -= 1
                    progress.update(1)
                agent.reset_policy_rows(torch.from_numpy(np.arange(n) == i).to(agent.device))
            if quota is None:
                progress.update(n)
            self.observations = hwc_to_chw(observations)
        progress.close()
        if quota is None:
            for i in range(n):
                if buffers[i].actions:
                    self._store(i, buffers[i], finished=False)
        else:
            self.observations = None  # evaluation episodes are never continued
        agent.clear_policy()
        self.dataset.save_modified()
        if self.metrics_over_whole_run:
            self.run_final_extras += finished_extras
        return self._metrics(finished_returns, finished_lengths,
                             self.run_final_extras if self.metrics_over_whole_run else finished_extras)

    def state_dict(self) -> dict:
        extras = [{name: value.tolist() for name, value in final.items()} for final in self.run_final_extras]
        return {"seed": self.seed, "epoch": self.epoch, "run_final_extras": extras}

    def load_state_dict(self, state: dict) -> None:
        """The envs cannot be restored mid-episode: they restart, with a seed that depends on the
        epoch, so that a resumed run does not replay its first episodes (the original did)."""
        self.seed = state["seed"] + 1_000 * state["epoch"]
        self.epoch = state["epoch"]
        self.run_final_extras = [{name: np.array(value) for name, value in final.items()}
                                 for final in state["run_final_extras"]]

    def _store(self, i: int, buffer: EpisodeBuffer, truncated: bool = False, finished: bool = True) -> Episode:
        """Add env i's buffered steps to the dataset (a new episode, or the continuation of one)."""
        chunk = buffer.to_episode(truncated)
        if self.episode_ids[i] is None:
            self.episode_ids[i] = self.dataset.add_episode(chunk)
        else:
            self.dataset.update_episode(self.episode_ids[i], chunk)
        episode_id = self.episode_ids[i]
        episode = self.dataset.get_episode(episode_id)
        if finished:
            self.dataset.save_modified()  # a finished episode is on disk before collection goes on
            if self.on_episode_end is not None:
                self.on_episode_end(episode_id, episode)
            self.episode_ids[i] = None
        return episode

    def _reset_policy_state(self, agent: Agent) -> None:
        """Fresh policy state, or the state after replaying the last frames of unfinished episodes."""
        n, burn_in = self.env.num_envs, agent.burn_in
        if burn_in == 0 or all(i is None for i in self.episode_ids):
            agent.reset_policy(n)
            return
        frames = np.zeros((n, burn_in, *self.observations.shape[1:]), dtype=np.uint8)  # (N, T, 3, H, W)
        mask = np.zeros((n, burn_in), dtype=bool)
        for i, episode_id in enumerate(self.episode_ids):
            if episode_id is not None:
                recent = self.dataset.get_episode(episode_id).observations[-burn_in:]  # (t, 3, H, W)
                frames[i, burn_in - len(recent):] = recent
                mask[i, burn_in - len(recent):] = True
        frames_t = to_float(torch.from_numpy(frames).to(agent.device))
        agent.reset_policy(n, frames_t, torch.from_numpy(mask).to(agent.device))

    def _metrics(self, returns: list[float], lengths: list[int], final_extras: list[dict]) -> dict[str, float]:
        name = self.dataset.name
        metrics = {f"{name}/#episodes": self.dataset.num_episodes, f"{name}/#steps": self.dataset.num_steps}
        if returns:
            metrics[f"{name}/return"] = float(np.mean(returns))
            metrics[f"{name}/episode_length"] = float(np.mean(lengths))
            metrics[f"{name}/episodes_finished"] = len(returns)
        if self.episode_metrics and final_extras:
            metrics |= {f"{name}/{key}": value for key, value in self.episode_metrics(final_extras).items()}
        return metrics


def episode_quota(num_episodes: int, num_envs: int) -> np.ndarray:
    """Episodes each env contributes: as equal as possible, summing to num_episodes."""
    quota = np.full(num_envs, num_episodes // num_envs)
    quota[: num_episodes % num_envs] += 1
    return quota
