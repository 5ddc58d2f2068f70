import pytest
import torch

from iris_wm.agents.iris.world_model import WorldModel
from iris_wm.models.transformer import Transformer, TransformerConfig, attention_mask


def small_config(attention: str) -> TransformerConfig:
    return TransformerConfig(tokens_per_block=5, max_blocks=4, attention=attention, num_layers=2, num_heads=2,
                             embed_dim=16, embed_pdrop=0.0, resid_pdrop=0.0, attn_pdrop=0.0)


def test_block_causal_mask_sees_its_own_block_and_the_past():
    mask = attention_mask(small_config("block_causal"))
    assert mask[1, 4] and mask[4, 0]  # within block 0, forward and backward
    assert not mask[4, 5]  # not the next block
    assert mask[9, 5] and mask[5, 9] and not mask[5, 10]
    causal = attention_mask(small_config("causal"))
    assert not causal[1, 4] and causal[4, 1]


# Block-causal attention lets a token see the rest of its block, so only chunkings that end on
# block boundaries (multiples of 5 here) can equal the full pass.
@pytest.mark.parametrize(("attention", "chunks"), [
    *[("causal", c) for c in ([20], [1] * 20, [5, 5, 5, 5], [3, 7, 1, 9], [16, 1, 1, 1, 1])],
    *[("block_causal", c) for c in ([20], [5, 5, 5, 5], [10, 5, 5], [5, 15])],
])
def test_cached_incremental_forward_equals_full_forward(attention, chunks):
    model = Transformer(small_config(attention)).eval()
    x = torch.randn(3, 20, 16)
    with torch.no_grad():
        full = model(x)
        cache = model.new_kv_cache(3)
        pieces, start = [], 0
        for length in chunks:
            pieces.append(model(x[:, start:start + length], cache))
            start += length
    assert cache.size == 20
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, rtol=0, atol=1e-5)


def test_cache_is_written_in_place_and_keeps_its_shape():
    model = Transformer(small_config("causal")).eval()
    cache = model.new_kv_cache(2)
    addresses, shapes = [t.data_ptr() for t in cache.tensors], [t.shape for t in cache.tensors]
    with torch.no_grad():
        model(torch.randn(2, 7, 16), cache)
        model(torch.randn(2, 1, 16), cache)
    assert [t.data_ptr() for t in cache.tensors] == addresses and [t.shape for t in cache.tensors] == shapes
    assert len(cache.tensors) == 2 * 2 and cache.size == 8
    assert all(t[:, :, 8:].abs().sum() == 0 for t in cache.tensors)  # nothing written past the fill point
    assert all(t[:, :, :8].abs().sum() > 0 for t in cache.tensors)
    cache.reset()
    assert cache.size == 0


def test_cache_overflow_is_refused():
    model = Transformer(small_config("causal")).eval()
    cache = model.new_kv_cache(1)
    with torch.no_grad():
        model(torch.randn(1, 20, 16), cache)
        with pytest.raises(AssertionError):
            model(torch.randn(1, 1, 16), cache)


def test_world_model_cached_logits_equal_full_sequence_logits():
    config = small_config("causal")
    world_model = WorldModel(obs_vocab_size=11, num_actions=3, config=config).eval()
    tokens = torch.randint(0, 11, (2, 20))
    tokens[:, 4::5] = torch.randint(0, 3, (2, 4))  # action tokens at position 4 of each block
    with torch.no_grad():
        full = world_model(tokens)
        cache = world_model.new_kv_cache(2)
        steps = [world_model(tokens[:, i:i + 1], cache) for i in range(20)]
    obs = torch.cat([s.logits_observations for s in steps], dim=1)
    rewards = torch.cat([s.logits_rewards for s in steps], dim=1)
    ends = torch.cat([s.logits_ends for s in steps], dim=1)
    assert full.logits_observations.shape == (2, 16, 11)  # 4 of 5 positions per block predict a frame token
    assert full.logits_rewards.shape == (2, 4, 3) and full.logits_ends.shape == (2, 4, 2)
    torch.testing.assert_close(obs, full.logits_observations, rtol=0, atol=1e-5)
    torch.testing.assert_close(rewards, full.logits_rewards, rtol=0, atol=1e-5)
    torch.testing.assert_close(ends, full.logits_ends, rtol=0, atol=1e-5)


