"""Tests of the independent Δ-IRIS reference itself: the synthetic checkpoint matches the authors'
listing (keys, order, shapes, dtypes, parameter counts, buffers), the numerics match hand-computed
cases, and every reference function runs at both parameter sets with the shapes it documents.

Paper-width 64x64 conv nets are slow on a CPU, so every batch here holds 1-2 frames per network.
"""

from __future__ import annotations

import dataclasses
import math
from functools import cache

import pytest
import torch
import torch.nn.functional as F

from tests.reference import original_delta_iris_functional as ref
from tests.reference.delta_iris_state import (
    HEAD_POSITIONS,
    LISTING,
    PARAM_SETS,
    expected_shape,
    is_buffer,
    parameter_counts,
    reference_listing,
    synthetic_delta_state_dict,
)

needs_listing = pytest.mark.skipif(not LISTING.exists(), reason=f"the authors' key listing is absent ({LISTING})")

# Parameter counts of the authors' modules (buffers excluded) at the listing's action counts, and
# what one more action adds (tokenizer: 64x64 plane + 4x8x8 map; world model: E; actor: 512 + 1).
COUNTS = {
    "crafter": {"A": 17, "tokenizer": (5_409_611, 4352), "world_model": (11_948_457, 512),
                "actor_critic.model": (3_745_216, 513)},
    "atari": {"A": 4, "tokenizer": (4_065_715, 4352), "world_model": (3_577_257, 256),
              "actor_critic.model": (3_608_245, 513)},
}


@cache
def state(params: str):
    """The default checkpoint of a parameter set (listed action count, seed 0), built once."""
    return synthetic_delta_state_dict(params)


def cfg_of(params: str) -> ref.OriginalDeltaConfig:
    return ref.OriginalDeltaConfig.named(params)


def frames(*shape: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (*shape, 3, 64, 64), generator=g).float() / 255


def actions(num_actions: int, *shape: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, num_actions, shape, generator=torch.Generator().manual_seed(seed))


# -- the synthetic checkpoint ---------------------------------------------------------------------

@needs_listing
@pytest.mark.parametrize("params", PARAM_SETS)
@pytest.mark.parametrize("num_actions", [4, 6, 17, 18])
def test_factory_has_the_listed_entries_and_parameter_counts(params, num_actions):
    listing = reference_listing(params)
    assert len(listing) == 434
    default = num_actions == COUNTS[params]["A"]
    sd = state(params) if default else synthetic_delta_state_dict(params, num_actions)
    assert list(sd) == [e.key for e in listing]
    for entry in listing:
        assert tuple(sd[entry.key].shape) == expected_shape(entry, num_actions), entry.key
        assert sd[entry.key].dtype == entry.dtype, entry.key
        assert is_buffer(entry.key) == (entry.kind == "buffer"), entry.key
    assert sum(e.action_dependent for e in listing) == 7
    counts = parameter_counts(sd)
    extra = num_actions - COUNTS[params]["A"]
    for component in ("tokenizer", "world_model", "actor_critic.model"):
        base, per_action = COUNTS[params][component]
        assert counts[component] == base + extra * per_action, component
    assert counts["actor_critic.target_model"] == counts["actor_critic.model"]


