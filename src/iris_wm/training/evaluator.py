"""Evaluation during training: each phase's loss on the test episodes, imagined rollouts (saved as
videos, and their metrics logged, which the original forgot), the world model's open-loop prediction
error, and a reconstruction grid."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from tqdm import tqdm

from iris_wm.agents.base import Agent, Phase
from iris_wm.data.batch import Batch
from iris_wm.data.dataset import EpisodeDataset
from iris_wm.data.episode import Episode
from iris_wm.data.frames import to_uint8
from iris_wm.media import EpisodeMediaDir, save_reconstructions
from iris_wm.models.losses import Losses
from iris_wm.run_folder import RunFolder
from iris_wm.training.config import EvaluationConfig
from iris_wm.training.interrupt import check_stop
from iris_wm.training.prediction import PredictionError, open_loop_error, prediction_figure

PREDICTION_EPOCHS_DRAWN = 5  # the figure of the prediction error shows the latest evaluations


class Evaluator:
    def __init__(self, agent: Agent, phases: list[Phase], dataset: EpisodeDataset, run: RunFolder,
                 rng: np.random.Generator, action_names: list[str], config: EvaluationConfig) -> None:
        self.agent, self.phases, self.dataset, self.rng = agent, phases, dataset, rng
        self.run, self.action_names, self.config = run, action_names, config
        self.imagination_media = EpisodeMediaDir(run.episode_media("imagination"),
                                                 keep=config.imagination_episodes_to_save)
        self.predictions: dict[str, PredictionError] = {}

    @torch.no_grad()
    def evaluate(self, epoch: int) -> dict[str, float | torch.Tensor]:
        self.agent.eval()
        metrics: dict[str, float | torch.Tensor] = {}
        started = [phase for phase in self.phases if epoch > phase.settings.start_after_epochs]
        for phase in started:
            if phase.eval_loss is not None:
                batches = self.dataset.traverse(phase.settings.batch_num_samples, phase.sequence_length)
                metrics |= mean_losses(phase.name, map(phase.eval_loss, self._on_device(batches)))
        for phase in started:
            if phase.uses_imagination:
                metrics |= self.inspect_imagination(epoch, phase)
        learnt = [phase for phase in self.phases if not phase.uses_imagination]  # what imagination is made of
        has_episodes = self.dataset.num_episodes > 0
        if self.config.prediction_horizon and has_episodes and all(phase in started for phase in learnt):
            metrics |= self.measure_prediction(epoch)
        if self.config.save_reconstructions and has_episodes:
            self.save_reconstructions(epoch)
        return metrics

    def _on_device(self, batches: Iterator[Batch]) -> Iterator[Batch]:
        for batch in tqdm(batches, desc="evaluate", leave=False, disable=None):
            check_stop()
            yield batch.to(self.agent.device)

    def inspect_imagination(self, epoch: int, phase: Phase) -> dict[str, float]:
        """The policy's rollouts in imagination from test episodes, sampled as the phase samples."""
        batch = self.dataset.sample_batch(phase.settings.batch_num_samples, phase.sequence_length, self.rng,
                                          phase.sampler.for_evaluation())
        out = self.agent.imagine(batch.to(self.agent.device))
        episodes = [Episode(observations=out.observations[i].cpu().numpy(), actions=out.actions[i].cpu().numpy(),
                            rewards=out.rewards[i].cpu().numpy(), ends=out.ends[i].long().cpu().numpy())
                    for i in range(out.actions.shape[0])]
        for i, episode in enumerate(episodes[: self.imagination_media.keep]):
            self.imagination_media.save((epoch - 1) * len(episodes) + i, epoch, episode,
                                        title=f"imagined, epoch {epoch}", action_names=self.action_names)
        returns = [e.metrics()["episode_return"] for e in episodes]
        return {"imagination/return": float(np.mean(returns)),
                "imagination/episode_length": float(np.mean([len(e) for e in episodes]))}

    def measure_prediction(self, epoch: int) -> dict[str, float]:
        # Its own generator: the run's draws (and so its numbers) are the same with or without it.
        rng = np.random.default_rng(epoch)
        error = open_loop_error(self.agent, self.dataset, self.config.prediction_horizon,
                                self.config.prediction_segments, rng)
        if error is None:
            return {}
        self.predictions[f"epoch {epoch}"] = error
        self.predictions = dict(list(self.predictions.items())[-PREDICTION_EPOCHS_DRAWN:])
        prediction_figure(self.predictions, self.run.prediction_figure)
        return error.metrics()

    def save_reconstructions(self, epoch: int) -> None:
        batch = self.dataset.sample_batch(3, self.agent.context_length, self.rng)
        batch = batch.to(self.agent.device)
        pixels = lambda x: to_uint8(x).cpu().numpy()  # noqa: E731
        save_reconstructions(self.run.reconstruction(epoch), pixels(batch.observations),
                             pixels(self.agent.reconstruct(batch)))


def mean_losses(component: str, losses: Iterator[Losses]) -> dict[str, torch.Tensor]:
    """Per-batch average of every term, as the original (docs/faithfulness.md, 'Kept on purpose')."""
    sums: dict[str, torch.Tensor] = {}
    count = 0
    for loss in losses:
        for term, value in {"total_loss": loss.total, **loss.terms}.items():
            sums[term] = sums.get(term, 0) + value
        count += 1
    return {f"{component}/eval/{term}": total / count for term, total in sums.items()} if count else {}
