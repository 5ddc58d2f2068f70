"""The authors' Δ-IRIS checkpoint (``checkpoints/last.pt``): import into our modules and export back.

Their file is one flat state dict (434 tensors). Our modules keep their names except in the
world model's transformer, which is the project's shared GPT:
- ``blocks.N.sa.{query,key,value}`` are fused into ``blocks.N.attn.qkv`` (rows q, k, v);
- ``blocks.N.sa.ln`` / ``blocks.N.mlp.ln`` are ``ln1`` / ``ln2``, ``sa.attention.proj`` is
  ``attn.proj``, ``mlp.mlp.{0,2}`` is ``mlp.{0,2}``, and the final ``transformer.ln`` is ``ln_f``.
The attention masks (``blocks.N.sa.mask``) and the heads' ``indices`` follow from the config: on
import they are checked against it (a mismatch is an error naming the tensor) and on export they
are rebuilt. The quantizer's codebook, usage frequencies and update counter and the target
actor-critic are state and are kept. Which of the authors' two configurations the file is from
(Crafter or Atari) is read off its reward head: 255 two-hot bins is Crafter's.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf
from torch import Tensor

from iris_wm.agents.delta_iris.agent import DeltaIRISAgent
from iris_wm.agents.delta_iris.config import DeltaIRISConfig
from iris_wm.config import build_config
from iris_wm.errors import IrisError
from iris_wm.models.state_dict import check_keys_and_shapes, load_state_strict
from iris_wm.models.transformer import attention_mask
from iris_wm.models.two_hot import NUM_BINS

CRAFTER_PRESET = Path(__file__).parent / "presets" / "delta-crafter.yaml"
_QKV = ("query", "key", "value")
_BLOCK = re.compile(r"^world_model\.transformer\.blocks\.(\d+)\.(.+)$")
_BLOCK_RENAMES = {"sa.ln.": "ln1.", "mlp.ln.": "ln2.", "sa.attention.proj.": "attn.proj.", "mlp.mlp.": "mlp."}
_HEADS = ("head_latents", "head_rewards", "head_ends")
_REWARD_HEAD = "world_model.head_rewards.head_module.2.weight"


def is_original_delta_iris(state: Mapping[str, Tensor]) -> bool:
    return "world_model.latents_emb.weight" in state and "tokenizer.quantizer.codebook" in state


def _tensor(state: Mapping[str, Tensor], key: str, source: Path | str) -> Tensor:
    if key not in state:
        raise IrisError(f"{source}: missing tensor '{key}'; this is not a Δ-IRIS checkpoint (or it is truncated)")
    return state[key]


def inferred_config(state: Mapping[str, Tensor], source: Path | str) -> dict[str, Any]:
    """The config the file's shapes imply, on top of the authors' Crafter or Atari configuration."""
    crafter = _tensor(state, _REWARD_HEAD, source).shape[0] == NUM_BINS
    base = OmegaConf.to_container(OmegaConf.load(CRAFTER_PRESET))["agent"] if crafter else {}
    max_tokens, embed_dim = _tensor(state, "world_model.transformer.pos_emb.weight", source).shape
    num_layers = len({m.group(1) for key in state if (m := _BLOCK.match(key))})
    shape = lambda key: _tensor(state, key, source).shape  # noqa: E731
    inferred = {
        "tokenizer": {"frame_cnn": {"latent_dim": shape("tokenizer.frame_cnn.encoder.11.weight")[0],
                                    "num_channels": shape("tokenizer.frame_cnn.encoder.0.weight")[0]}},
        "world_model": {
            "transformer": {"max_blocks": max_tokens // 6, "embed_dim": embed_dim, "num_layers": num_layers,
                            "num_heads": embed_dim // 64},  # not in the file: the authors' heads are 64 wide
            "frame_cnn": {"latent_dim": shape("world_model.frame_cnn.0.encoder.11.weight")[0]},
            "two_hot_rews": crafter},
        "actor_critic": {"two_hot_rets": shape("actor_critic.model.critic_linear.weight")[0] == NUM_BINS},
    }
    return OmegaConf.to_container(OmegaConf.merge(base, inferred))


def to_our_names(state: Mapping[str, Tensor], source: Path | str) -> OrderedDict[str, Tensor]:
    """The authors' names and layout -> ours, without the masks and head indices."""
    ours: OrderedDict[str, Tensor] = OrderedDict()
    pending: dict[tuple[str, str], dict[str, Tensor]] = {}
    for key, tensor in state.items():
        if key.endswith(".sa.mask") or any(key == f"world_model.{head}.indices" for head in _HEADS):
            continue
        if key.startswith("world_model.transformer.ln."):
            ours[key.replace(".ln.", ".ln_f.")] = tensor
            continue
        match = _BLOCK.match(key)
        if match is None:
            ours[key] = tensor
            continue
        layer, rest = match.groups()
        part, _, kind = rest.removeprefix("sa.").partition(".")
        if rest.startswith("sa.") and part in _QKV:
            parts = pending.setdefault((layer, kind), {})
            parts[part] = tensor
            if len(parts) == 3:
                ours[f"world_model.transformer.blocks.{layer}.attn.qkv.{kind}"] = torch.cat([parts[p] for p in _QKV])
            continue
        renamed = next((rest.replace(old, new, 1) for old, new in _BLOCK_RENAMES.items() if rest.startswith(old)), rest)
        ours[f"world_model.transformer.blocks.{layer}.{renamed}"] = tensor
    for (layer, kind), parts in pending.items():
        missing = [p for p in _QKV if p not in parts]
        if missing:
            key = f"world_model.transformer.blocks.{layer}.sa.{missing[0]}.{kind}"
            raise IrisError(f"{source}: missing tensor '{key}'; the checkpoint is truncated or from another model")
    return ours


