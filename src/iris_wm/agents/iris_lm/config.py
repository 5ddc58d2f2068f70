"""IRIS with a pretrained language model as its world model's sequence model: ``agent=iris-lm``.

The defaults are a starting point taken from the public fork that tried the idea on Atari 100k:
10 blocks of context (the world model's batch of 8 accumulated 8 times to IRIS's 64), LoRA of rank
32, and an imagination horizon of 10 to fit the shorter context.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from iris_wm.agents.base import PhaseSettings
from iris_wm.agents.iris.actor_critic import ActorCriticLossConfig
from iris_wm.agents.iris.config import IRISConfig, IRISTraining
from iris_wm.config import at_least, one_of, positive, probability

FINETUNE_MODES = ("lora", "full", "frozen")


@dataclass
class LMWorldModelConfig:
    model_name_or_path: str = "???"  # a local folder (save_pretrained) or a hub id (downloaded when online)
    revision: str | None = None  # of a hub model; recorded in the checkpoint
    tokens_per_block: int = at_least(2, 17)  # 16 observation tokens + 1 action token, as IRIS
    max_blocks: int = at_least(1, 10)
    # lora: adapters train, the LM's weights stay; full: everything trains; frozen: only the new
    # embeddings and heads train.
    finetune: str = one_of(FINETUNE_MODES, "lora")
    lora_rank: int = at_least(1, 32)
    lora_alpha: float = positive(64.0)
    lora_dropout: float = probability(0.05)
    lora_target_modules: list[str] | None = None  # null: the attention projections of Llama, Qwen or GPT-2
    load_in_4bit: bool = False  # QLoRA through bitsandbytes, CUDA only
    # new: fresh observation-token embeddings; lm_vocab: they start as the LM's own input embeddings
    # of token ids 0..511 (the fork's "borrowed vocabulary"), and train as new parts.
    obs_embedding: str = one_of(("new", "lm_vocab"), "new")
    bf16: bool = True  # the LM's forward under bf16 autocast on CUDA (never on the CPU)

    @property
    def max_tokens(self) -> int:
        return self.tokens_per_block * self.max_blocks


@dataclass
class IRISLMConfig(IRISConfig):
    kind: str = "iris-lm"
    world_model: LMWorldModelConfig = field(default_factory=LMWorldModelConfig)
    actor_critic_loss: ActorCriticLossConfig = field(default_factory=lambda: ActorCriticLossConfig(
        imagine_horizon=10))


@dataclass
class IRISLMTraining(IRISTraining):
    world_model: PhaseSettings = field(default_factory=lambda: PhaseSettings(
        batch_num_samples=8, grad_acc_steps=8, start_after_epochs=25, weight_decay=0.01))
