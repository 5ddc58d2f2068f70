"""The training run's configuration: dataclasses whose defaults are the paper's protocol.

``agent`` and ``training`` are the chosen agent kind's (``agent=iris``), ``env`` the environment
kind's (``env=atari``); the rest is shared. Hydra composes them (``iris train key=value``);
``preset=cpu-smoke`` and friends are YAML files of overrides beside this package's
``config/train.yaml``, with each kind's own part beside the kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import MISSING

from iris_wm.agents.base import TrainingConfig
from iris_wm.config import at_least, one_of, positive, probability
from iris_wm.data.dataset import parse_ram_limit
from iris_wm.errors import IrisError


@dataclass
class CommonConfig:
    epochs: int = at_least(1, 600)
    device: str = "auto"  # auto picks CUDA when present
    seed: int = at_least(0, 0)
    num_threads: int = at_least(0, 0)  # torch CPU threads; 0 keeps torch's default


@dataclass
class CollectionConfig:
    num_envs: int = at_least(1, 1)
    epsilon: float = probability(0.01)  # probability that a step's actions are replaced by uniform random ones
    should_sample: bool = True
    temperature: float | None = positive(1.0)  # of the policy's sampling; null: the agent kind's test temperature
    num_steps: int | None = at_least(1, 200)  # per collection; exactly one of num_steps / num_episodes
    num_episodes: int | None = at_least(1, None)
    # Train collection in the run's epoch 1: this many steps of uniformly random actions instead
    # (a warm-up of the dataset before any policy exists); null collects epoch 1 like the others.
    num_steps_first_epoch: int | None = at_least(1, None)
    num_episodes_to_save: int = at_least(0, 10)  # episode videos kept in media/episodes/
    stop_after_epochs: int = at_least(0, 500)  # train collection only

    def __post_init__(self) -> None:
        if (self.num_steps is None) == (self.num_episodes is None):
            raise IrisError(f"a collection needs exactly one of num_steps and num_episodes, got {self.num_steps} "
                            f"and {self.num_episodes}: set one, and the other to null")


@dataclass
class CollectionsConfig:
    train: CollectionConfig = field(default_factory=CollectionConfig)
    # The test protocol samples at the agent kind's test temperature (its authors'), as iris eval does.
    test: CollectionConfig = field(default_factory=lambda: CollectionConfig(
        num_envs=8, epsilon=0.0, temperature=None, num_steps=None, num_episodes=16))
    # A folder with train/ and test/ folders of episodes (.npz, e.g. a run's checkpoints/dataset):
    # train on them without collecting anything, and evaluate on its test episodes (offline training).
    offline_dataset: str | None = None

    def __post_init__(self) -> None:
        if self.offline_dataset is None:
            return
        root = Path(self.offline_dataset).expanduser()
        for side in ("train", "test"):
            if not (root / side).is_dir() or not any((root / side).glob("episode_*.npz")):
                raise IrisError(f"collection.offline_dataset={root}: {root / side} holds no episodes; "
                                f"give a folder with train/ and test/ folders of episodes (e.g. a run's "
                                f"checkpoints/dataset)")

    @property
    def offline_dataset_path(self) -> Path | None:
        return None if self.offline_dataset is None else Path(self.offline_dataset).expanduser()


@dataclass
class EvaluationConfig:
    enabled: bool = True  # false: no evaluation at all (test collection, losses, media)
    every: int = at_least(1, 5)
    save_reconstructions: bool = True
    imagination_episodes_to_save: int = at_least(0, 8)  # imagined rollouts written as videos per evaluation
    # The world model's open-loop prediction error on test episodes, up to this many imagined steps (fewer
    # where its context holds fewer; 0: not measured), over this many segments (training/prediction.py).
    prediction_horizon: int = at_least(0, 10)
    prediction_segments: int = at_least(1, 32)


@dataclass
class DatasetConfig:
    max_ram_usage: str = "30G"  # train dataset cap: GiB of this process ("30G") or system percent ("80%")

    def __post_init__(self) -> None:
        parse_ram_limit(self.max_ram_usage)  # a malformed cap is an error now, not after collection


@dataclass
class LoggerConfig:
    tensorboard: bool = True
    wandb: bool = False  # opt-in; offline unless wandb_mode says otherwise
    wandb_project: str = "iris-wm"
    wandb_mode: str = one_of(("offline", "online", "disabled"), "offline")


@dataclass
class TrainConfig:
    agent: Any = MISSING  # the agent kind's config dataclass (agent=NAME)
    env: Any = MISSING  # the environment kind's config dataclass (env=NAME)
    common: CommonConfig = field(default_factory=CommonConfig)
    collection: CollectionsConfig = field(default_factory=CollectionsConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)  # the agent kind's subclass
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    # A warm start from another agent of the kind: path_to_checkpoint and load_<phase> for each of
    # its training phases (training/warm_start.py; the agent kind's keys, checked there).
    initialization: Any = field(default_factory=dict)
