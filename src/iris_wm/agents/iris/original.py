"""The authors' IRIS checkpoint (``checkpoints/last.pt``): import into our modules and export back.

Their file is one flat state dict. Our modules keep their
names except in the world model, where:
- ``transformer.blocks.N.attn.{query,key,value}`` are fused into ``attn.qkv`` (rows q, k, v);
- ``pos_emb`` belongs to the GPT backbone: ``transformer.pos_emb``;
- ``embedder.embedding_tables.{0,1}`` are ``action_embedding`` / ``obs_embedding``.
Dropped on import, deliberately: the ten ``attn.mask`` buffers and the heads' ``indices``
(both follow from the config and are rebuilt on export) and ``tokenizer.lpips.*`` (frozen VGG16
weights that iris-wm loads from torchvision's file when training, never from checkpoints).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from iris_wm.agents.iris.agent import IRISAgent
from iris_wm.agents.iris.config import IRISConfig
from iris_wm.config import build_config
from iris_wm.errors import IrisError
from iris_wm.models.state_dict import load_state_strict
from iris_wm.models.transformer import attention_mask

_QKV = ("query", "key", "value")
_ATTN = re.compile(r"^world_model\.transformer\.blocks\.(\d+)\.attn\.(query|key|value)\.(weight|bias)$")
_RENAMED = {
    "world_model.pos_emb.weight": "world_model.transformer.pos_emb.weight",
    "world_model.embedder.embedding_tables.0.weight": "world_model.action_embedding.weight",
    "world_model.embedder.embedding_tables.1.weight": "world_model.obs_embedding.weight",
}
_HEADS = ("head_observations", "head_rewards", "head_ends")


def infer_num_actions(state: Mapping[str, Tensor], source: Path | str) -> int:
    key = "world_model.embedder.embedding_tables.0.weight"
    if key not in state:
        raise IrisError(f"{source}: missing tensor '{key}'; this is not an IRIS checkpoint (or it is truncated)")
    return state[key].shape[0]


def infer_attention(state: Mapping[str, Tensor], config: IRISConfig, source: Path | str) -> str:
    """The mask kind the checkpoint was trained with, read off its first mask buffer."""
    mask = state.get("world_model.transformer.blocks.0.attn.mask")
    if mask is None:
        return config.world_model.attention
    for kind in ("causal", "block_causal"):
        candidate = attention_mask(_with_attention(config, kind).world_model)
        if candidate.shape == mask.shape and torch.equal(candidate.float(), mask.float()):
            return kind
    raise IrisError(f"{source}: 'world_model.transformer.blocks.0.attn.mask' is neither a causal nor a "
                    f"block-causal mask of the configured size; pass the matching world_model config")


def _with_attention(config: IRISConfig, kind: str) -> IRISConfig:
    return replace(config, world_model=replace(config.world_model, attention=kind))


def is_dropped(key: str) -> bool:
    return (key.startswith("tokenizer.lpips.") or key.endswith(".attn.mask")
            or any(key == f"world_model.{head}.indices" for head in _HEADS))


def to_our_names(state: Mapping[str, Tensor]) -> OrderedDict[str, Tensor]:
    """The authors' names and layout -> ours (dropped keys removed)."""
    ours: OrderedDict[str, Tensor] = OrderedDict()
    pending_qkv: dict[tuple[str, str], dict[str, Tensor]] = {}
    for key, tensor in state.items():
        if is_dropped(key):
            continue
        match = _ATTN.match(key)
        if match is None:
            ours[_RENAMED.get(key, key)] = tensor
            continue
        layer, part, kind = match.groups()
        parts = pending_qkv.setdefault((layer, kind), {})
        parts[part] = tensor
        if len(parts) == 3:  # fuse once query, key and value have all been seen
            ours[f"world_model.transformer.blocks.{layer}.attn.qkv.{kind}"] = torch.cat([parts[p] for p in _QKV])
    incomplete = [f"world_model.transformer.blocks.{layer}.attn.{p}.{kind}"
                  for (layer, kind), parts in pending_qkv.items() if len(parts) < 3 for p in _QKV if p not in parts]
    if incomplete:
        raise IrisError(f"missing tensor '{incomplete[0]}'; the checkpoint is truncated or from another model")
    return ours


