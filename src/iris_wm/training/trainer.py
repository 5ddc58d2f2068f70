"""The epoch loop: collect, train each of the agent's phases from its start epoch, evaluate, save.

The trainer knows the agent only through its contract (``iris_wm.agents.base``): the phases it
returns, its policy-state calls and its imagination. What differs between agent kinds stays in
the agent, and what differs between environment kinds in the env registry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from iris_wm.agents import create_model
from iris_wm.agents.base import Curve, Phase
from iris_wm.data.dataset import EpisodeDataset
from iris_wm.devices import resolve_device
from iris_wm.envs import get_env_kind
from iris_wm.errors import IrisError
from iris_wm.media import EpisodeMediaDir
from iris_wm.run_folder import RunFolder
from iris_wm.training.collector import Collector
from iris_wm.training.config import TrainConfig
from iris_wm.training.evaluator import Evaluator
from iris_wm.training.interrupt import Interrupted, check_stop, interrupted_message
from iris_wm.training.metrics_logger import MetricsLogger
from iris_wm.training.optim import make_optimizer
from iris_wm.training.run_state import RunState, Stateful
from iris_wm.training.warm_start import PATH_KEY, warm_start

TEST_SEED_OFFSET = 10_000  # the test envs' seed is the run's plus this: test episodes other than the train ones
RETURN_CURVES = (Curve("train_dataset/return"), Curve("test_dataset/return"))


class Trainer:
    def __init__(self, config: TrainConfig, run_dir: Path, resume: bool = False) -> None:
        self.config, self.folder = config, RunFolder(Path(run_dir))
        if config.common.num_threads > 0:
            torch.set_num_threads(config.common.num_threads)
        torch.manual_seed(config.common.seed)
        self.rng = np.random.default_rng(config.common.seed)  # dataset sampling and exploration
        self.device = resolve_device(config.common.device)
        env_kind = get_env_kind(config.env.kind)
        collection, seed = config.collection, config.common.seed
        test_seed = seed + TEST_SEED_OFFSET
        self.train_env = env_kind.make_vector_env(config.env.train, collection.train.num_envs, seed)
        self.test_env = env_kind.make_vector_env(config.env.test, collection.test.num_envs, test_seed)
        self.agent = create_model(config.agent.kind, int(self.train_env.single_action_space.n), self.device,
                                  config.agent)
        self.phases: list[Phase] = self.agent.phases(config.training)
        check_phase_names(self.phases, config.training)
        if not resume:
            for name in warm_start(self.agent, self.phases, config.initialization):
                print(f"warm start: the {name} from {config.initialization[PATH_KEY]}", flush=True)
        self.optimizers = {phase.name: make_optimizer(phase.module, phase.settings.learning_rate or phase.learning_rate,
                                                      phase.settings.weight_decay, phase.fused_optimizer)
                           for phase in self.phases}
        self.offline_dataset = collection.offline_dataset_path
        if self.offline_dataset is not None:  # offline: nothing is collected, nothing is written to these folders
            self.train_dataset = EpisodeDataset.load(self.offline_dataset / "train", "train_dataset")
            self.test_dataset = EpisodeDataset.load(self.offline_dataset / "test", "test_dataset")
        else:
            train_dir = self.folder.train_dataset
            open_dataset = EpisodeDataset.load if resume and train_dir.is_dir() else EpisodeDataset
            self.train_dataset = open_dataset(train_dir, "train_dataset", max_ram_usage=config.dataset.max_ram_usage)
            self.test_dataset = EpisodeDataset(None, "test_dataset")
        media = self.folder.episode_media
        self.train_media = EpisodeMediaDir(media("train"), keep=collection.train.num_episodes_to_save)
        self.test_media = EpisodeMediaDir(media("test"), keep=collection.test.num_episodes_to_save)
        names = env_kind.action_names(config.env.train)
        self.train_collector = Collector(self.train_env, self.train_dataset, self.rng, seed,
                                         config.training.truncation_is_end,
                                         self._media_writer(self.train_media, "train", names), env_kind,
                                         metrics_over_whole_run=True)
        self.test_collector = Collector(self.test_env, self.test_dataset, self.rng, test_seed,
                                        config.training.truncation_is_end,
                                        self._media_writer(self.test_media, "test", names), env_kind)
        self.env_curves = tuple(Curve(key) for key in env_kind.curves)
        self.evaluator = Evaluator(self.agent, self.phases, self.test_dataset, self.folder, self.rng, names,
                                   config.evaluation)
        # Samplers that count their draws (prioritised ones) continue their counts on resume.
        samplers = {f"{phase.name}_sampler": phase.sampler for phase in self.phases
                    if isinstance(phase.sampler, Stateful)}
        self.state = RunState(self.folder, self.agent, self.optimizers, self.rng, {
            "train_dataset": self.train_dataset, "test_dataset": self.test_dataset,
            "train_collector": self.train_collector, "test_collector": self.test_collector, **samplers})
        self.completed_epochs = self.state.restore() if resume else 0
        self.start_epoch = self.completed_epochs + 1
        self.logger = MetricsLogger(self.folder.root, use_tensorboard=config.logger.tensorboard,
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
            check_stop()
            self.current_epoch = epoch
            started = time.time()
            metrics: dict[str, float | torch.Tensor] = {}
            if c.training.enabled:
                if self.offline_dataset is None and epoch <= c.collection.train.stop_after_epochs:
                    metrics |= self.train_collector.collect(self.agent, c.collection.train, epoch)
                metrics |= self.train_agent(epoch)
            if c.evaluation.enabled and epoch % c.evaluation.every == 0:
                if self.offline_dataset is None:
                    self.test_dataset.clear()
                    metrics |= self.test_collector.collect(self.agent, c.collection.test, epoch)
                metrics |= self.evaluator.evaluate(epoch)
            self.train_dataset.save_modified()  # episodes first: a checkpoint never refers to missing ones
            metrics["duration_hours"] = (time.time() - started) / 3600
            # The metrics line before the checkpoint: a kill between them leaves a line that resume
            # drops with the epoch it redoes, never a checkpointed epoch without its line.
            self.logger.log(metrics, epoch)
            self.state.save(epoch)
            self.completed_epochs = epoch
            if c.evaluation.enabled and epoch % c.evaluation.every == 0:
                curves = [*RETURN_CURVES, *self.env_curves, *(curve for phase in self.phases for curve in phase.curves)]
                self.logger.plot(self.folder.learning_curves, curves)
            print(self.summary_line(epoch, metrics), flush=True)
        self.logger.close()
        self.train_env.close()
        self.test_env.close()

    def run_until_stopped(self, command: str) -> int:
        """``run``, or its stop at a safe point on SIGTERM / SIGINT, said in one line: the exit code."""
        try:
            self.run()
        except Interrupted as stop:
            print(f"{command}: {interrupted_message(stop, self.folder.root, self.completed_epochs)}", flush=True)
            return stop.exit_code
        return 0

    def summary_line(self, epoch: int, metrics: dict) -> str:
        shown = {"train return": "train_dataset/return", "test return": "test_dataset/return"}
        shown |= {label: f"{phase.name}/train/{term}" for phase in self.phases if phase.summary
                  for label, term in [phase.summary]}
        parts = [f"epoch {epoch}/{self.config.common.epochs}", f"{self.train_dataset.num_steps} env steps"]
        parts += [f"{label} {float(metrics[key]):.3f}" for label, key in shown.items() if key in metrics]
        return " | ".join(parts + [f"{metrics['duration_hours'] * 3600:.0f}s"])

    # -- training ---------------------------------------------------------------------------------

    def train_agent(self, epoch: int) -> dict[str, torch.Tensor]:
        self.agent.train()
        self.agent.start_epoch(self.config.training, epoch)
        metrics: dict[str, torch.Tensor] = {}
        for phase in self.phases:
            phase.sampler.start_epoch(epoch)
            if epoch > phase.settings.start_after_epochs:
                metrics |= self.train_phase(phase, epoch)
            phase.module.eval()  # frozen for the phases that follow
        return metrics

    def train_phase(self, phase: Phase, epoch: int) -> dict[str, torch.Tensor]:
        settings, optimizer = phase.settings, self.optimizers[phase.name]
        first = epoch == 1 and settings.steps_first_epoch is not None
        num_steps = settings.steps_first_epoch if first else settings.steps_per_epoch
        sums: dict[str, torch.Tensor] = {}
        # The first step (from 1) whose loss or gradient was not finite, kept on the device and read
        # once per phase: no host sync per step.
        first_bad_step = torch.zeros((), dtype=torch.long, device=self.device)
        steps = tqdm(range(1, num_steps + 1), desc=f"train {phase.name}", leave=False, disable=None)
        for step in steps:
            check_stop()
            optimizer.zero_grad(set_to_none=True)
            for _ in range(settings.grad_acc_steps):
                batch = self.train_dataset.sample_batch(settings.batch_num_samples, phase.sequence_length, self.rng,
                                                        phase.sampler)
                losses = phase.loss(batch.to(self.device))
                (losses.total / settings.grad_acc_steps).backward()
                for term, value in {"total_loss": losses.total.detach(), **losses.terms}.items():
                    sums[term] = sums.get(term, 0) + value / settings.grad_acc_steps
            grad_norm = torch.nn.utils.clip_grad_norm_(phase.module.parameters(), settings.max_grad_norm)
            finite = torch.isfinite(grad_norm) & torch.isfinite(losses.total.detach())
            first_bad_step = torch.where((first_bad_step == 0) & ~finite, step, first_bad_step)
            optimizer.step()
        if (bad := int(first_bad_step)) > 0:
            raise IrisError(f"the {phase.name} loss or gradient became non-finite at epoch {epoch}, step {bad} of "
                            f"{num_steps}; the run stopped before saving it, so the last checkpoint "
                            f"(epoch {epoch - 1}) stays current: lower the learning rate or max_grad_norm and resume")
        # averaged on the device: the logger reads them once per epoch
        return {f"{phase.name}/train/{term}": total / num_steps for term, total in sums.items()}


def check_phase_names(phases: list[Phase], training) -> None:
    """Each phase is named after the training config's field holding its settings (the contract of Phase): the
    keys training.NAME, initialization.load_NAME and the metrics' NAME/ rest on it."""
    for phase in phases:
        if getattr(training, phase.name, None) is not phase.settings:
            raise TypeError(f"the agent kind's phase {phase.name!r} must be named after the field of its training "
                            f"config that holds its settings (training.{phase.name})")