@needs_listing
@pytest.mark.parametrize("params", PARAM_SETS)
def test_factory_buffers_are_what_the_authors_modules_hold(params):
    cfg, sd = cfg_of(params), state(params)
    for layer in range(cfg.num_layers):
        mask = sd[f"world_model.transformer.blocks.{layer}.sa.mask"]
        assert mask.shape == (cfg.max_tokens, cfg.max_tokens)
        assert torch.equal(mask, torch.ones_like(mask).tril())
    for head, positions in HEAD_POSITIONS.items():
        indices = sd[f"world_model.{head}.indices"].tolist()
        assert indices == [p for p in range(cfg.max_tokens) if p % 6 in positions]
    codebook = sd["tokenizer.quantizer.codebook"]
    assert torch.allclose(codebook.norm(dim=1), torch.ones(1024), atol=1e-6)
    assert (codebook @ codebook.t() - 2 * torch.eye(1024)).max() < 0.9  # no two codes nearly equal
    freqs = sd["tokenizer.quantizer.codewords_freqs"]
    assert (freqs > 1 / 10240).all() and math.isclose(freqs.sum().item(), 1, abs_tol=1e-5)
    assert sd["tokenizer.quantizer.num_codebook_updates"].dtype == torch.int64
    assert sd["tokenizer.quantizer.num_codebook_updates"].ndim == 0
    model = {k: v for k, v in sd.items() if k.startswith("actor_critic.model.")}
    for key, value in model.items():
        target = sd[key.replace(".model.", ".target_model.")]
        assert not torch.equal(target, value), key
        assert (target - value).abs().max() < 0.5 * value.abs().max() + 0.1, key
    # same seed, same values; another seed, other values
    again = synthetic_delta_state_dict(params, None, 0)
    assert all(torch.equal(again[k], sd[k]) for k in ("world_model.act_emb.weight", "tokenizer.quantizer.codebook"))
    other = synthetic_delta_state_dict(params, None, 1)
    assert not torch.equal(other["world_model.act_emb.weight"], sd["world_model.act_emb.weight"])


# -- numerics -------------------------------------------------------------------------------------

def test_symlog_symexp_and_two_hot_round_trip():
    x = torch.tensor([0.0, 0.1, -0.1, 1.0, -1.0, 3.7, -42.5, 100.0, -100.0, 1e4])
    assert torch.allclose(ref.symexp(ref.symlog(x)), x, rtol=1e-6, atol=1e-6)
    target = ref.two_hot(ref.symlog(x))
    assert target.shape == (10, 255)
    assert torch.allclose(target.sum(-1), torch.ones(10))
    assert ((target > 0).sum(-1) <= 2).all()
    back = ref.symexp((target * ref.bins()).sum(-1))
    assert torch.allclose(back, x, rtol=1e-6, atol=1e-4)
    assert torch.allclose(ref.expected_value(target.log()), x, rtol=1e-5, atol=1e-4)  # the logits route
    # the weight sits on the bin just below and the one above, linearly
    spacing = 40 / 254
    y = torch.tensor([-20 + 10.25 * spacing])
    row = ref.two_hot(y)[0]
    assert torch.allclose(row[10:12], torch.tensor([0.75, 0.25]), atol=1e-4) and row.sum() == pytest.approx(1)
    assert ref.two_hot(torch.tensor([0.0]))[0, 127] == pytest.approx(1)  # bin 127 is 0
    top = ref.two_hot(torch.tensor([1e3, -1e3]))  # clamped to [-20, 20 - 1e-5]
    assert top[0, 254] == pytest.approx(1, abs=1e-3) and top[1, 0] == pytest.approx(1)


def test_lambda_returns_hand_computed():
    rewards = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    ends = torch.tensor([[0, 0, 0], [0, 1, 0]])
    values = torch.tensor([[10.0, 20.0, 30.0], [10.0, 20.0, 30.0]])
    bootstrap = torch.tensor([40.0, 40.0])
    # γ = λ = 0.5: G2 = 3 + .5 (.5*40 + .5*40) = 23; G1 = 2 + .5 (.5*30 + .5*23) = 15.25;
    # G0 = 1 + .5 (.5*20 + .5*15.25) = 9.8125. Row 2 ends at t=1: G1 = 2, G0 = 1 + .5 (10 + 1) = 6.5
    returns = ref.lambda_returns(rewards, ends, values, bootstrap, gamma=0.5, lambda_=0.5)
    assert torch.allclose(returns, torch.tensor([[9.8125, 15.25, 23.0], [6.5, 2.0, 23.0]]))
    mask = ref.first_done_mask(torch.tensor([[0, 0, 0], [0, 1, 0], [1, 0, 1]]))
    assert mask.tolist() == [[True, True, True], [True, True, False], [True, False, False]]


