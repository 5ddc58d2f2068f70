"""The epoch loop (spec §10): collect, train each component from its start epoch, evaluate, save.

The trainer knows the components only through ``compute_loss`` and their parameters; what differs
between agent kinds stays in the agent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from iris_wm.agent import create_model
from iris_wm.data.batch import Batch
from iris_wm.data.dataset import EpisodeDataset
from iris_wm.devices import resolve_device
from iris_wm.envs.vector import make_vector_env
from iris_wm.envs.world_model_env import WorldModelEnv
from iris_wm.models.losses import Losses
from iris_wm.training.collector import Collector
from iris_wm.training.config import ComponentTraining, TrainConfig
from iris_wm.training.evaluation import Evaluator
from iris_wm.training.frame_cache import FrameCache
from iris_wm.training.media import EpisodeMediaDir
from iris_wm.training.metrics_logger import MetricsLogger
from iris_wm.training.optim import make_optimizer
from iris_wm.training.run_state import RunState

COMPONENTS = ("tokenizer", "world_model", "actor_critic")


class Trainer:
    def __init__(self, config: TrainConfig, run_dir: Path, resume: bool = False) -> None:
        self.config, self.run_dir = config, Path(run_dir)
        if config.common.num_threads > 0:
            torch.set_num_threads(config.common.num_threads)
        torch.manual_seed(config.common.seed)
        self.rng = np.random.default_rng(config.common.seed)  # dataset sampling and exploration
        self.device = resolve_device(config.common.device)
        self.train_env = make_vector_env(config.env.train, config.collection.train.num_envs, config.common.seed)
        self.test_env = make_vector_env(config.env.test, config.collection.test.num_envs, config.common.seed + 10_000)
        self.agent = create_model("iris", self.train_env.num_actions, self.device, config.agent)
        # Kept across steps so that its KV cache is allocated once.
        self.imagination_env = WorldModelEnv(self.agent.tokenizer, self.agent.world_model)
        self.optimizers = {name: make_optimizer(getattr(self.agent, name), config.training.learning_rate,
                                                getattr(config.training, name).weight_decay) for name in COMPONENTS}
        checkpoints = self.run_dir / "checkpoints"
        train_dir = checkpoints / "dataset" / "train"
        open_dataset = EpisodeDataset.load if resume and train_dir.is_dir() else EpisodeDataset
        self.train_dataset = open_dataset(train_dir, "train_dataset", max_ram_usage=config.dataset.max_ram_usage)
        self.test_dataset = EpisodeDataset(None, "test_dataset")
        media = self.run_dir / "media" / "episodes"
        self.train_media = EpisodeMediaDir(media / "train", keep=config.collection.train.num_episodes_to_save)
        self.test_media = EpisodeMediaDir(media / "test", keep=config.collection.test.num_episodes_to_save)
        names = self.train_env.action_names
        self.train_collector = Collector(self.train_env, self.train_dataset, self.rng, config.common.seed,
                                         config.training.truncation_is_end,
                                         self._media_writer(self.train_media, "train", names))
        self.test_collector = Collector(self.test_env, self.test_dataset, self.rng, config.common.seed + 10_000,
                                        config.training.truncation_is_end,
                                        self._media_writer(self.test_media, "test", names))
        self.evaluator = Evaluator(config, self.agent, self.test_dataset, self.run_dir, self.rng, names)
        self.state = RunState(self)
        self.start_epoch = self.state.restore() + 1 if resume else 1
        self.logger = MetricsLogger(self.run_dir, use_tensorboard=config.logger.tensorboard,
                                    wandb=self._wandb_settings(), start_epoch=self.start_epoch)

    def _wandb_settings(self) -> dict | None:
        c = self.config.logger
        return {"project": c.wandb_project, "mode": c.wandb_mode} if c.wandb else None

    def _media_writer(self, media: EpisodeMediaDir, title: str, names: list[str]) -> Callable:
        def write(episode_id, episode) -> None:
            media.save(episode_id, self.current_epoch, episode, title=f"{title} episode {episode_id}",
                       action_names=names)
        return write

    # -- the loop ---------------------------------------------------------------------------------

    def run(self) -> None:
        c = self.config
        for epoch in range(self.start_epoch, c.common.epochs + 1):
            self.current_epoch = epoch
            started = time.time()
            metrics: dict[str, float | torch.Tensor] = {}
            if c.training.should:
                if epoch <= c.collection.train.stop_after_epochs:
                    metrics |= self.train_collector.collect(self.agent, c.collection.train, epoch)
                metrics |= self.train_agent(epoch)
            if c.evaluation.should and epoch % c.evaluation.every == 0:
                self.test_dataset.clear()
                metrics |= self.test_collector.collect(self.agent, c.collection.test, epoch)
                metrics |= self.evaluator.evaluate(epoch)
            self.state.save(epoch)
            metrics["duration_hours"] = (time.time() - started) / 3600
            self.logger.log(metrics, epoch)
            if c.evaluation.should and epoch % c.evaluation.every == 0:
                self.logger.plot(self.run_dir / "media" / "learning_curves.png", c.agent.tokenizer.vocab_size)
            print(self.summary_line(epoch, metrics), flush=True)
        self.logger.close()
        self.train_env.close()
        self.test_env.close()

    def summary_line(self, epoch: int, metrics: dict) -> str:
        shown = {"train return": "train_dataset/return", "test return": "test_dataset/return",
                 "tok": "tokenizer/train/total_loss", "wm obs": "world_model/train/loss_obs",
                 "ac": "actor_critic/train/total_loss"}
        parts = [f"epoch {epoch}/{self.config.common.epochs}", f"{self.train_dataset.num_steps} env steps"]
        parts += [f"{label} {float(metrics[key]):.3f}" for label, key in shown.items() if key in metrics]
        return " | ".join(parts + [f"{metrics['duration_hours'] * 3600:.0f}s"])

    # -- training ---------------------------------------------------------------------------------

    def train_agent(self, epoch: int) -> dict[str, torch.Tensor]:
        c = self.config.training
        self.agent.train()
        agent = self.agent
        # Filled lazily during the world-model and actor-critic phases, after the tokenizer's.
        cache = FrameCache(agent.tokenizer, c.cache_reconstructions_gib * 2**30) if c.cache_tokens else None

        def world_model_loss(batch: Batch) -> Losses:
            tokens = cache.tokens(batch) if cache else None
            return agent.world_model.compute_loss(batch, agent.tokenizer, tokens)

        def actor_critic_loss(batch: Batch) -> Losses:
            tokens = cache.tokens(batch) if cache else None
            reconstructions = cache.reconstructions(batch, tokens) if cache else None
            return agent.actor_critic.compute_loss(batch, self.imagination_env, c.actor_critic_loss, tokens,
                                                   reconstructions)

        phases = {
            "tokenizer": (agent.tokenizer.compute_loss, 1, True),
            "world_model": (world_model_loss, agent.world_model.config.max_blocks, True),
            "actor_critic": (actor_critic_loss, 1 + c.actor_critic_loss.burn_in, False),
        }
        metrics: dict[str, torch.Tensor] = {}
        for name, (loss_fn, sequence_length, from_start) in phases.items():
            settings: ComponentTraining = getattr(c, name)
            if epoch > settings.start_after_epochs:
                metrics |= self.train_component(name, settings, loss_fn, sequence_length, from_start)
            getattr(self.agent, name).eval()  # frozen for the phases that follow (spec §10.3)
        return metrics

    def train_component(self, name: str, settings: ComponentTraining, loss_fn: Callable[[Batch], Losses],
                        sequence_length: int, sample_from_start: bool) -> dict[str, torch.Tensor]:
        component, optimizer = getattr(self.agent, name), self.optimizers[name]
        sums: dict[str, torch.Tensor] = {}
        steps = tqdm(range(settings.steps_per_epoch), desc=f"train {name}", leave=False, disable=None)
        for _ in steps:
            optimizer.zero_grad(set_to_none=True)
            for _ in range(settings.grad_acc_steps):
                batch = self.train_dataset.sample_batch(settings.batch_num_samples, sequence_length, self.rng,
                                                        sample_from_start, self.config.training.sampling_weighting)
                losses = loss_fn(batch.to(self.device))
                (losses.total / settings.grad_acc_steps).backward()
                for term, value in {"total_loss": losses.total.detach(), **losses.terms}.items():
                    sums[term] = sums.get(term, 0) + value / settings.grad_acc_steps
            torch.nn.utils.clip_grad_norm_(component.parameters(), settings.max_grad_norm)
            optimizer.step()
        # averaged on the device: the logger reads them once per epoch
        return {f"{name}/train/{term}": total / settings.steps_per_epoch for term, total in sums.items()}