def check_structure(agent: DeltaIRISAgent, state: Mapping[str, Tensor], source: Path | str) -> None:
    """The masks and head indices of the file must be the ones our config rebuilds."""
    for key, expected in _structure(agent):
        found = _tensor(state, key, source)
        if found.shape != expected.shape or found.dtype != expected.dtype or not torch.equal(found, expected):
            raise IrisError(f"{source}: '{key}' is not what a {agent.world_model.max_blocks}-block causal world "
                            f"model has; the file is from another model or configuration")


def _structure(agent: DeltaIRISAgent) -> Iterator[tuple[str, Tensor]]:
    mask = attention_mask(agent.world_model.config.transformer)
    for layer in range(agent.world_model.config.transformer.num_layers):
        yield f"world_model.transformer.blocks.{layer}.sa.mask", mask
    for head in _HEADS:
        yield f"world_model.{head}.indices", head_indices(agent, head)


def head_indices(agent: DeltaIRISAgent, head: str) -> Tensor:
    """Absolute positions over the context that a head reads (the authors' ``indices`` buffer)."""
    wm = agent.world_model
    positions = getattr(wm, head).block_positions
    return torch.tensor([p for p in range(wm.max_blocks * wm.tokens_per_block) if p % wm.tokens_per_block in positions])


def to_original_names(agent: DeltaIRISAgent) -> OrderedDict[str, Tensor]:
    """Our agent -> the authors' state dict, in their key order, masks and head indices rebuilt."""
    ours, structure = agent.state_dict(), dict(_structure(agent))
    out: OrderedDict[str, Tensor] = OrderedDict()
    for key, tensor in ours.items():
        match = _BLOCK.match(key)
        if match is not None or key.startswith("world_model.transformer.ln_f."):
            continue  # emitted with the position embedding, in the authors' order
        head = key.split(".")[1] if key.startswith("world_model.head_") else None
        if head is not None and key.endswith("head_module.0.weight"):
            out[f"world_model.{head}.indices"] = structure[f"world_model.{head}.indices"]
        out[key] = tensor
        if key == "world_model.transformer.pos_emb.weight":
            out.update(_original_transformer(ours, structure, agent.world_model.config.transformer.num_layers))
    return out


def _original_transformer(ours: Mapping[str, Tensor], structure: Mapping[str, Tensor], num_layers: int
                          ) -> OrderedDict[str, Tensor]:
    prefix = "world_model.transformer"
    out = OrderedDict((f"{prefix}.ln.{p}", ours[f"{prefix}.ln_f.{p}"]) for p in ("weight", "bias"))
    for layer in range(num_layers):
        ours_at, theirs_at = f"{prefix}.blocks.{layer}", f"{prefix}.blocks.{layer}"
        out[f"{theirs_at}.sa.mask"] = structure[f"{theirs_at}.sa.mask"]
        for p in ("weight", "bias"):
            out[f"{theirs_at}.sa.ln.{p}"] = ours[f"{ours_at}.ln1.{p}"]
        for part, chunk_w, chunk_b in zip(_QKV, ours[f"{ours_at}.attn.qkv.weight"].chunk(3),
                                          ours[f"{ours_at}.attn.qkv.bias"].chunk(3), strict=True):
            out[f"{theirs_at}.sa.{part}.weight"], out[f"{theirs_at}.sa.{part}.bias"] = chunk_w.clone(), chunk_b.clone()
        for theirs, mine in (("sa.attention.proj", "attn.proj"), ("mlp.ln", "ln2"), ("mlp.mlp.0", "mlp.0"),
                             ("mlp.mlp.2", "mlp.2")):
            for p in ("weight", "bias"):
                out[f"{theirs_at}.{theirs}.{p}"] = ours[f"{ours_at}.{mine}.{p}"]
    return out


def load_original_state(state: Mapping[str, Tensor], source: Path | str, config: Mapping[str, Any] | None = None
                        ) -> DeltaIRISAgent:
    """The authors' state dict as an iris-wm Δ-IRIS agent on the CPU (their configuration, read off
    the file; ``config`` overrides what the file cannot say, such as the number of heads)."""
    num_actions = _tensor(state, "world_model.act_emb.weight", source).shape[0]
    merged = OmegaConf.merge(inferred_config(state, source), dict(config or {}))
    agent = DeltaIRISAgent(build_config(DeltaIRISConfig, OmegaConf.to_container(merged)), num_actions)
    check_structure(agent, state, source)
    # in the file's own names first: a bad key is named as the file spells it (ours say ln2 for mlp.ln)
    check_keys_and_shapes(to_original_names(agent), state, source)
    load_state_strict(agent, to_our_names(state, source), source)
    return agent


def describe_import(agent: DeltaIRISAgent, state: Mapping[str, Tensor]) -> str:
    setting = "Crafter" if agent.config.world_model.two_hot_rews else "Atari"
    return (f"the authors' {setting} configuration; kept the codebook, its usage and the target actor-critic; "
            f"checked and dropped the attention masks and head indices (rebuilt from the config)")
