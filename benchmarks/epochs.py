"""``benchmarks/speed.py``'s epoch rows: whole training phases through the trainer, over a dataset
sized as at given epochs of the paper's run, per path; each phase's time per step feeds the
projections (``benchmarks/projection.py``)."""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.reference_path import reference_phases
from benchmarks.timing import Bench, tf32, with_tf32
from iris_wm.data.dataset import EpisodeDataset
from iris_wm.data.episode import Episode
from iris_wm.envs.atari.env import AtariConfig, make_atari
from iris_wm.training.config import TrainConfig
from iris_wm.training.optim import make_optimizer
from iris_wm.training.trainer import Trainer


def random_dataset(env_config: AtariConfig, num_frames: int, seed: int = 0) -> EpisodeDataset:
    """Episodes under random actions, as the train env gives them, cut at ``num_frames``."""
    env = make_atari(env_config, seed=seed)
    rng = np.random.default_rng(seed)
    dataset = EpisodeDataset(None, "bench")
    while dataset.num_steps < num_frames:
        obs, _ = env.reset()
        frames, actions, rewards, ends = [], [], [], []
        done = False
        while not done and dataset.num_steps + len(frames) < num_frames:
            action = int(rng.integers(env.action_space.n))
            frames.append(obs.transpose(2, 0, 1))  # (3, 64, 64)
            obs, reward, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
            actions.append(action), rewards.append(reward), ends.append(int(terminated))
        dataset.add_episode(Episode(observations=np.stack(frames), actions=np.array(actions),
                                    rewards=np.array(rewards, dtype=np.float32), ends=np.array(ends)))
    env.close()
    return dataset


EPOCH_PATHS = {"reference": "reference, uncached", "uncached": "optimised, uncached", "cached": "optimised, cached",
               "fastest": "fastest, cached"}  # --epoch-paths name -> the rows' path
FASTEST = {"token_pass": "cuda-graphs", "compile_training": True, "bf16": True, "tf32": True}  # agent.speed


def clock_phases(trainer: Trainer) -> dict[str, list[float]]:
    """Seconds of each of ``trainer``'s phases in every epoch it trains from now on. A phase ends by
    reading its finiteness flag (a host sync), so its work is done when it returns."""
    seconds: dict[str, list[float]] = {phase.name: [] for phase in trainer.phases}
    train_phase = trainer.train_phase

    def timed(phase, epoch):
        started = time.perf_counter()
        metrics = train_phase(phase, epoch)
        seconds[phase.name].append(time.perf_counter() - started)
        return metrics
    trainer.train_phase = timed
    return seconds


def epoch_trainer(config: TrainConfig, path: str, run_dir: Path, dataset: EpisodeDataset) -> Trainer:
    """A trainer of ``path`` on ``dataset``: the reference path's phases train and imagine through the
    reference world model; the fastest path runs every agent.speed option, TF32 for its runs only."""
    t = config.training
    speed = replace(config.agent.speed, **FASTEST) if path.startswith("fastest") else config.agent.speed
    run_config = replace(config, training=replace(t, cache_tokens=path.endswith(" cached")),
                         agent=replace(config.agent, speed=speed))
    with tf32(False):  # agent.speed.tf32 switches it for the process when the trainer builds the phases
        trainer = Trainer(run_config, run_dir / path.replace(", ", "_"))
    trainer.train_dataset = dataset
    trainer.agent.tokenizer.perceptual_trunk_weights = "random"
    if path.startswith("reference"):
        trainer.phases = reference_phases(trainer.agent, trainer.phases)
        trainer.optimizers["world_model"] = make_optimizer(trainer.agent.world_model, t.learning_rate,
                                                           t.world_model.weight_decay)
    return trainer


def bench_epoch(bench: Bench, size: str, config: TrainConfig, like_epochs: list[int], steps: int,
                paths: list[str]) -> dict[str, dict[int, dict[str, float]]]:
    """The three training phases of one epoch, ``steps`` steps each, over a dataset whose frames are
    each sampled as often as in epoch ``like_epoch`` of the paper's run (200 new frames per epoch,
    200 steps per phase), for each of ``like_epochs``. Returns path -> epoch -> phase -> median
    seconds per step."""
    t = config.training
    for component in (t.tokenizer, t.world_model, t.actor_critic):
        component.start_after_epochs, component.steps_per_epoch = 0, steps
    samples = steps * t.world_model.batch_num_samples * config.agent.world_model.max_blocks
    paper_samples = 200 * 64 * 20  # frames sampled by one world-model phase of the paper
    per_step: dict[str, dict[int, dict[str, float]]] = {path: {} for path in paths}
    for like_epoch in like_epochs:
        num_frames = max(200, round(samples * (200 * like_epoch) / paper_samples))
        dataset = random_dataset(config.env.train, num_frames)
        setting = (f"{steps} steps/phase, batches {t.tokenizer.batch_num_samples}/{t.world_model.batch_num_samples}/"
                   f"{t.actor_critic.batch_num_samples}, {num_frames} frames (as epoch {like_epoch})")
        with tempfile.TemporaryDirectory() as run_dir:
            trainers = {path: epoch_trainer(config, path, Path(run_dir), dataset) for path in paths}
            clocks = {path: clock_phases(trainer) for path, trainer in trainers.items()}
            runs = {path: (with_tf32 if path.startswith("fastest") else lambda run: run)(
                lambda tr=trainer: tr.train_agent(epoch=1)) for path, trainer in trainers.items()}
            for path in paths:
                if path.startswith("fastest"):
                    runs[path]()  # compiles its losses and token pass (the FLOP count's run is eager)
            rows = bench.compare("training phases of an epoch", size, setting, "epochs", 1, runs)
            for trainer in trainers.values():
                trainer.logger.close(), trainer.train_env.close(), trainer.test_env.close()
        for row in rows:
            timed = {name: statistics.median(seconds[-bench.repeats:]) / steps
                     for name, seconds in clocks[row.path].items()}
            row.per_step, row.like_epoch = timed, like_epoch
            per_step[row.path][like_epoch] = timed
        bench.on_rows(bench.rows)
    return per_step


def bench_smoke_epoch(bench: Bench, config: TrainConfig) -> None:
    """One whole epoch of ``config`` (cpu-smoke's) with every phase on: collection, three phases, checkpoint."""
    for component in (config.training.tokenizer, config.training.world_model, config.training.actor_critic):
        component.start_after_epochs = 0
    config.evaluation.enabled, config.common.epochs, config.logger.tensorboard = False, 1, False
    with tempfile.TemporaryDirectory() as run_dir:
        def epoch() -> None:
            Trainer(config, Path(run_dir) / str(time.perf_counter())).run()
        bench.compare("whole epoch", "cpu-smoke", "setup + collection + 3 phases + checkpoint", "epochs", 1,
                      {"optimised, cached": epoch})
