"""Evaluation during training (spec §10.4): component losses on the test episodes, imagined
rollouts (saved as videos, and their metrics logged, which the original forgot: §17 item 1),
and a reconstruction grid."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from iris_wm.agent import Agent
from iris_wm.data.batch import Batch
from iris_wm.data.dataset import EpisodeDataset
from iris_wm.data.episode import Episode
from iris_wm.envs.world_model_env import WorldModelEnv
from iris_wm.models.losses import Losses
from iris_wm.training.config import TrainConfig
from iris_wm.training.media import EpisodeMediaDir, save_reconstructions


class Evaluator:
    def __init__(self, config: TrainConfig, agent: Agent, dataset: EpisodeDataset, run_dir: Path,
                 rng: np.random.Generator, action_names: list[str]) -> None:
        self.config, self.agent, self.dataset, self.rng = config, agent, dataset, rng
        self.action_names = action_names
        self.reconstructions_dir = run_dir / "media" / "reconstructions"
        self.imagination_media = EpisodeMediaDir(run_dir / "media" / "episodes" / "imagination",
                                                 keep=config.evaluation.imagination_episodes_to_save)

    @torch.no_grad()
    def evaluate(self, epoch: int) -> dict[str, float | torch.Tensor]:
        c, agent = self.config.training, self.agent
        agent.eval()
        metrics: dict[str, float | torch.Tensor] = {}
        if epoch > c.tokenizer.start_after_epochs:
            batches = self.dataset.traverse(c.tokenizer.batch_num_samples, 1)
            metrics |= mean_losses("tokenizer", map(agent.tokenizer.compute_loss, self._on_device(batches)))
        if epoch > c.world_model.start_after_epochs:
            batches = self.dataset.traverse(c.world_model.batch_num_samples, agent.world_model.config.max_blocks)
            metrics |= mean_losses("world_model", (agent.world_model.compute_loss(b, agent.tokenizer)
                                                   for b in self._on_device(batches)))
        if epoch > c.actor_critic.start_after_epochs:
            metrics |= self.inspect_imagination(epoch)
        if self.config.evaluation.save_reconstructions and self.dataset.num_episodes > 0:
            self.save_reconstructions(epoch)
        return metrics

    def _on_device(self, batches: Iterator[Batch]) -> Iterator[Batch]:
        return (batch.to(self.agent.device) for batch in tqdm(batches, desc="evaluate", leave=False, disable=None))

    def inspect_imagination(self, epoch: int) -> dict[str, float]:
        c = self.config.training
        batch = self.dataset.sample_batch(c.actor_critic.batch_num_samples, 1 + c.actor_critic_loss.burn_in,
                                          self.rng, sample_from_start=False)
        env = WorldModelEnv(self.agent.tokenizer, self.agent.world_model)
        out = self.agent.actor_critic.imagine(batch.to(self.agent.device), env, c.actor_critic_loss.imagine_horizon)
        episodes = [Episode(observations=out.observations[i].cpu().numpy(), actions=out.actions[i].cpu().numpy(),
                            rewards=out.rewards[i].cpu().numpy(), ends=out.ends[i].long().cpu().numpy())
                    for i in range(out.actions.shape[0])]
        for i, episode in enumerate(episodes[: self.imagination_media.keep]):
            self.imagination_media.save((epoch - 1) * len(episodes) + i, epoch, episode,
                                        title=f"imagined, epoch {epoch}", action_names=self.action_names)
        returns = [e.metrics()["episode_return"] for e in episodes]
        return {"imagination/return": float(np.mean(returns)),
                "imagination/episode_length": float(np.mean([len(e) for e in episodes]))}

    def save_reconstructions(self, epoch: int) -> None:
        batch = self.dataset.sample_batch(3, self.agent.world_model.config.max_blocks, self.rng, True)
        frames = batch.to(self.agent.device).observations  # (3, T, 3, H, W) in [0, 1]
        reconstructions = self.agent.tokenizer.encode_decode(frames, True, True).clamp(0, 1)
        to_uint8 = lambda x: x.mul(255).round().byte().cpu().numpy()  # noqa: E731
        save_reconstructions(self.reconstructions_dir / f"epoch_{epoch:04d}.png", to_uint8(frames),
                             to_uint8(reconstructions))


def mean_losses(component: str, losses: Iterator[Losses]) -> dict[str, torch.Tensor]:
    """Per-batch average of every term, as the original (spec §17 item 17)."""
    sums: dict[str, torch.Tensor] = {}
    count = 0
    for loss in losses:
        for term, value in {"total_loss": loss.total, **loss.terms}.items():
            sums[term] = sums.get(term, 0) + value
        count += 1
    return {f"{component}/eval/{term}": total / count for term, total in sums.items()} if count else {}
