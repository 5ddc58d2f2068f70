"""The training run's configuration (spec §11): dataclasses whose defaults are the paper's protocol.

Hydra composes them (``iris train key=value``); ``preset=cpu-smoke`` and friends are YAML files of
overrides beside this package's ``config/train.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from iris_wm.agent import IRISConfig
from iris_wm.envs.atari import AtariConfig
from iris_wm.models.actor_critic import ActorCriticLossConfig


@dataclass
class CommonConfig:
    epochs: int = 600
    device: str = "auto"  # auto picks CUDA when present
    seed: int = 0
    num_threads: int = 0  # torch CPU threads; 0 keeps torch's default


@dataclass
class EnvConfig:
    id: str = "???"  # the game, e.g. Pong, BreakoutNoFrameskip-v4 or ALE/Breakout-v5: sets train and test
    train: AtariConfig = field(default_factory=lambda: AtariConfig(
        max_episode_steps=20_000, noop_max=30, done_on_life_loss=True))
    test: AtariConfig = field(default_factory=lambda: AtariConfig(
        max_episode_steps=108_000, noop_max=1, done_on_life_loss=False))


@dataclass
class CollectionConfig:
    num_envs: int = 1
    epsilon: float = 0.01  # probability that a step's actions are replaced by uniform random ones
    should_sample: bool = True
    temperature: float = 1.0
    num_steps: int | None = 200  # per collection; exactly one of num_steps / num_episodes
    num_episodes: int | None = None
    burn_in: int = 20  # frames of an unfinished episode replayed through the LSTM when collection resumes
    num_episodes_to_save: int = 10  # episode videos kept in media/episodes/
    stop_after_epochs: int = 500  # train collection only


@dataclass
class Collections:
    train: CollectionConfig = field(default_factory=CollectionConfig)
    test: CollectionConfig = field(default_factory=lambda: CollectionConfig(
        num_envs=8, epsilon=0.0, temperature=0.5, num_steps=None, num_episodes=16))


@dataclass
class ComponentTraining:
    batch_num_samples: int = 64
    start_after_epochs: int = 5  # trains in epochs strictly after this one
    steps_per_epoch: int = 200
    grad_acc_steps: int = 1
    max_grad_norm: float = 10.0
    weight_decay: float = 0.0  # AdamW decay of linear / conv weights only (world model: 0.01)


@dataclass
class TrainingConfig:
    should: bool = True
    learning_rate: float = 1e-4
    # How segments are drawn: "episode" = each episode equally likely (the original), "step" =
    # proportional to length (spec §17 item 7).
    sampling_weighting: str = "episode"
    # Time-limit truncations stored as episode ends (the original, spec §17 item 3); false stores
    # them as unfinished so the world model does not learn to predict ends there.
    truncation_is_end: bool = True
    # Per-epoch caches of the frozen tokenizer's tokens and reconstructions of sampled real frames
    # (the same numbers, less work); reconstructions take 48 KiB per frame, kept up to this size.
    cache_tokens: bool = True
    cache_reconstructions_gib: float = 4.0
    tokenizer: ComponentTraining = field(default_factory=lambda: ComponentTraining(
        batch_num_samples=256, start_after_epochs=5))
    world_model: ComponentTraining = field(default_factory=lambda: ComponentTraining(
        batch_num_samples=64, start_after_epochs=25, weight_decay=0.01))
    actor_critic: ComponentTraining = field(default_factory=lambda: ComponentTraining(
        batch_num_samples=64, start_after_epochs=50))
    actor_critic_loss: ActorCriticLossConfig = field(default_factory=ActorCriticLossConfig)


@dataclass
class EvaluationConfig:
    should: bool = True
    every: int = 5
    save_reconstructions: bool = True
    imagination_episodes_to_save: int = 8  # imagined rollouts written as videos per evaluation


@dataclass
class DatasetConfig:
    max_ram_usage: str = "30G"  # train dataset cap: GiB of this process ("30G") or system percent ("80%")


@dataclass
class LoggerConfig:
    tensorboard: bool = True
    wandb: bool = False  # opt-in; offline unless wandb_mode says otherwise
    wandb_project: str = "iris-wm"
    wandb_mode: str = "offline"


@dataclass
class TrainConfig:
    agent: IRISConfig = field(default_factory=IRISConfig)
    env: EnvConfig = field(default_factory=EnvConfig)
    common: CommonConfig = field(default_factory=CommonConfig)
    collection: Collections = field(default_factory=Collections)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