def test_quantizer_update_hand_computed():
    codebook = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    freqs = torch.full((4,), 0.25)
    e = torch.tensor([[0.6, 0.8], [0.0, 1.0], [1.0, 0.0]])
    tokens = torch.tensor([1, 1, 0])
    new_codebook, new_freqs, updates, entropy = ref.quantizer_update(codebook, freqs, 7, e, tokens)
    # code 1 gets normalize(mean((.6,.8),(0,1))) = (.3,.9)/sqrt(.9); code 0 gets (1,0); 2 and 3 only shrink
    m1 = torch.tensor([0.3, 0.9]) / math.sqrt(0.9)
    c1 = 0.99 * torch.tensor([0.0, 1.0]) + 0.01 * m1
    expected = torch.stack([torch.tensor([1.0, 0.0]), c1 / c1.norm(), torch.tensor([-1.0, 0.0]),
                            torch.tensor([0.0, -1.0])])
    assert torch.allclose(new_codebook, expected, atol=1e-6)
    p = [0.245 + 0.02 / 3, 0.245 + 0.04 / 3, 0.245, 0.245]
    assert torch.allclose(new_freqs, torch.tensor(p), atol=1e-7)
    assert updates == 8
    assert entropy.item() == pytest.approx(-sum(q * math.log2(q) for q in p), abs=1e-6)
    assert not ref.revival_would_trigger(new_freqs, entropy, 7, 0)
    collapsed = torch.zeros(1024)  # one code used: entropy 0 < 1 bit, revival even past the budget
    collapsed[3] = 1
    assert ref.revival_would_trigger(collapsed, torch.tensor(0.0), 10_000, 0)
    uniform = torch.full((1024,), 1 / 1024)  # 10 bits: never
    assert not ref.revival_would_trigger(uniform, torch.tensor(10.0), 0, None)
    skewed = torch.cat([torch.full((100,), 0.01), torch.zeros(924)])  # 6.6 bits, 924 expired codes
    h = -(skewed[:100] * skewed[:100].log2()).sum()
    assert ref.revival_would_trigger(skewed, h, 399, 400) and not ref.revival_would_trigger(skewed, h, 400, 400)


def test_actor_critic_losses_hand_computed():
    cfg = ref.OriginalDeltaConfig.atari()
    logits = torch.zeros(1, 3, 2)  # uniform policy: log pi = -log 2, entropy log 2
    actions = torch.tensor([[0, 1, 0]])
    values_raw = torch.tensor([[[1.0], [2.0], [3.0]]])
    rewards = torch.tensor([[1.0, 0.0, 5.0]])
    ends = torch.tensor([[0, 1, 0]])  # the third step is after the first end: masked out
    target_values = torch.tensor([[0.5, 1.0, 9.0]])
    bootstrap = torch.tensor([7.0])
    out = ref.ac_losses(cfg, logits, actions, values_raw, rewards, ends, target_values, bootstrap)
    g1 = 0.0
    g0 = 1.0 + cfg.gamma * ((1 - cfg.lambda_) * 1.0 + cfg.lambda_ * g1)
    assert out["lambda_returns"][0, :2].tolist() == pytest.approx([g0, g1], abs=1e-5)
    assert out["mask"].tolist() == [[True, True, False]]
    log2 = math.log(2)
    assert out["loss_actions"].item() == pytest.approx(log2 * ((g0 - 0.5) + (g1 - 1.0)) / 2, abs=1e-5)
    assert out["loss_values"].item() == pytest.approx(((1 - g0) ** 2 + (2 - g1) ** 2) / 2, abs=1e-5)
    assert out["loss_entropy"].item() == pytest.approx(-cfg.entropy_weight * log2, abs=1e-7)
    assert out["policy_entropy"].item() == pytest.approx(log2, abs=1e-6)
    crafter = ref.OriginalDeltaConfig.crafter()
    two_hot = ref.ac_losses(crafter, logits, actions, torch.zeros(1, 3, 255), rewards, ends, target_values, bootstrap)
    assert two_hot["loss_values"].item() == pytest.approx(math.log(255), abs=1e-4)  # CE of uniform logits


