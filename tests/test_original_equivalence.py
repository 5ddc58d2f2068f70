"""An agent imported from the authors' checkpoint computes what the authors' model computes.

A synthetic ``last.pt`` is built from the exact key listing of the authors' checkpoint
(``shared/reference/iris_state_dict.txt``) with random values, imported with
``load_original_agent``, and our modules are compared with ``reference.original_iris_functional``,
an independent functional reading of the authors' model that runs on their raw tensors.
Tokens must be identical; everything else must agree to float32 rounding (1e-4).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import Tensor

from iris_wm.checkpoint.original import load_original_agent
from tests.factories import HEAD_POSITIONS, REFERENCE, synthetic_original_state_dict
from tests.reference import original_iris_functional as ref

pytestmark = pytest.mark.skipif(not REFERENCE.exists(), reason=f"the authors' key listing is absent ({REFERENCE})")

CFG = ref.OriginalConfig()
TPB, MAX_TOKENS = 17, 340  # tokens per block, max_blocks * TPB
ATOL = 1e-4
def synthetic_value(key: str, shape: tuple[int, ...], g: torch.Generator) -> Tensor:
    """Random values scaled so activations stay O(1): unit-gain weights make attention far from
    uniform (the masks matter) and keep every output well above float32 rounding noise."""
    if key.startswith("tokenizer.lpips."):
        return torch.zeros(shape)  # dropped by the importer (frozen VGG16)
    if key == "tokenizer.embedding.weight":
        # Uniform like the authors' init, but ±1 instead of ±1/512: a trained codebook sits at the
        # latents' scale. At ±1/512 every code is ~0.02 long against ~12 for z, so the argmin is
        # decided within one float32 ulp of ||z||^2 and the decoder barely sees which code it got.
        return torch.rand(shape, generator=g) * 2 - 1
    if "bias" in key.rsplit(".", 1)[-1]:
        return 0.05 * torch.randn(shape, generator=g)
    if len(shape) == 1:  # GroupNorm / LayerNorm weights
        return 1 + 0.1 * torch.randn(shape, generator=g)
    if "pos_emb" in key or "embedding_tables" in key:
        return torch.randn(shape, generator=g)
    return torch.randn(shape, generator=g) / math.sqrt(math.prod(shape[1:]))  # conv / linear / LSTM


def import_checkpoint(tmp_path: Path, num_actions: int, attention: str, seed: int):
    sd = synthetic_original_state_dict(num_actions, attention, seed, value=synthetic_value)
    path = tmp_path / f"last_{num_actions}_{attention}.pt"
    torch.save(sd, path)
    agent = load_original_agent(path, "cpu", config={"tokenizer": {"perceptual_weight": 0}})
    return sd, agent.eval()


def quantizer_margin(sd: dict[str, Tensor], z: Tensor) -> float:
    """Smallest gap between the nearest and the second-nearest code's squared distance over z."""
    vectors = z.permute(0, 2, 3, 1).flatten(0, 2)
    nearest = torch.cdist(vectors, sd["tokenizer.embedding.weight"]).pow(2).topk(2, largest=False).values
    return (nearest[:, 1] - nearest[:, 0]).min().item()


