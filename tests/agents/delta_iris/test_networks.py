"""Shapes through every Δ-IRIS network, the KV-cached world model, the policy state of the agent
contract, and the EMA target of the actor-critic, on the tiny smoke-preset networks."""

from __future__ import annotations

import copy

import pytest
import torch

from iris_wm.agents import agent_config
from iris_wm.agents.delta_iris.config import DeltaIRISTraining
from iris_wm.agents.delta_iris.imagination import DeltaImagination
from iris_wm.agents.delta_iris.tokenizer import DeltaTokenizer
from iris_wm.training.optim import make_optimizer
from tests.agents.delta_iris.tiny import NUM_ACTIONS, make_batch, tiny_config

K, CODES, TOKEN_DIM, E = 4, 64, 16 * 8 * 8 // 4, 64  # smoke preset: 16-channel 8x8 latents, 2x2 tokens
HORIZON, BURN_IN, MAX_BLOCKS = 6, 3, 10


def test_tokenizer_shapes_and_losses(agent):
    tok = agent.tokenizer
    batch = make_batch(2, 3)
    x1, a, x2 = batch.observations[:, :-1], batch.actions[:, :-1], batch.observations[:, 1:]
    with torch.no_grad():
        out = tok.encode(x1, a, x2)
        assert out.tokens.shape == (2, 2, K) and out.tokens.dtype == torch.int64
        assert 0 <= out.tokens.min() and out.tokens.max() < CODES
        assert out.q.shape == (2, 2, K, TOKEN_DIM)
        raw = tok.decode(x1, a, out.q)
        clamped = tok.decode(x1, a, out.q, should_clamp=True)
        assert raw.shape == clamped.shape == (2, 2, 3, 64, 64)
        assert clamped.min() >= 0 and clamped.max() <= 1 and torch.equal(clamped, (clamped * 255).round() / 255)
        assert torch.equal(clamped, raw.clamp(0, 1).mul(255).round().div(255))
        assert torch.equal(tok.encode_decode(x1, a, x2), clamped)
        # eval mode: q is the projected code, up to the rounding of the straight-through sum e + (code - e)
        torch.testing.assert_close(tok.decode_tokens(x1, a, out.tokens), clamped, atol=1 / 255 + 1e-6, rtol=0)
        losses = tok.compute_loss(batch)
    assert set(losses.terms) == {"commitment_loss", "reconstruction_loss_l1", "reconstruction_loss_l2",
                                 "reconstruction_loss_l2_worst_pixel"}
    l2 = (x2 - raw).pow(2)
    assert losses.terms["reconstruction_loss_l2"] == pytest.approx(l2.mean().item(), rel=1e-5)
    assert losses.terms["reconstruction_loss_l1"] == pytest.approx(0.1 * (x2 - raw).abs().mean().item(), rel=1e-5)
    assert losses.terms["reconstruction_loss_l2_worst_pixel"] == pytest.approx(
        0.01 * l2.flatten(2).amax(-1).mean().item(), rel=1e-5)
    training = copy.deepcopy(tok).train()
    terms = training.compute_loss(batch).terms
    assert {"codewords_revived", "codebook_entropy"} <= set(terms)
    assert int(training.quantizer.num_codebook_updates) == 1


def test_tokens_layout_is_a_row_major_grid_of_patches():
    tok = DeltaTokenizer(agent_config("delta-iris", tiny_config()).tokenizer, NUM_ACTIONS)
    z = torch.randn(1, 2, 16, 8, 8)
    tokens = tok.to_tokens_layout(z)
    assert tokens.shape == (1, 2, 4, TOKEN_DIM)
    # token 2 = grid row 1, column 0: its first vector is pixel (4, 0); then (4, 1); channel fastest
    assert torch.equal(tokens[0, 1, 2, :16], z[0, 1, :, 4, 0])
    assert torch.equal(tokens[0, 1, 2, 16:32], z[0, 1, :, 4, 1])
    assert torch.equal(tokens[0, 0, 1, 4 * 16:5 * 16], z[0, 0, :, 1, 4])  # token 1, row 1 of its patch
    assert torch.equal(tok.from_tokens_layout(tokens), z)