def test_polyak():
    target = {"w": torch.tensor([1.0, 2.0])}
    online = {"w": torch.tensor([3.0, 6.0])}
    assert torch.allclose(ref.polyak(target, online, 0.995)["w"], torch.tensor([1.01, 2.02]))
    sd = {"actor_critic.model.x": torch.tensor([2.0]), "actor_critic.target_model.x": torch.tensor([0.0]),
          "world_model.y": torch.tensor([5.0])}
    out = ref.polyak_actor_critic(sd)
    assert out["actor_critic.target_model.x"].item() == pytest.approx(0.01)
    assert out["actor_critic.model.x"].item() == 2.0 and out["world_model.y"].item() == 5.0


def test_token_vectors_round_trip():
    z = torch.randn(2, 64, 8, 8)
    vectors = ref._to_token_vectors(z)
    assert vectors.shape == (2, 4, 1024)
    assert torch.equal(vectors[1, 2, :64], z[1, :, 4, 0])  # token 2 = grid row 1, column 0; first pixel
    assert torch.equal(vectors[0, 1, 64:128], z[0, :, 0, 5])  # token 1, row 0 col 1 inside the patch
    assert torch.equal(ref._from_token_vectors(vectors, 64), z)


# -- every reference function at both parameter sets ----------------------------------------------