def test_world_model_embeds_action_positions_with_the_action_table():
    world_model = WorldModel(obs_vocab_size=11, num_actions=3, config=small_config("causal"))
    tokens = torch.tensor([[7, 1, 2, 3, 2]])  # positions 0-3 observations, 4 an action
    emb = world_model.embed(tokens, start=0)
    torch.testing.assert_close(emb[0, 4], world_model.action_embedding.weight[2])
    torch.testing.assert_close(emb[0, 0], world_model.obs_embedding.weight[7])
    # the same token at an absolute position that is an action position in a later block
    emb = world_model.embed(torch.tensor([[2]]), start=9)
    torch.testing.assert_close(emb[0, 0], world_model.action_embedding.weight[2])


def test_world_model_init_follows_the_paper():
    world_model = WorldModel(obs_vocab_size=512, num_actions=4)
    weights = torch.cat([b.attn.qkv.weight.flatten() for b in world_model.transformer.blocks])
    assert abs(weights.std().item() - 0.02) < 1e-3
    assert all(b.attn.qkv.bias.abs().sum() == 0 for b in world_model.transformer.blocks)
    assert torch.equal(world_model.transformer.ln_f.weight, torch.ones(256))


@pytest.mark.parametrize("attention", ["causal", "block_causal"])
def test_fixed_shape_pass_equals_the_sliced_one_token_pass(attention):
    """forward_at (position on the device, the whole cache under a length mask) computes what forward
    computes token by token from a filled prefix, and writes the same cache."""
    model = Transformer(small_config(attention)).eval()
    x = torch.randn(3, 20, 16)
    with torch.no_grad():
        sliced, fixed = model.new_kv_cache(3), model.new_kv_cache(3)
        model(x[:, :5], sliced), model(x[:, :5], fixed)
        position = torch.tensor([5])
        for i in range(5, 20):
            expected = model(x[:, i:i + 1], sliced)
            torch.testing.assert_close(model.forward_at(x[:, i:i + 1], fixed, position), expected, rtol=0, atol=1e-5)
            position += 1
    torch.testing.assert_close(torch.stack(fixed.tensors), torch.stack(sliced.tensors), rtol=0, atol=1e-5)
    assert fixed.size == 5  # the caller advances the host's count


@pytest.mark.parametrize("cache_made", ["under autocast", "outside autocast"])
def test_fixed_shape_pass_runs_under_bf16_autocast_as_the_sliced_one(cache_made):
    """Under autocast the keys and values come out bf16. A cache made under the autocast holds them
    as bf16; one made outside it holds float32, and the fixed-shape pass stores into it in its dtype
    (index_copy_ refuses mixed dtypes). Either way it computes what the sliced pass computes under
    the same autocast, to bf16 rounding."""
    model = Transformer(small_config("causal")).eval()
    x = torch.randn(3, 20, 16)
    with torch.no_grad():
        if cache_made == "outside autocast":
            sliced, fixed = model.new_kv_cache(3), model.new_kv_cache(3)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            if cache_made == "under autocast":
                sliced, fixed = model.new_kv_cache(3), model.new_kv_cache(3)
            model(x[:, :5], sliced), model(x[:, :5], fixed)
            position = torch.tensor([5])
            for i in range(5, 20):
                expected = model(x[:, i:i + 1], sliced)
                torch.testing.assert_close(model.forward_at(x[:, i:i + 1], fixed, position), expected,
                                           rtol=0, atol=1e-2)
                position += 1
    assert all(t.dtype == (torch.bfloat16 if cache_made == "under autocast" else torch.float32) for t in fixed.tensors)
    stored = torch.stack(fixed.tensors).float()
    torch.testing.assert_close(stored, torch.stack(sliced.tensors).float(), rtol=0, atol=1e-2)
    assert torch.equal(stored, stored.bfloat16().float())  # computed in bf16, whatever the cache's dtype