def test_world_model_shapes_and_losses(agent):
    wm = agent.world_model
    batch = make_batch(2, 4, seed=1)
    latents = torch.randint(0, CODES, (2, 4, K))
    with torch.no_grad():
        embeddings = wm.embed_sequence(batch.observations, batch.actions, latents)
        assert embeddings.shape == (2, 24, E)
        assert torch.equal(embeddings[:, 6], wm.frame_token(batch.observations[:, 1]))
        assert torch.equal(embeddings[:, 7], wm.act_emb(batch.actions[:, 1]))
        assert torch.equal(embeddings[:, 8:12], wm.latents_emb(latents[:, 1]))
        out = wm(embeddings)
        assert out.output_sequence.shape == (2, 24, E)
        assert out.logits_latents.shape == (2, 16, CODES)
        assert out.logits_rewards.shape == (2, 4, 3) and out.logits_ends.shape == (2, 4, 2)
        # the heads read the action (rewards, ends) and the action + first 3 Δ-tokens (latents)
        head = wm.head_ends.head_module
        assert torch.equal(out.logits_ends, head(out.output_sequence[:, 1::6]))
        kv = wm.new_kv_cache(2)
        burn = wm.burn_in(batch.observations[:, :3], batch.actions[:, :2], latents[:, :2], kv)
        assert burn.shape == (2, 13, E) and kv.size == 13
        losses = wm.compute_loss(batch, agent.encode_transitions(batch))
    assert set(losses.terms) == {"loss_latents", "loss_rewards", "loss_ends", "latent_accuracy"}
    assert 0 <= losses.terms["latent_accuracy"] <= 1
    # untrained: about ln(64) per Δ-token, weighted 0.1 (the Atari default)
    assert losses.terms["loss_latents"] == pytest.approx(0.1 * torch.log(torch.tensor(64.0)).item(), rel=0.3)


def test_kv_cached_world_model_equals_the_full_forward(agent):
    wm = agent.world_model
    g = torch.Generator().manual_seed(3)
    embeddings = torch.randn(2, MAX_BLOCKS * 6, E, generator=g)
    with torch.no_grad():
        full = wm(embeddings)
        kv = wm.new_kv_cache(2)
        start, outputs = 0, []
        for length in (1, 5, 2, 7, 3, 6, 1, 1, 11, 4, 19):  # 60 tokens, blocks cut anywhere
            outputs.append(wm(embeddings[:, start:start + length], kv))
            start += length
            assert kv.size == start
    assert start == 60
    torch.testing.assert_close(torch.cat([o.output_sequence for o in outputs], 1), full.output_sequence,
                               atol=1e-5, rtol=0)
    for name in ("logits_latents", "logits_rewards", "logits_ends"):
        torch.testing.assert_close(torch.cat([getattr(o, name) for o in outputs], 1), getattr(full, name),
                                   atol=1e-5, rtol=0)
    assert sum(o.logits_latents.shape[1] for o in outputs) == 40 and full.logits_rewards.shape[1] == 10


def test_imagination_shapes_and_the_context_flush(agent):
    env = agent.imagination()
    assert agent.imagination() is env and env.context_frames == MAX_BLOCKS
    batch = make_batch(2, 4, seed=2)
    frames = env.reset_from_past(batch.observations, batch.actions[:, :-1])
    assert torch.equal(frames, batch.observations[:, -1]) and env.memory == 4
    for _ in range(2 * MAX_BLOCKS):  # past the context: the flush keeps it going
        frames, rewards, ends = env.step(torch.randint(0, NUM_ACTIONS, (2,)))
        assert frames.shape == (2, 3, 64, 64) and frames.min() >= 0 and frames.max() <= 1
        assert rewards.shape == (2,) and rewards.dtype == torch.float32
        assert set(rewards.tolist()) <= {-1.0, 0.0, 1.0}  # Atari's sampled reward signs
        assert ends.shape == (2,) and ends.dtype == torch.bool
        assert 1 <= env.memory <= MAX_BLOCKS
    first = env.reset_from_initial_observations(batch.observations[:, 0])
    assert torch.equal(first, batch.observations[:, 0]) and env.kv_cache.size == 1 and env.memory == 1
    env.step(torch.zeros(2, dtype=torch.long))
    env.flush_context()
    assert env.kv_cache.size == 0 and env.memory == 1