@needs_listing
@pytest.mark.parametrize("params", PARAM_SETS)
def test_reference_functions_run_with_documented_shapes(params):
    cfg, sd = cfg_of(params), state(params)
    a_count, e_dim, r_dim = cfg.num_actions, cfg.embed_dim, 255 if cfg.two_hot_rews else 3
    with torch.no_grad():
        # tokenizer: one batch of 1 x 3 steps -> 2 transitions through encoder, frame CNN, decoder
        obs, act = frames(1, 3), actions(a_count, 1, 3)
        mask = torch.tensor([[True, True, True]])
        tokens, q, e = ref.tokenizer_encode(sd, obs[:, :-1], act[:, :-1], obs[:, 1:])
        assert tokens.shape == (1, 2, 4) and tokens.dtype == torch.int64 and q.shape == (1, 2, 4, 1024)
        assert e.shape == (1, 2, 4, 64) and torch.allclose(e.norm(dim=-1), torch.ones(1, 2, 4), atol=1e-5)
        assert torch.allclose(q, ref.embed_tokens(sd, tokens), atol=1e-5)  # straight-through value
        sims = e @ sd["tokenizer.quantizer.codebook"].t()
        top2 = sims.topk(2, dim=-1).values
        assert (top2[..., 0] - top2[..., 1]).min() > 1e-5  # argmax decisions are not float ties
        recon = ref.tokenizer_decode(sd, cfg, obs[:, :-1], act[:, :-1], q, clamp=True)
        assert recon.shape == (1, 2, 3, 64, 64)
        assert torch.equal(recon, torch.round(recon * 255) / 255) and recon.min() >= 0 and recon.max() <= 1
        raw = ref.tokenizer_decode(sd, cfg, obs[:, :-1], act[:, :-1], q)
        assert 0.3 < ((raw >= 0) & (raw <= 1)).float().mean()  # most pixels in range: clamping is mild
        losses = ref.tokenizer_losses(sd, cfg, obs, act, mask)
        assert set(losses) == {"commitment_loss", "reconstruction_loss_l1", "reconstruction_loss_l2",
                               "reconstruction_loss_l2_worst_pixel"}
        assert all(v.ndim == 0 and torch.isfinite(v) and v > 0 for v in losses.values())
        assert losses["reconstruction_loss_l2"] == pytest.approx(((obs[:, 1:] - raw) ** 2).mean().item(), rel=1e-4)
        update = ref.quantizer_update(sd["tokenizer.quantizer.codebook"], sd["tokenizer.quantizer.codewords_freqs"],
                                      sd["tokenizer.quantizer.num_codebook_updates"], e.reshape(-1, 64),
                                      tokens.reshape(-1))
        assert update[0].shape == (1024, 64) and 9 < update[3] <= 10

        # world model: the same segment, its 18-token training sequence
        out = ref.wm_outputs(sd, cfg, obs, act, tokens)
        assert out["sequence"].shape == (1, 18, e_dim) and out["latents"].shape == (1, 3, 4, 1024)
        assert out["rewards"].shape == (1, 3, r_dim) and out["ends"].shape == (1, 3, 2)
        wm = ref.wm_losses(sd, cfg, obs, act, torch.tensor([[0.0, 1.0, -0.1]]), torch.tensor([[0, 0, 1]]), mask,
                           tokens)
        assert set(wm) == {"loss_latents", "loss_rewards", "loss_ends", "latent_accuracy"}
        assert all(torch.isfinite(v) for v in wm.values()) and 0 <= wm["latent_accuracy"] <= 1
        # burn-in = the causal prefix of the training sequence
        burn = ref.wm_burn_in_sequence(sd, cfg, obs, act[:, :2], tokens)
        assert burn.shape == (1, 13, e_dim)
        assert torch.allclose(burn, out["sequence"][:, :13], atol=1e-4)
        assert ref.wm_frame_token(sd, obs).shape == (1, 3, e_dim)

        # imagination from a 1-step context, 2 fixed actions
        context_obs, context_act = obs[:, :2], act[:, :1]
        fixed = actions(a_count, 1, 2, seed=3)
        im = ref.imagine_steps(sd, cfg, context_obs, context_act, fixed)
        assert im["frames"].shape == (1, 2, 3, 64, 64) and im["rewards"].shape == (1, 2)
        assert im["ends"].shape == (1, 2) and im["tokens"].shape == (1, 2, 4)
        assert im["latent_logits"].shape == (1, 2, 4, 1024) and im["reward_logits"].shape == (1, 2, r_dim)
        assert im["context_tokens"].shape == (1, 1, 4) and im["burn_in_sequence"].shape == (1, 7, e_dim)
        assert torch.equal(im["context_tokens"], tokens[:, :1])
        if not cfg.two_hot_rews:
            assert set(im["rewards"].unique().tolist()) <= {-1.0, 0.0, 1.0}
        # the first imagined step reads the action position of the training sequence with a_L = fixed[:, 0]
        segment = ref.wm_outputs(sd, cfg, context_obs, torch.cat([context_act, fixed[:, :1]], 1), tokens[:, :1])
        assert torch.allclose(im["reward_logits"][:, 0], segment["rewards"][:, 1], atol=1e-4)
        assert torch.allclose(im["end_logits"][:, 0], segment["ends"][:, 1], atol=1e-4)
        assert torch.allclose(im["latent_logits"][:, 0, 0], segment["latents"][:, 1, 0], atol=1e-4)
        assert torch.equal(im["tokens"][:, :, 0], im["latent_logits"][:, :, 0].argmax(-1))

    # actor-critic: 2 frames at once equal 1 + 1 with the carried state; target differs from model
    logits, raw, (hx, cx) = ref.ac_forward(sd, "actor_critic.model.", cfg, obs[:, :2])
    assert logits.shape == (1, 2, a_count) and raw.shape == (1, 2, 255 if cfg.two_hot_rets else 1)
    assert hx.shape == cx.shape == (1, 512)
    first = ref.ac_forward(sd, "actor_critic.model", cfg, obs[:, :1])
    second = ref.ac_forward(sd, "actor_critic.model", cfg, obs[:, 1:2], first[2])
    assert torch.allclose(second[0][:, 0], logits[:, 1], atol=1e-5)
    target_logits = ref.ac_forward(sd, "actor_critic.target_model", cfg, obs[:, :1])[0]
    assert not torch.allclose(target_logits[:, 0], logits[:, 0], atol=1e-3)
    assert ref.value_readout(raw, cfg.two_hot_rets).shape == (1, 2)

    rollout = ref.imagine_rollout(sd, cfg, obs[:, :2], act[:, :2], horizon=2)
    assert rollout["logits"].shape == (1, 2, a_count)
    for key in ("actions", "rewards", "ends", "values", "target_values"):
        assert rollout[key].shape == (1, 2), key
    assert rollout["bootstrap"].shape == (1,)
    losses = ref.ac_losses(cfg, rollout["logits"], rollout["actions"], rollout["values_raw"], rollout["rewards"],
                           rollout["ends"], rollout["target_values"], rollout["bootstrap"])
    assert all(torch.isfinite(losses[k]) for k in ("loss_actions", "loss_values", "loss_entropy"))