def token_sequence(num_actions: int, length: int, g: torch.Generator) -> Tensor:
    """(2, length) interleaved [16 obs tokens, action] blocks from position 0."""
    obs = torch.randint(0, 512, (2, MAX_TOKENS // TPB, TPB - 1), generator=g)
    actions = torch.randint(0, num_actions, (2, MAX_TOKENS // TPB, 1), generator=g)
    return torch.cat([obs, actions], dim=-1).flatten(1)[:, :length]


def assert_world_model_matches(sd: dict[str, Tensor], agent, tokens: Tensor) -> None:
    with torch.no_grad():
        ours = agent.world_model(tokens)
        sequence, obs, rewards, ends = ref.world_model(sd, tokens, CFG)
    n_obs = sum(1 for p in range(tokens.shape[1]) if p % TPB in HEAD_POSITIONS["head_observations"])
    assert ours.logits_observations.shape == (2, n_obs, 512)
    for mine, theirs in [(ours.output_sequence, sequence), (ours.logits_observations, obs),
                         (ours.logits_rewards, rewards), (ours.logits_ends, ends)]:
        torch.testing.assert_close(mine, theirs, atol=ATOL, rtol=0)


def assert_actor_critic_matches(sd: dict[str, Tensor], agent, steps: int, g: torch.Generator) -> None:
    """Several consecutive steps, the LSTM state carried by our module and by the reference."""
    frames = torch.rand(2, steps, 3, 64, 64, generator=g)
    hx = cx = torch.zeros(2, 512)
    agent.actor_critic.reset(2)
    with torch.no_grad():
        for t in range(steps):
            ours = agent.actor_critic(frames[:, t])
            logits, value, hx, cx = ref.actor_critic_step(sd, frames[:, t], hx, cx)
            torch.testing.assert_close(ours.logits[:, 0], logits, atol=ATOL, rtol=0)
            torch.testing.assert_close(ours.values[:, 0], value, atol=ATOL, rtol=0)
            torch.testing.assert_close(agent.actor_critic.hx, hx, atol=ATOL, rtol=0)
            torch.testing.assert_close(agent.actor_critic.cx, cx, atol=ATOL, rtol=0)


@pytest.fixture(scope="module")
def causal(tmp_path_factory):
    return import_checkpoint(tmp_path_factory.mktemp("causal"), num_actions=4, attention="causal", seed=0)


def test_tokenizer_matches_the_authors(causal):
    sd, agent = causal
    frames = torch.rand(2, 3, 3, 64, 64, generator=torch.Generator().manual_seed(1))  # batch 2, 3 frames
    x = 2 * frames - 1
    with torch.no_grad():
        ours = agent.tokenizer.encode(x)
        z, z_q, tokens = ref.encode(sd, x.flatten(0, 1), CFG)
        # Distances are ~500, so float32 rounds them to ~6e-5: a wide margin makes agreeing tokens
        # evidence of the same computation, not luck on near-ties.
        assert quantizer_margin(sd, z) > 1e-3
        assert torch.equal(ours.tokens.flatten(0, 1), tokens)
        torch.testing.assert_close(ours.z.flatten(0, 1), z, atol=ATOL, rtol=0)
        torch.testing.assert_close(ours.z_quantized.flatten(0, 1), z_q, atol=ATOL, rtol=0)
        decoded = ref.decode(sd, z_q, CFG)
        torch.testing.assert_close(agent.tokenizer.decode(ours.z_quantized).flatten(0, 1), decoded, atol=ATOL, rtol=0)
        # Imagination's path: tokens -> codebook -> decoder -> [0, 1], clamped.
        from_tokens = agent.tokenizer.decode_tokens(ours.tokens[0])
        torch.testing.assert_close(from_tokens, ((decoded[:3] + 1) / 2).clamp(0, 1), atol=ATOL, rtol=0)


@pytest.mark.parametrize("length", [MAX_TOKENS, 2 * TPB + 5])
def test_world_model_matches_the_authors(causal, length):
    sd, agent = causal
    assert agent.world_model.config.attention == "causal"
    assert_world_model_matches(sd, agent, token_sequence(4, length, torch.Generator().manual_seed(2)))


def test_actor_critic_matches_the_authors(causal):
    sd, agent = causal
    assert_actor_critic_matches(sd, agent, steps=3, g=torch.Generator().manual_seed(3))


def test_block_causal_checkpoint_is_detected_and_matches(tmp_path):
    sd, agent = import_checkpoint(tmp_path, num_actions=4, attention="block_causal", seed=4)
    assert agent.world_model.config.attention == "block_causal"
    g = torch.Generator().manual_seed(5)
    for length in (MAX_TOKENS, 2 * TPB + 5):
        assert_world_model_matches(sd, agent, token_sequence(4, length, g))


@pytest.mark.parametrize("num_actions", [18, 6])
def test_other_action_counts_import_and_match(tmp_path, num_actions):
    sd, agent = import_checkpoint(tmp_path, num_actions=num_actions, attention="causal", seed=6)
    assert agent.world_model.action_embedding.weight.shape == (num_actions, 256)
    assert agent.actor_critic.actor_linear.weight.shape == (num_actions, 512)
    assert agent.actor_critic.actor_linear.bias.shape == (num_actions,)
    g = torch.Generator().manual_seed(7)
    assert_world_model_matches(sd, agent, token_sequence(num_actions, 2 * TPB + 5, g))
    assert_actor_critic_matches(sd, agent, steps=1, g=g)
