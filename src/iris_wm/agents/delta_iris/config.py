"""Δ-IRIS's configuration: networks and losses (``agent.*``) and the training phases
(``training.*``). The defaults are the authors' updated Atari 100k configuration; ``preset=
delta-crafter`` holds their Crafter one (docs/delta-iris.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from iris_wm.agents.base import PhaseSettings, TrainingConfig
from iris_wm.agents.delta_iris.actor_critic import DeltaActorCriticConfig, DeltaActorCriticLossConfig
from iris_wm.agents.delta_iris.tokenizer import DeltaTokenizerConfig
from iris_wm.agents.delta_iris.world_model import DeltaWorldModelConfig
from iris_wm.config import at_least, one_of, positive
from iris_wm.errors import IrisError


@dataclass
class DeltaIRISConfig:
    kind: str = "delta-iris"
    tokenizer: DeltaTokenizerConfig = field(default_factory=DeltaTokenizerConfig)
    world_model: DeltaWorldModelConfig = field(default_factory=DeltaWorldModelConfig)
    actor_critic: DeltaActorCriticConfig = field(default_factory=DeltaActorCriticConfig)
    # The actor-critic's loss in imagination; its burn-in is also what collection replays.
    actor_critic_loss: DeltaActorCriticLossConfig = field(default_factory=DeltaActorCriticLossConfig)

    def __post_init__(self) -> None:
        per_block = 2 + self.tokenizer.num_tokens
        transformer = self.world_model.transformer
        if transformer.tokens_per_block != per_block:
            raise IrisError(f"agent.world_model.transformer.tokens_per_block={transformer.tokens_per_block} must be "
                            f"2 + agent.tokenizer.num_tokens = {per_block} (I-token, action, Δ-tokens)")
        loss = self.actor_critic_loss
        needed = loss.burn_in + loss.imagine_horizon + 1
        if needed > transformer.max_blocks:
            raise IrisError(f"burn-in + horizon + 1 = {loss.burn_in} + {loss.imagine_horizon} + 1 = {needed} frames do "
                            f"not fit the world model's context (agent.world_model.transformer.max_blocks="
                            f"{transformer.max_blocks}); lower agent.actor_critic_loss.imagine_horizon or burn_in, "
                            f"or raise max_blocks")


@dataclass
class DeltaPhaseSettings(PhaseSettings):
    # Episodes are drawn with probability proportional to (1 / (1 + times drawn))^alpha: rarely
    # seen (mostly recent) episodes first; 0 draws them uniformly.
    priority_alpha: float = at_least(0, 1.0)


@dataclass
class DeltaTokenizerPhaseSettings(DeltaPhaseSettings):
    sequence_length: int = at_least(2, 21)  # frames per segment: sequence_length - 1 transitions


@dataclass
class DeltaIRISTraining(TrainingConfig):
    learning_rate: float = positive(1e-4)
    # bf16 autocast of the tokenizer's and world model's training steps: "auto" on CUDA only (on a CPU
    # without native bf16 it is about 10x slower than float32), "on" (CUDA only, refused elsewhere), "off".
    bf16_autocast: str = one_of(("auto", "on", "off"), "auto")
    # A per-epoch cache of the frozen tokenizer's tokens of sampled transitions, shared by the world
    # model's and the actor-critic's phases (the same numbers, less work).
    cache_tokens: bool = True
    tokenizer: DeltaTokenizerPhaseSettings = field(default_factory=lambda: DeltaTokenizerPhaseSettings(
        batch_num_samples=16, start_after_epochs=5, steps_per_epoch=200, steps_first_epoch=400))
    world_model: DeltaPhaseSettings = field(default_factory=lambda: DeltaPhaseSettings(
        batch_num_samples=64, start_after_epochs=50, steps_per_epoch=120, steps_first_epoch=120,
        weight_decay=0.01))
    actor_critic: DeltaPhaseSettings = field(default_factory=lambda: DeltaPhaseSettings(
        batch_num_samples=64, start_after_epochs=75, steps_per_epoch=200))

    def uses_bf16(self, device: torch.device) -> bool:
        """Whether the tokenizer and world model train under bf16 autocast on ``device``."""
        if self.bf16_autocast == "on" and device.type != "cuda":
            raise IrisError(f"training.bf16_autocast=on needs a CUDA device, and the agent is on {device}; use "
                            f"training.bf16_autocast=auto (bf16 on CUDA, float32 elsewhere) or off")
        return self.bf16_autocast == "on" or (self.bf16_autocast == "auto" and device.type == "cuda")