@needs_listing
def test_imagination_flushes_the_memory_when_at_most_one_block_is_left():
    """With room for 3 blocks (18 tokens): a 1-step context (7 tokens) and two steps (+4, +6) leave
    one token, so the third step restarts from [I-token, action] at position 0."""
    cfg = dataclasses.replace(cfg_of("atari"), max_blocks=3)
    sd = state("atari")
    obs, act = frames(1, 2), actions(cfg.num_actions, 1, 1)
    fixed = actions(cfg.num_actions, 1, 4, seed=5)
    with torch.no_grad():
        im = ref.imagine_steps(sd, cfg, obs, act, fixed)
        x = torch.stack([ref.wm_frame_token(sd, im["frames"][:, 1]), sd["world_model.act_emb.weight"][fixed[:, 2]]], 1)
        fresh = ref.wm_transformer(sd, cfg, x)[:, 1]
    assert torch.allclose(im["end_logits"][:, 2], ref.wm_head(sd, "head_ends", fresh), atol=1e-4)
    assert torch.allclose(im["latent_logits"][:, 2, 0], ref.wm_head(sd, "head_latents", fresh), atol=1e-4)
    assert not torch.allclose(im["end_logits"][:, 1], ref.wm_head(sd, "head_ends", fresh), atol=1e-3)


def test_explicit_ops_agree_with_torch_modules():
    """The hand-written attention, LSTM cell, GELU and upsampling equal PyTorch's own."""
    g = torch.Generator().manual_seed(0)
    e, heads, s = 64, 4, 10
    sd = {f"sa.{part}.{kind}": torch.randn(e, e, generator=g) / 8 if kind == "weight" else torch.randn(e, generator=g)
          for part in ("query", "key", "value", "attention.proj") for kind in ("weight", "bias")}
    sd["sa.mask"] = torch.ones(20, 20, dtype=torch.bool).tril()
    x = torch.randn(2, s, e, generator=g)
    q, k, v = (ref._linear(sd, f"sa.{p}", x).reshape(2, s, heads, -1).transpose(1, 2)
               for p in ("query", "key", "value"))
    sdpa = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(2, s, e)
    expected = ref._linear(sd, "sa.attention.proj", sdpa)
    assert torch.allclose(ref._self_attention(sd, "sa", x, heads, 0), expected, atol=1e-5)
    cell = torch.nn.LSTMCell(16, 8)
    lstm = {f"lstm.{k}": v.detach() for k, v in cell.state_dict().items()}
    inp, hx, cx = torch.randn(3, 16, generator=g), torch.randn(3, 8, generator=g), torch.randn(3, 8, generator=g)
    for mine, theirs in zip(ref._lstm_cell(lstm, "lstm", inp, hx, cx), cell(inp, (hx, cx)), strict=True):
        assert torch.allclose(mine, theirs.detach(), atol=1e-6)
    y = torch.randn(100, generator=g)
    assert torch.allclose(ref._gelu(y), F.gelu(y), atol=1e-6)
    img = torch.randn(1, 2, 4, 4, generator=g)
    up = {"u.conv.weight": torch.randn(2, 2, 3, 3, generator=g), "u.conv.bias": torch.zeros(2)}
    expected = F.conv2d(F.interpolate(img, scale_factor=2, mode="nearest"), up["u.conv.weight"], padding=1)
    assert torch.allclose(ref._upsample(up, "u", img), expected, atol=1e-5)
