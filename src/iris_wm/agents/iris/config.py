"""IRIS's configuration: the networks and losses (``agent.*``) and the training phases
(``training.*``). The defaults are the paper's protocol on Atari 100k (docs/algorithm.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

from iris_wm.agents.base import PhaseSettings, TrainingConfig
from iris_wm.agents.iris.actor_critic import ActorCriticConfig, ActorCriticLossConfig
from iris_wm.agents.iris.tokenizer import TokenizerConfig
from iris_wm.config import at_least, positive
from iris_wm.data.sampling import WEIGHTINGS
from iris_wm.errors import IrisError
from iris_wm.models.acceleration import SpeedConfig
from iris_wm.models.transformer import TransformerConfig


@dataclass
class IRISConfig:
    kind: str = "iris"
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    world_model: TransformerConfig = field(default_factory=TransformerConfig)
    actor_critic: ActorCriticConfig = field(default_factory=ActorCriticConfig)
    # The actor-critic's loss in imagination; its burn-in is also what collection replays.
    actor_critic_loss: ActorCriticLossConfig = field(default_factory=ActorCriticLossConfig)
    # How the networks run (compiled steps, CUDA graphs, bf16, ...), not what they compute.
    speed: SpeedConfig = field(default_factory=SpeedConfig)

    def __post_init__(self) -> None:
        horizon, blocks = self.actor_critic_loss.imagine_horizon, self.world_model.max_blocks
        if horizon > blocks:
            raise IrisError(f"agent.actor_critic_loss.imagine_horizon={horizon} exceeds the world model's context "
                            f"(agent.world_model.max_blocks={blocks}); lower the horizon or raise max_blocks")


@dataclass
class IRISTraining(TrainingConfig):
    learning_rate: float = positive(1e-4)  # every component's (the paper's), unless its phase sets its own; no schedule
    # How segments are drawn: "episode" = each episode equally likely (the original), "step" =
    # proportional to its length.
    sampling_weighting: str = "episode"
    # Per-epoch caches of the frozen tokenizer's tokens and reconstructions of sampled real frames
    # (the same numbers, less work); reconstructions take 48 KiB per frame, kept up to this size.
    cache_tokens: bool = True
    cache_reconstructions_gib: float = at_least(0, 4.0)
    tokenizer: PhaseSettings = field(default_factory=lambda: PhaseSettings(
        batch_num_samples=256, start_after_epochs=5))
    world_model: PhaseSettings = field(default_factory=lambda: PhaseSettings(
        batch_num_samples=64, start_after_epochs=25, weight_decay=0.01))
    actor_critic: PhaseSettings = field(default_factory=lambda: PhaseSettings(
        batch_num_samples=64, start_after_epochs=50))

    def __post_init__(self) -> None:
        if self.sampling_weighting not in WEIGHTINGS:
            raise IrisError(f"training.sampling_weighting={self.sampling_weighting!r}: use one of "
                            f"{', '.join(WEIGHTINGS)}")
