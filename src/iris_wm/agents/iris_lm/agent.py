"""IRIS whose world model's sequence model is a causal language model: IRIS's tokenizer,
actor-critic, heads and training, with the LM's decoder between the token embeddings and the heads.

A checkpoint holds what this agent learns: with ``finetune=lora`` or ``frozen`` the LM's own
weights are left out (``agent.yaml`` names the model and its revision, and loading reads them from
there again); with ``full`` they are in it, once per checkpoint.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping

import torch
from torch import Tensor

from iris_wm.agents.iris.agent import IRISAgent
from iris_wm.agents.iris.world_model import WorldModel
from iris_wm.agents.iris_lm.backbone import LMBackbone, check_lm_config, load_causal_lm
from iris_wm.agents.iris_lm.config import IRISLMConfig
from iris_wm.agents.iris_lm.finetune import apply_finetuning, is_base_weight
from iris_wm.errors import IrisError

LM_PREFIX = "world_model.transformer.lm."  # where the LM's tensors sit in the agent's state dict


def check_config(config: IRISLMConfig) -> None:
    """What a run needs before it starts: the LM's config, and CUDA for 4-bit weights."""
    c = config.world_model
    if c.load_in_4bit and not torch.cuda.is_available():
        raise IrisError("agent.world_model.load_in_4bit=true needs CUDA and bitsandbytes; this machine has no "
                        "CUDA: set it to false")
    if c.load_in_4bit and importlib.util.find_spec("bitsandbytes") is None:
        raise IrisError("agent.world_model.load_in_4bit=true needs bitsandbytes: pip install bitsandbytes, or set "
                        "it to false")
    check_lm_config(c.model_name_or_path, c.revision, c.max_tokens)


class IRISLMAgent(IRISAgent):
    kind = "iris-lm"

    def build_world_model(self, config: IRISLMConfig, num_actions: int) -> WorldModel:
        c = config.world_model
        check_config(config)
        lm = load_causal_lm(c.model_name_or_path, c.revision, c.load_in_4bit)
        apply_finetuning(lm, c)
        backbone = LMBackbone(lm, c.max_tokens, c.bf16)
        world_model = WorldModel(config.tokenizer.vocab_size, num_actions, c, backbone=backbone)
        if c.obs_embedding == "lm_vocab":
            rows = lm.get_input_embeddings().weight[: config.tokenizer.vocab_size]
            if rows.shape[0] < config.tokenizer.vocab_size:
                raise IrisError(f"obs_embedding=lm_vocab needs {config.tokenizer.vocab_size} rows of the LM's "
                                f"vocabulary, which has {rows.shape[0]}; use obs_embedding=new")
            world_model.obs_embedding.weight.data.copy_(rows.detach())
        return world_model

    def _is_frozen_lm_weight(self, name: str) -> bool:
        """The LM's own tensors when they do not train, and its output head, which the world model
        never uses (and which some LMs tie to the input embeddings): they are re-read from the model."""
        if not name.startswith(LM_PREFIX):
            return False
        inner = name.removeprefix(LM_PREFIX)
        return inner.startswith("lm_head.") or (self.config.world_model.finetune != "full" and is_base_weight(inner))

    def state_dict(self, *args, **kwargs) -> dict[str, Tensor]:
        state = super().state_dict(*args, **kwargs)
        for name in [name for name in state if self._is_frozen_lm_weight(name)]:
            del state[name]
        return state

    def load_state_dict(self, state_dict: Mapping[str, Tensor], strict: bool = True, assign: bool = False):
        result = super().load_state_dict(state_dict, strict=False, assign=assign)
        missing = [name for name in result.missing_keys if not self._is_frozen_lm_weight(name)]
        if strict and (missing or result.unexpected_keys):
            raise RuntimeError(f"missing keys {missing}, unexpected keys {result.unexpected_keys}")
        return result
