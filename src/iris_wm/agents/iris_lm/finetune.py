"""Which of the language model's weights train: LoRA adapters (peft), all of them, or none."""

from __future__ import annotations

from torch import nn

from iris_wm.agents.iris_lm.config import LMWorldModelConfig
from iris_wm.errors import IrisError

# The attention projections' names in Llama / Qwen / Mistral (q_proj ...) and GPT-2 (c_attn, c_proj).
DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "c_attn")


def linear_module_names(lm: nn.Module) -> list[str]:
    """The last name part of every linear layer (GPT-2's Conv1D included), for error messages."""
    names = {name.rsplit(".", 1)[-1] for name, module in lm.named_modules()
             if isinstance(module, nn.Linear) or type(module).__name__ == "Conv1D"}
    return sorted(names)


def apply_finetuning(lm: nn.Module, config: LMWorldModelConfig) -> None:
    """Set ``requires_grad`` on the LM's parameters, injecting LoRA adapters in place for ``lora``."""
    if config.finetune == "full":
        return
    lm.requires_grad_(False)
    if config.finetune == "frozen":
        return
    from peft import LoraConfig, inject_adapter_in_model

    available = linear_module_names(lm)
    targets = config.lora_target_modules or [name for name in DEFAULT_TARGETS if name in available]
    if not targets or not set(targets) <= set(available):
        raise IrisError(f"agent.world_model.lora_target_modules={list(targets)} match no linear module of the LM; "
                        f"its linear modules are: {', '.join(available)}")
    lora = LoraConfig(r=config.lora_rank, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=list(targets))
    inject_adapter_in_model(lora, lm)  # the adapters train; everything else stays as loaded


def is_base_weight(name: str) -> bool:
    """A parameter or buffer of the LM itself rather than of a LoRA adapter."""
    return "lora_" not in name