def test_flush_restarts_the_context_from_the_current_frame(agent):
    """With at most one block left, a step starts over from [I-token, action] at position 0."""
    sampler = lambda logits: logits.argmax(-1)  # noqa: E731
    env = DeltaImagination(agent.tokenizer, agent.world_model, sampler=sampler)
    batch = make_batch(1, 9, seed=4)
    env.reset_from_past(batch.observations, batch.actions[:, :-1])  # 8 transitions: 49 of 60 tokens
    env.step(torch.tensor([1]))  # +4 = 53: 7 left, more than a block
    assert env.kv_cache.size == 53
    frame = env.step(torch.tensor([2]))[0]  # (60 - 53) / 6 > 1: no flush yet, +6 = 59
    assert env.kv_cache.size == 59
    fresh = DeltaImagination(agent.tokenizer, agent.world_model, sampler=sampler)
    fresh.reset_from_initial_observations(frame)
    expected = fresh.step(torch.tensor([3]))
    mine = env.step(torch.tensor([3]))  # 1 token left: flush
    assert env.kv_cache.size == 2 + 3
    for a, b in zip(mine, expected, strict=True):
        assert torch.equal(a, b)


def test_actor_critic_shapes_losses_and_gradients(agent):
    agent = copy.deepcopy(agent)
    batch = make_batch(2, 1 + BURN_IN, seed=5)
    out = agent.imagine(batch)
    assert out.observations.shape == (2, HORIZON, 3, 64, 64) and out.observations.dtype == torch.uint8
    assert out.actions.shape == (2, HORIZON) and out.logits.shape == (2, HORIZON, NUM_ACTIONS)
    assert out.values.shape == out.rewards.shape == out.ends.shape == (2, HORIZON)
    assert out.target_values.shape == (2, HORIZON + 1)
    losses = agent.actor_critic.loss_from_imagination(out, agent.config.actor_critic_loss)
    assert set(losses.terms) == {"loss_actions", "loss_values", "loss_entropy", "policy_entropy"}
    losses.total.backward()
    model, target = agent.actor_critic.model, agent.actor_critic.target_model
    assert all(p.grad is not None for p in model.parameters())
    assert all(p.grad is None and not p.requires_grad for p in target.parameters())
    assert all(p.grad is None for p in (*agent.world_model.parameters(), *agent.tokenizer.parameters()))


def test_critic_starts_at_zero_and_reads_values(agent):
    model = agent.actor_critic.model
    assert torch.count_nonzero(model.critic_linear.weight) == 0 and torch.count_nonzero(model.critic_linear.bias) == 0
    model.reset(2)
    logits, critic = model(make_batch(2, 1).observations[:, 0])
    assert logits.shape == (2, NUM_ACTIONS) and critic.shape == (2, 1) and model.hx.shape == (2, 64)
    assert torch.equal(model.value(critic), critic[:, 0])
    model.clear()


def test_reconstruct(agent):
    batch = make_batch(2, 3, seed=6)
    rebuilt = agent.reconstruct(batch)
    assert rebuilt.shape == (2, 3, 3, 64, 64)
    assert torch.equal(rebuilt[:, 0], batch.observations[:, 0])
    obs = batch.observations
    assert torch.equal(rebuilt[:, 1:], agent.tokenizer.encode_decode(obs[:, :-1], batch.actions[:, :-1], obs[:, 1:]))