def to_original_names(agent: IRISAgent) -> OrderedDict[str, Tensor]:
    """Our agent -> the authors' state dict in their key order, with the masks and head indices
    rebuilt, and ``tokenizer.lpips.*`` when the tokenizer has built its LPIPS."""
    ours = agent.state_dict()
    inverse = {our_name: their_name for their_name, our_name in _RENAMED.items()}
    mask = attention_mask(agent.world_model.config).float()
    last_tokenizer_key = [key for key in ours if key.startswith("tokenizer.")][-1]
    out: OrderedDict[str, Tensor] = OrderedDict()
    for key, tensor in ours.items():
        if key.endswith(".attn.qkv.weight"):
            out.update(_split_qkv(key.removesuffix(".qkv.weight"), tensor, ours, mask))
        elif key.endswith(".attn.qkv.bias") or key == "world_model.transformer.pos_emb.weight":
            continue  # emitted with the weight / after the transformer, where the authors have them
        else:
            head = key.split(".")[1]
            if head in _HEADS and key.endswith("head_module.0.weight"):
                out[f"world_model.{head}.indices"] = _head_indices(agent, head)
            out[inverse.get(key, key)] = tensor
        if key == last_tokenizer_key:
            out.update(_lpips_state(agent))  # the authors' tokenizer registers LPIPS last
        if key == "world_model.transformer.ln_f.bias":
            out["world_model.pos_emb.weight"] = ours["world_model.transformer.pos_emb.weight"]
    return out


def _split_qkv(prefix: str, weight: Tensor, ours: Mapping[str, Tensor], mask: Tensor) -> dict[str, Tensor]:
    """attn.qkv -> the authors' attn.mask, key, query, value (their registration order)."""
    parts = {"weight": dict(zip(_QKV, weight.chunk(3), strict=True)),
             "bias": dict(zip(_QKV, ours[f"{prefix}.qkv.bias"].chunk(3), strict=True))}
    out = {f"{prefix}.mask": mask.clone()}
    for part in ("key", "query", "value"):
        for kind in ("weight", "bias"):
            out[f"{prefix}.{part}.{kind}"] = parts[kind][part].clone()
    return out


def _head_indices(agent: IRISAgent, head: str) -> Tensor:
    """Absolute positions over max_tokens that a head reads (the authors' ``indices`` buffer)."""
    tpb, positions = agent.world_model.tokens_per_block, getattr(agent.world_model, head).block_positions
    return torch.tensor([p for p in range(agent.world_model.max_tokens) if p % tpb in positions], dtype=torch.long)


def _lpips_state(agent: IRISAgent) -> OrderedDict[str, Tensor]:
    """LPIPS hides its frozen weights from state dicts; read them from its children directly."""
    lpips = agent.tokenizer.lpips
    if lpips is None:
        return OrderedDict()
    return OrderedDict((f"tokenizer.lpips.{name}.{key}", value) for name, child in lpips.named_children()
                       for key, value in child.state_dict().items())


def is_original_iris(state: Mapping[str, Tensor]) -> bool:
    """Whether a state dict has the authors' IRIS layout."""
    return "world_model.embedder.embedding_tables.0.weight" in state and "tokenizer.pre_quant_conv.weight" in state


def load_original_state(state: Mapping[str, Tensor], source: Path | str, config: Mapping[str, Any] | None = None
                        ) -> IRISAgent:
    """The authors' state dict as an iris-wm IRIS agent on the CPU (paper config unless ``config``
    says otherwise; the attention mask kind is read off the file)."""
    num_actions = infer_num_actions(state, source)
    iris_config = build_config(IRISConfig, config)
    iris_config = _with_attention(iris_config, infer_attention(state, iris_config, source))
    agent = IRISAgent(iris_config, num_actions)
    load_state_strict(agent, to_our_names(state), source)
    return agent


def describe_import(agent: IRISAgent, state: Mapping[str, Tensor]) -> str:
    dropped = sum(is_dropped(key) for key in state)
    return (f"{agent.world_model.config.attention} attention; dropped {dropped} (attention masks and head "
            f"indices, rebuilt from the config; frozen LPIPS weights)")
