"""Synthetic Δ-IRIS checkpoints in the authors' format, built from the listing of their state dict.

The listing (``delta_iris_state_dict.txt`` in the shared reference folder next to the repository)
was printed from the authors' ``agent.state_dict()`` for their Crafter parameter set (17 actions)
and their Atari one (4 actions). ``synthetic_delta_state_dict`` reproduces every entry in the
authors' order, with the action dimension set to any count, and fills it with random values chosen
so that activations stay O(1) through the paper-width networks (see ``_value``). Tests that need
the listing skip cleanly when it is absent (``LISTING.exists()``).
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import Tensor

LISTING = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "delta_iris_state_dict.txt"
PARAM_SETS = ("crafter", "atari")
TOKENS_PER_BLOCK = 6
# Buffers of the authors' modules (in the state dict, not parameters).
BUFFER_SUFFIXES = (".sa.mask", ".indices", "quantizer.codebook", "quantizer.codewords_freqs",
                   "quantizer.num_codebook_updates")
# In-block positions each world-model head reads: 0 I-token, 1 action, 2..5 the four latents.
HEAD_POSITIONS = {"head_latents": (1, 2, 3, 4), "head_rewards": (1,), "head_ends": (1,)}

_ENTRY = re.compile(r"^((?:tokenizer|world_model|actor_critic)\.\S+)\s+"  # key
                    r"\[([^\]]*)\]\s+(\w+)\s+(param|buffer)(\s+\[A\])?")  # [shape] dtype kind [A]
_DTYPES = {"float32": torch.float32, "int64": torch.int64, "bool": torch.bool}


@dataclass(frozen=True)
class ListedEntry:
    key: str
    shape: tuple[int, ...]  # as listed (A = 17 for crafter, 4 for atari)
    dtype: torch.dtype
    kind: str  # "param" | "buffer"
    action_dependent: bool  # the first dimension is the number of actions


def is_buffer(key: str) -> bool:
    return key.endswith(BUFFER_SUFFIXES)


def reference_listing(params: str) -> list[ListedEntry]:
    """The listed entries of one parameter set, in the authors' order; skips the test if absent."""
    if params not in PARAM_SETS:
        raise ValueError(f"params must be one of {PARAM_SETS}, not {params!r}")
    if not LISTING.is_file():
        pytest.skip(f"the authors' Δ-IRIS key listing is absent ({LISTING})")
    entries: dict[str, list[ListedEntry]] = {name: [] for name in PARAM_SETS}
    current = None
    for line in LISTING.read_text().splitlines():
        header = re.match(r"^PARAMS SET:\s+(\w+)", line)
        if header:
            current = header.group(1)
            continue
        match = _ENTRY.match(line)
        if match and current in entries:
            key, shape, dtype, kind, action = match.groups()
            dims = tuple(int(d) for d in re.findall(r"\d+", shape))
            entries[current].append(ListedEntry(key, dims, _DTYPES[dtype], kind, action is not None))
    return entries[params]


def listed_num_actions(params: str) -> int:
    return 17 if params == "crafter" else 4


def expected_shape(entry: ListedEntry, num_actions: int) -> tuple[int, ...]:
    return (num_actions, *entry.shape[1:]) if entry.action_dependent else entry.shape


