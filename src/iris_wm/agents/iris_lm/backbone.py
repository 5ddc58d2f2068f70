"""A Hugging Face causal language model as the sequence model of IRIS's world model.

The world model embeds its observation and action tokens itself and hands the LM ``inputs_embeds``;
the LM's decoder (its ``base_model``, without the LM head) returns the last hidden states, which
IRIS's heads read. Positions are the LM's own (RoPE, or its learned table), given explicitly from
the cache's fill level. The attention is the LM's own causal attention, unpatched. In imagination
the LM keeps its keys and values in a ``transformers`` ``StaticCache``: preallocated for the whole
context, filled through ``cache_position``, so the shapes of the token step never change.
"""

from __future__ import annotations

import importlib.util
import inspect
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from iris_wm.errors import IrisError

if importlib.util.find_spec("transformers") is None:
    raise IrisError("the LM world model needs the 'lm' extra: pip install 'iris-wm[lm]'")
if TYPE_CHECKING:
    from transformers import PreTrainedModel


def transformers():
    """The ``transformers`` module, imported when an LM is first built: its import takes seconds,
    which every ``iris`` command would pay for registering this kind."""
    import transformers

    return transformers


class LMCache:
    """The LM's static key/value cache with the interface of IRIS's KV cache (``size``, ``reset``)."""

    def __init__(self, lm: PreTrainedModel, batch_size: int, max_tokens: int) -> None:
        self.cache = transformers().StaticCache(config=lm.config, max_cache_len=max_tokens)
        self.batch_size, self.max_tokens = batch_size, max_tokens
        self.size = 0  # positions filled; a Python int, as IRIS's cache

    def reset(self) -> None:
        self.cache.reset()
        self.size = 0


class LMBackbone(nn.Module):
    """The backbone interface of ``WorldModel``: ``embed_dim``, ``max_tokens``, ``new_kv_cache`` and
    ``forward(embeddings (B, T, E), kv_cache) -> hidden states (B, T, E)``."""

    def __init__(self, lm: PreTrainedModel, max_tokens: int, bf16: bool = True) -> None:
        super().__init__()
        self.lm = lm
        self.max_tokens, self.bf16 = max_tokens, bf16
        # transformers 5 renames past_key_values to cache model by model: use the model's own name.
        parameters = inspect.signature(lm.base_model.forward).parameters
        self._cache_argument = "cache" if "cache" in parameters else "past_key_values"

    @property
    def embed_dim(self) -> int:
        return self.lm.config.hidden_size

    def new_kv_cache(self, batch_size: int) -> LMCache:
        return LMCache(self.lm, batch_size, self.max_tokens)

    def forward(self, x: Tensor, kv_cache: LMCache | None = None) -> Tensor:
        start = 0 if kv_cache is None else kv_cache.size
        t = x.shape[1]
        assert start + t <= self.max_tokens, f"{start + t} tokens exceed max_tokens={self.max_tokens}"
        positions = torch.arange(start, start + t, device=x.device)
        cache = {self._cache_argument: None if kv_cache is None else kv_cache.cache}
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.bf16 and x.is_cuda):
            out = self.lm.base_model(inputs_embeds=x, position_ids=positions.expand(x.shape[0], -1),
                                     use_cache=kv_cache is not None, cache_position=positions, **cache)
        if kv_cache is not None:
            kv_cache.size += t
        return out.last_hidden_state.float()  # IRIS's heads and losses stay in float32


def check_lm_config(name_or_path: str, revision: str | None, max_tokens: int):
    """The LM's config, read before any work: one clear line when the model is not there or cannot
    hold the world model's context."""
    try:
        config = transformers().AutoConfig.from_pretrained(name_or_path, revision=revision)
    except (OSError, ValueError) as error:  # no such folder or id, offline, or a folder with no model
        raise IrisError(f"agent.world_model.model_name_or_path={name_or_path!r} could not be loaded "
                        f"({str(error).splitlines()[0][:160]}); give a local folder written by save_pretrained, "
                        f"or a hub id while online") from None
    context = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    if context is not None and context < max_tokens:
        raise IrisError(f"{name_or_path} has a context of {context} positions, fewer than the world model's "
                        f"{max_tokens} (max_blocks x tokens_per_block); lower agent.world_model.max_blocks")
    return config


def load_causal_lm(name_or_path: str, revision: str | None, load_in_4bit: bool = False) -> PreTrainedModel:
    """The LM in float32 on the CPU, or with 4-bit weights on the GPU (QLoRA); ``check_lm_config``
    has accepted it."""
    quantized = {}
    if load_in_4bit:
        from transformers import BitsAndBytesConfig

        four_bit = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=torch.bfloat16)
        quantized = {"quantization_config": four_bit, "device_map": {"": torch.cuda.current_device()}}
    try:
        lm = transformers().AutoModelForCausalLM.from_pretrained(name_or_path, revision=revision, dtype=torch.float32,
                                                                 **quantized)
    except ValueError as error:  # the config is of a model that has no causal-LM head
        raise IrisError(f"{name_or_path} is not a causal language model ({str(error).splitlines()[0][:160]}); "
                        f"give a model that AutoModelForCausalLM loads") from None
    return lm