def test_policy_state_of_the_agent_contract(agent):
    policy = agent.actor_critic.model
    obs = make_batch(3, 1, seed=7).observations[:, 0]
    # a fresh episode: the state after burn_in black frames
    policy.reset(1)
    policy.burn_in(torch.zeros(1, BURN_IN, 3, 64, 64))
    fresh_h, fresh_c = policy.hx.clone(), policy.cx.clone()
    agent.reset_policy(3)
    assert torch.equal(policy.hx, fresh_h.expand(3, -1)) and torch.equal(policy.cx, fresh_c.expand(3, -1))
    actions = agent.act(obs)
    assert actions.shape == (3,) and actions.dtype == torch.int64 and actions.max() < NUM_ACTIONS
    greedy = copy.deepcopy(policy)
    assert torch.equal(agent.act(obs, should_sample=False), greedy(obs)[0].argmax(-1))
    before_h = policy.hx.clone()
    agent.reset_policy_rows(torch.tensor([False, True, False]))
    assert torch.equal(policy.hx[1], fresh_h[0]) and torch.equal(policy.cx[1], fresh_c[0])
    assert torch.equal(policy.hx[[0, 2]], before_h[[0, 2]])
    # unfinished episodes replay their frames, black where the mask marks padding
    frames = make_batch(2, BURN_IN, seed=8).observations
    mask = torch.tensor([[False, True, True], [True, True, True]])
    agent.reset_policy(2, frames, mask)
    replayed = policy.hx.clone()
    policy.reset(2)
    policy.burn_in(frames * mask[:, :, None, None, None])
    assert torch.equal(replayed, policy.hx)
    agent.clear_policy()
    assert policy.hx is None


def test_polyak_update_math(agent):
    actor_critic = copy.deepcopy(agent.actor_critic)
    with torch.no_grad():
        for p in actor_critic.target_model.parameters():
            p.fill_(1.0)
        for p in actor_critic.model.parameters():
            p.fill_(3.0)
    actor_critic.update_target()
    # 0.995 * 1 + 0.005 * 3 = 1.01; the online network is unchanged
    assert all(torch.allclose(p, torch.full_like(p, 1.01)) for p in actor_critic.target_model.parameters())
    assert all(torch.equal(p, torch.full_like(p, 3.0)) for p in actor_critic.model.parameters())
    actor_critic.update_target()  # 0.995 * 1.01 + 0.015 = 1.019950
    assert all(torch.allclose(p, torch.full_like(p, 1.01995)) for p in actor_critic.target_model.parameters())


def test_the_target_is_frozen_and_outside_the_optimizer(agent):
    phases = {phase.name: phase for phase in agent.phases(DeltaIRISTraining())}
    assert list(phases) == ["tokenizer", "world_model", "actor_critic"]
    phase = phases["actor_critic"]
    assert phase.module is agent.actor_critic.model and phase.uses_imagination
    assert phase.sequence_length == 1 + BURN_IN
    optimizer = make_optimizer(phase.module, phase.learning_rate, phase.settings.weight_decay)
    optimized = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert optimized == {id(p) for p in agent.actor_critic.model.parameters()}
    assert not optimized & {id(p) for p in agent.actor_critic.target_model.parameters()}
    assert phases["tokenizer"].module is agent.tokenizer and phases["world_model"].module is agent.world_model
    # samplers: prioritised per component; beyond the end for tokenizer and world model only
    assert [p.sampler.can_sample_beyond_end for p in phases.values()] == [True, True, False]
    for phase in phases.values():  # as the trainer starts each epoch: the authors' first one draws uniformly
        phase.sampler.start_epoch(1)
    assert not any(p.sampler.prioritize for p in phases.values())
    for phase in phases.values():
        phase.sampler.start_epoch(2)
    assert all(p.sampler.prioritize for p in phases.values())