def _value(key: str, shape: tuple[int, ...], g: torch.Generator) -> Tensor:
    """A random parameter value at a trained network's scale.

    Weights have unit gain (std 1/sqrt(fan_in)), so every conv / linear / LSTM gate keeps its input's
    scale; norms get weights near 1; biases are small but non-zero; embeddings (action planes and maps,
    latent and action embeddings, positions) are unit normal, like the LayerNormed I-token they sit
    beside. With unit-gain query/key weights the attention is far from uniform (the mask matters) and
    the head logits spread over O(1), so argmax decisions have margins far above float32 rounding.
    The tokenizer decoder's output conv is scaled to put most pixels inside [0, 1] (around 0.5), so
    the clamp-and-round of imagination changes values only slightly instead of saturating them.
    """
    name = key.rsplit(".", 1)[-1]
    if key == "tokenizer.decoder.decoder.11.bias":
        return 0.5 + 0.05 * torch.randn(shape, generator=g)
    if key == "tokenizer.decoder.decoder.11.weight":
        return 0.2 * torch.randn(shape, generator=g) / math.sqrt(math.prod(shape[1:]))
    if name.startswith("bias"):
        return 0.05 * torch.randn(shape, generator=g)
    if len(shape) == 1:  # GroupNorm / LayerNorm weights
        return 1 + 0.1 * torch.randn(shape, generator=g)
    if "emb" in key.split(".")[-2]:  # encoder/decoder_act_emb, act_emb, latents_emb, pos_emb
        return torch.randn(shape, generator=g)
    return torch.randn(shape, generator=g) / math.sqrt(math.prod(shape[1:]))


def _buffer(key: str, shape: tuple[int, ...], dtype: torch.dtype, g: torch.Generator) -> Tensor:
    if key.endswith(".sa.mask"):  # token-level causal attention
        return torch.ones(shape, dtype=torch.bool).tril()
    if key.endswith(".indices"):  # absolute positions the head reads over max_blocks blocks
        positions = HEAD_POSITIONS[key.split(".")[1]]
        max_blocks = shape[0] // len(positions)
        return torch.tensor([b * TOKENS_PER_BLOCK + p for b in range(max_blocks) for p in positions], dtype=dtype)
    if key.endswith("quantizer.codebook"):  # unit-norm rows, as after the first EMA update
        codebook = torch.randn(shape, generator=g)
        return codebook / codebook.norm(dim=1, keepdim=True)
    if key.endswith("quantizer.codewords_freqs"):
        # a near-uniform usage distribution: entropy ~9.9 bits > 8, no code below 1/(10*C), so no revival
        freqs = 1 + 0.5 * torch.rand(shape, generator=g)
        return freqs / freqs.sum()
    if key.endswith("quantizer.num_codebook_updates"):
        return torch.randint(1000, 5000, (), generator=g, dtype=dtype)
    raise KeyError(f"unexpected buffer {key}")


def synthetic_delta_state_dict(params: str = "crafter", num_actions: int | None = None, seed: int = 0
                               ) -> OrderedDict[str, Tensor]:
    """Every entry of the authors' Δ-IRIS ``last.pt`` for ``params`` ("crafter" | "atari"), in their
    order, with the action dimension set to ``num_actions`` (default: the listing's, 17 / 4).

    Buffers are what the authors' modules hold: lower-triangular bool masks, the heads' absolute
    position indices, a unit-norm codebook, a near-uniform usage distribution and an update count.
    The target actor-critic lags the online one: each of its tensors is 0.9 * the online tensor +
    0.1 * an independent draw, so the two are distinguishable but close.
    """
    num_actions = listed_num_actions(params) if num_actions is None else num_actions
    g = torch.Generator().manual_seed(seed)
    state: OrderedDict[str, Tensor] = OrderedDict()
    for entry in reference_listing(params):
        shape = expected_shape(entry, num_actions)
        if entry.kind == "buffer":
            state[entry.key] = _buffer(entry.key, shape, entry.dtype, g)
        elif entry.key.startswith("actor_critic.target_model."):
            online = state[entry.key.replace("actor_critic.target_model.", "actor_critic.model.", 1)]
            state[entry.key] = 0.9 * online + 0.1 * _value(entry.key, shape, g)
        else:
            state[entry.key] = _value(entry.key, shape, g).to(entry.dtype)
    return state


def parameter_counts(state: dict[str, Tensor]) -> dict[str, int]:
    """Number of parameters (buffers excluded) per component: tokenizer, world_model,
    actor_critic.model, actor_critic.target_model."""
    counts = {"tokenizer": 0, "world_model": 0, "actor_critic.model": 0, "actor_critic.target_model": 0}
    for key, value in state.items():
        if is_buffer(key):
            continue
        component = next(c for c in counts if key.startswith(c + "."))
        counts[component] += value.numel()
    return counts
