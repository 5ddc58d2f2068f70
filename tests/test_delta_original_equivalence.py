"""A Δ-IRIS agent imported from the authors' checkpoint computes what the authors' model computes.

A synthetic ``last.pt`` in the authors' format (``reference.delta_iris_state``, built from the
listing of their state dict) is imported with ``load_original_agent`` for both of their parameter
sets (Crafter, 17 actions; Atari, 6 actions), and our modules are compared with
``reference.original_delta_iris_functional``, an independent functional reading of their model
that runs on the raw tensors under their key names. Tokens must be identical; every float must
agree to 1e-4, except clamped frames, which may sit one 1/255 step apart where float32 rounding
puts a pixel on the other side of a rounding boundary.

Paper-width 64x64 conv nets are slow on a CPU: every call holds 1-4 frames, and each imported
agent is built once per parameter set (module-scoped fixture).
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from iris_wm.agents.delta_iris.agent import DeltaIRISAgent
from iris_wm.agents.delta_iris.imagination import DeltaImagination
from iris_wm.agents.delta_iris.original import load_original_state, to_original_names
from iris_wm.checkpoint import load_agent
from iris_wm.checkpoint.original import load_original_agent
from iris_wm.cli import main
from iris_wm.data.batch import Batch
from iris_wm.errors import IrisError
from iris_wm.models.returns import compute_lambda_returns
from tests.factories import REFERENCE as IRIS_LISTING
from tests.factories import synthetic_original_state_dict
from tests.reference import original_delta_iris_functional as ref
from tests.reference.delta_iris_state import LISTING, synthetic_delta_state_dict

pytestmark = pytest.mark.skipif(not LISTING.exists(), reason=f"the authors' Δ-IRIS key listing is absent ({LISTING})")

ATOL = 1e-4
PIXEL_ATOL = 1 / 255 + 1e-6  # clamped frames: at most one rounding step apart
NUM_ACTIONS = {"crafter": 17, "atari": 6}


@dataclass
class Imported:
    params: str
    sd: dict[str, Tensor]  # the authors' state dict
    path: Path  # the file it was saved to
    agent: DeltaIRISAgent  # imported, eval mode
    cfg: ref.OriginalDeltaConfig

    @property
    def num_actions(self) -> int:
        return self.cfg.num_actions


@pytest.fixture(scope="module", params=list(NUM_ACTIONS))
def imported(request, tmp_path_factory) -> Imported:
    params = request.param
    sd = synthetic_delta_state_dict(params, NUM_ACTIONS[params], seed=0)
    path = tmp_path_factory.mktemp(f"authors_{params}") / "last.pt"
    torch.save(sd, path)
    agent = load_original_agent(path, "cpu").eval()
    return Imported(params, sd, path, agent, ref.OriginalDeltaConfig.named(params, NUM_ACTIONS[params]))


def frames(*shape: int, seed: int = 0) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (*shape, 3, 64, 64), generator=g).float() / 255


def actions(num_actions: int, *shape: int, seed: int = 1) -> Tensor:
    return torch.randint(0, num_actions, shape, generator=torch.Generator().manual_seed(seed))


def close(mine: Tensor, theirs: Tensor, atol: float = ATOL) -> None:
    assert mine.shape == theirs.shape, (mine.shape, theirs.shape)
    torch.testing.assert_close(mine.float(), theirs.float(), atol=atol, rtol=0)


def padded_batch(num_actions: int, mask: list[list[bool]], rewards=None, ends=None, seed: int = 0) -> Batch:
    """Segments as the dataset builds them: padding steps have black frames, action 0, reward 0."""
    mask_t = torch.tensor(mask)
    b, t = mask_t.shape
    obs = frames(b, t, seed=seed) * mask_t[:, :, None, None, None]
    act = actions(num_actions, b, t, seed=seed + 1) * mask_t
    rew = torch.zeros(b, t) if rewards is None else torch.tensor(rewards)
    end = torch.zeros(b, t, dtype=torch.long) if ends is None else torch.tensor(ends)
    return Batch(obs, act, rew * mask_t, end * mask_t, mask_t)


# -- tokenizer ------------------------------------------------------------------------------------

def test_tokenizer_encode_and_decode(imported):
    sd, cfg, tok = imported.sd, imported.cfg, imported.agent.tokenizer
    obs, act = frames(1, 3), actions(imported.num_actions, 1, 3)
    x1, a, x2 = obs[:, :-1], act[:, :-1], obs[:, 1:]
    with torch.no_grad():
        tokens, q, e = ref.tokenizer_encode(sd, x1, a, x2)
        sims = e @ sd["tokenizer.quantizer.codebook"].t()
        top2 = sims.topk(2, dim=-1).values
        assert (top2[..., 0] - top2[..., 1]).min() > 1e-5  # the tokens are not decided by float rounding
        ours = tok.encode(x1, a, x2)
        assert ours.tokens.dtype == torch.int64 and torch.equal(ours.tokens, tokens)
        close(ours.q, q)
        z = tok.encoder(torch.cat([x1, tok.encoder_act_emb(a).view(1, 2, 1, 64, 64), x2], dim=2))
        close(F.normalize(tok.quantizer.pre_quant_proj(tok.to_tokens_layout(z)), dim=-1), e)
        assert ours.quantizer.metrics == {}  # eval mode: no codebook update
        raw = ref.tokenizer_decode(sd, cfg, x1, a, q)
        close(tok.decode(x1, a, ours.q), raw)
        clamped = ref.tokenizer_decode(sd, cfg, x1, a, q, clamp=True)
        assert not torch.equal(raw, clamped)  # the clamp and the rounding do something here
        mine = tok.decode(x1, a, ours.q, should_clamp=True)
        close(mine, clamped, PIXEL_ATOL)
        assert torch.equal(mine, torch.round(mine * 255) / 255)
        close(tok.encode_decode(x1, a, x2), clamped, PIXEL_ATOL)
        from_tokens = ref.tokenizer_decode(sd, cfg, x1, a, ref.embed_tokens(sd, tokens), clamp=True)
        close(tok.decode_tokens(x1, a, tokens), from_tokens, PIXEL_ATOL)


TOKENIZER_MASK = [[True, True, False], [False, True, True]]  # right and left padding: 2 of 4 transitions real


@pytest.fixture(scope="module")
def tokenizer_reference(imported):
    """The reference's losses, tokens and pre-quantisation vectors of the padded tokenizer batch."""
    batch = padded_batch(imported.num_actions, TOKENIZER_MASK)
    obs, act = batch.observations, batch.actions
    with torch.no_grad():
        losses = ref.tokenizer_losses(imported.sd, imported.cfg, obs, act, batch.mask_padding)
        tokens, _, e = ref.tokenizer_encode(imported.sd, obs[:, :-1], act[:, :-1], obs[:, 1:])
    return batch, losses, tokens, e


TOKENIZER_TERMS = ("commitment_loss", "reconstruction_loss_l1", "reconstruction_loss_l2",
                   "reconstruction_loss_l2_worst_pixel")


def test_tokenizer_losses_with_padding(imported, tokenizer_reference):
    batch, expected, _, _ = tokenizer_reference
    with torch.no_grad():
        losses = imported.agent.tokenizer.compute_loss(batch)
    assert set(losses.terms) == set(TOKENIZER_TERMS)
    for term in TOKENIZER_TERMS:
        close(losses.terms[term], expected[term])
    close(losses.total, sum(expected.values()))
    # the padding matters: counting every transition would give another reconstruction loss
    unmasked = dataclasses.replace(batch, mask_padding=torch.ones_like(batch.mask_padding))
    with torch.no_grad():
        everything = imported.agent.tokenizer.compute_loss(unmasked)
    assert abs(everything.terms["reconstruction_loss_l2"] - expected["reconstruction_loss_l2"]) > 1e-3


def test_quantizer_training_update(imported, tokenizer_reference):
    """A training step: losses with the codebook before the update, then one EMA update from all
    B * (T-1) * 4 vectors (padded transitions included); no revival at these usage statistics."""
    batch, expected, tokens, e = tokenizer_reference
    sd = imported.sd
    codebook, freqs = sd["tokenizer.quantizer.codebook"], sd["tokenizer.quantizer.codewords_freqs"]
    updates = sd["tokenizer.quantizer.num_codebook_updates"]
    new_codebook, new_freqs, new_updates, entropy = ref.quantizer_update(codebook, freqs, updates, e.reshape(-1, 64),
                                                                         tokens.reshape(-1))
    limit = imported.cfg.max_codebook_updates_with_revival
    assert not ref.revival_would_trigger(new_freqs, entropy, int(updates), limit)
    tokenizer = copy.deepcopy(imported.agent.tokenizer).train()
    losses = tokenizer.compute_loss(batch)
    for term in TOKENIZER_TERMS:
        close(losses.terms[term], expected[term])
    quantizer = tokenizer.quantizer
    close(quantizer.codebook, new_codebook, 1e-6)
    close(quantizer.codewords_freqs, new_freqs, 1e-7)
    assert int(quantizer.num_codebook_updates) == new_updates
    close(losses.terms["codebook_entropy"], entropy, 1e-5)
    assert losses.terms["codewords_revived"] == 0
    assert not torch.equal(quantizer.codebook, codebook)  # the imported agent's buffers were not touched
    assert torch.equal(imported.agent.tokenizer.quantizer.codebook, codebook)
    # the direct entry point, on the reference's vectors
    direct = copy.deepcopy(imported.agent.tokenizer.quantizer)
    metrics = direct.update_codebook(e.reshape(-1, 64), tokens.reshape(-1))
    close(direct.codebook, new_codebook, 1e-6)
    close(direct.codewords_freqs, new_freqs, 1e-7)
    close(metrics["codebook_entropy"], entropy, 1e-5)


# -- world model ----------------------------------------------------------------------------------

def segment(imported: Imported, t: int, seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """Frames (1, t), actions (1, t) and Δ-tokens of t - 1 transitions (random: the world model reads
    any token ids)."""
    g = torch.Generator().manual_seed(seed + 7)
    tokens = torch.randint(0, 1024, (1, t - 1, 4), generator=g)
    return frames(1, t, seed=seed), actions(imported.num_actions, 1, t, seed=seed + 1), tokens


def head_positions(length: int, positions: tuple[int, ...], start: int = 0) -> list[int]:
    return [p for p in range(start, start + length) if p % 6 in positions]


def test_world_model_full_sequence_and_irregular_kv_chunks(imported):
    sd, cfg, wm = imported.sd, imported.cfg, imported.agent.world_model
    obs, act, tokens = segment(imported, 4)
    latents = torch.cat([tokens, tokens.new_zeros(1, 1, 4)], dim=1)  # the last block's filler
    with torch.no_grad():
        expected = ref.wm_outputs(sd, cfg, obs, act, tokens)
        embeddings = wm.embed_sequence(obs, act, latents)
        close(embeddings, ref.wm_embed_sequence(sd, obs, act, tokens))
        full = wm(embeddings)
        close(full.output_sequence, expected["sequence"])
        close(full.logits_latents, expected["latents"].flatten(1, 2))  # (1, 16, 1024) in sequence order
        close(full.logits_rewards, expected["rewards"])
        close(full.logits_ends, expected["ends"])
        heads = {name: ref.wm_head(sd, name, expected["sequence"]) for name in ("head_latents", "head_rewards",
                                                                                "head_ends")}
        kv = wm.new_kv_cache(1)
        start = 0
        for length in (1, 5, 2, 7, 3, 6):  # 24 tokens, chunks cutting blocks anywhere
            out = wm(embeddings[:, start:start + length], kv)
            close(out.output_sequence, expected["sequence"][:, start:start + length])
            for mine, name, positions in ((out.logits_latents, "head_latents", (1, 2, 3, 4)),
                                          (out.logits_rewards, "head_rewards", (1,)),
                                          (out.logits_ends, "head_ends", (1,))):
                close(mine, heads[name][:, head_positions(length, positions, start)])
            start += length
            assert kv.size == start
    assert start == embeddings.shape[1] == 24


def test_world_model_burn_in(imported):
    sd, cfg, wm = imported.sd, imported.cfg, imported.agent.world_model
    obs, act, tokens = segment(imported, 3, seed=3)
    with torch.no_grad():
        expected = ref.wm_burn_in_sequence(sd, cfg, obs, act[:, :2], tokens)
        kv = wm.new_kv_cache(1)
        close(wm.burn_in(obs, act[:, :2], tokens, kv), expected)
        assert kv.size == 13  # 6 L + 1
        close(wm.burn_in(obs, act[:, :2], tokens, None), expected)


def test_world_model_losses_with_padding(imported):
    crafter = imported.params == "crafter"
    rewards = [[0.0, 1.0, -0.1, 0.0], [0.0, 2.5, 0.0, -1.0]] if crafter else [[0.0, 1.0, -2.0, 0.0],
                                                                             [0.0, 3.0, 0.0, -1.0]]
    mask = [[True, True, True, False], [False, True, True, True]]
    batch = padded_batch(imported.num_actions, mask, rewards, ends=[[0, 0, 1, 0], [0, 0, 0, 0]], seed=4)
    with torch.no_grad():
        expected = ref.wm_losses(imported.sd, imported.cfg, batch.observations, batch.actions, batch.rewards,
                                 batch.ends, batch.mask_padding)
        losses = imported.agent.world_model.compute_loss(batch, imported.agent.encode_transitions(batch))
    assert set(losses.terms) == {"loss_latents", "loss_rewards", "loss_ends", "latent_accuracy"}
    for term, value in expected.items():
        close(losses.terms[term], value)
    close(losses.total, expected["loss_latents"] + expected["loss_rewards"] + expected["loss_ends"])


# -- imagination ----------------------------------------------------------------------------------

class RecordingArgmax:
    """A deterministic sampler that keeps every logits it was asked about."""

    def __init__(self) -> None:
        self.calls: list[Tensor] = []

    def __call__(self, logits: Tensor) -> Tensor:
        self.calls.append(logits.clone())
        return logits.argmax(dim=-1)

    def of_width(self, width: int) -> list[Tensor]:
        return [c for c in self.calls if c.shape[-1] == width]


def test_imagination_with_an_argmax_sampler(imported):
    """Free-running from a context of 2 real steps, against the reference's imagination."""
    sd, cfg = imported.sd, imported.cfg
    obs, act = frames(1, 3, seed=5), actions(imported.num_actions, 1, 2, seed=6)
    fixed = actions(imported.num_actions, 1, 3, seed=7)
    with torch.no_grad():
        expected = ref.imagine_steps(sd, cfg, obs, act, fixed)
    sampler = RecordingArgmax()
    env = DeltaImagination(imported.agent.tokenizer, imported.agent.world_model, sampler=sampler)
    assert torch.equal(env.reset_from_past(obs, act), obs[:, -1])
    assert env.kv_cache.size == 13
    steps = [env.step(fixed[:, h]) for h in range(3)]
    # Frames: a pixel on a rounding boundary may land one 1/255 step apart, and later frames (decoded
    # from it) may too; tokens, ends and rewards are decided with margins far above that.
    close(torch.stack([s[0] for s in steps], 1), expected["frames"], PIXEL_ATOL)
    close(torch.stack([s[1] for s in steps], 1), expected["rewards"])
    assert torch.equal(torch.stack([s[2] for s in steps], 1), expected["ends"].bool())
    latent_calls = sampler.of_width(1024)
    assert len(latent_calls) == 12  # 4 Δ-tokens per step
    assert torch.equal(torch.stack([c.argmax(-1) for c in latent_calls], 1).view(1, 3, 4), expected["tokens"])
    # the first step's logits come from identical inputs
    close(torch.stack(latent_calls[:4], 1), expected["latent_logits"][:, 0])
    close(sampler.of_width(2)[0], expected["end_logits"][:, 0])
    if not cfg.two_hot_rews:
        close(sampler.of_width(3)[0], expected["reward_logits"][:, 0])
        assert set(expected["rewards"].unique().tolist()) <= {-1.0, 0.0, 1.0}
    # step 1 feeds [action] + 3 Δ-tokens, later steps [last Δ-token, I-token, action] + 3; the last
    # step's fourth Δ-token and its frame's I-token wait for the next step
    assert env.kv_cache.size == 13 + 4 + 2 * 6 and len(env.pending) == 2
    assert env.memory == 6  # 2 context transitions + 3 imagined ones + the current frame


def test_imagination_step_by_step_from_the_same_frames(imported):
    """Every step's logits, rewards, ends and tokens to 1e-4, the reference continuing from our
    frame after each step (so that a pixel rounded the other way does not compound)."""
    sd, cfg = imported.sd, imported.cfg
    obs, act = frames(1, 3, seed=5), actions(imported.num_actions, 1, 2, seed=6)
    fixed = actions(imported.num_actions, 1, 3, seed=7)
    sampler = RecordingArgmax()
    env = DeltaImagination(imported.agent.tokenizer, imported.agent.world_model, sampler=sampler)
    env.reset_from_past(obs, act)
    with torch.no_grad():
        state = ref.imagination_reset(sd, cfg, obs, act)[0]
        for h in range(3):
            sampler.calls.clear()
            frame, reward, end = env.step(fixed[:, h])
            theirs = ref.imagination_step(sd, cfg, state, fixed[:, h])
            latent_calls = sampler.of_width(1024)
            assert torch.equal(torch.stack([c.argmax(-1) for c in latent_calls], 1), theirs["tokens"])
            close(torch.stack(latent_calls, 1), theirs["latent_logits"])
            close(sampler.of_width(2)[0], theirs["end_logits"])
            if not cfg.two_hot_rews:
                close(sampler.of_width(3)[0], theirs["reward_logits"])
            close(reward, theirs["reward"])
            assert torch.equal(end, theirs["end"].bool())
            close(frame, theirs["frame"], PIXEL_ATOL)
            state.frame, state.frame_token = frame, ref.wm_frame_token(sd, frame)[:, None]


# -- actor-critic ---------------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", ["model", "target_model"])
def test_actor_critic_burn_in_and_value(imported, prefix):
    sd, cfg = imported.sd, imported.cfg
    network = getattr(imported.agent.actor_critic, prefix)
    obs = frames(1, 3, seed=8)
    with torch.no_grad():
        logits, raw, (hx, cx) = ref.ac_forward(sd, f"actor_critic.{prefix}", cfg, obs)
        network.reset(1)
        network.burn_in(obs[:, :2])
        mine_logits, mine_raw = network(obs[:, 2])
    close(mine_logits, logits[:, -1])
    close(mine_raw, raw[:, -1])
    close(network.hx, hx)
    close(network.cx, cx)
    close(network.value(mine_raw), ref.value_readout(raw[:, -1], cfg.two_hot_rets))
    assert mine_raw.shape[-1] == (255 if cfg.two_hot_rets else 1)
    network.clear()


def ref_loss_inputs(out, two_hot_rets: bool) -> tuple[Tensor, ...]:
    values_raw = out.values if two_hot_rets else out.values.unsqueeze(-1)
    return (out.logits, out.actions, values_raw, out.rewards, out.ends.long(), out.target_values[:, :-1],
            out.target_values[:, -1])


def test_imagined_rollout_and_actor_critic_losses(imported):
    sd, cfg, agent = imported.sd, imported.cfg, imported.agent
    obs, act = frames(1, 3, seed=9), actions(imported.num_actions, 1, 3, seed=10)
    batch = Batch(obs, act, torch.zeros(1, 3), torch.zeros(1, 3, dtype=torch.long), torch.ones(1, 3, dtype=torch.bool))
    env = DeltaImagination(agent.tokenizer, agent.world_model, sampler=lambda logits: logits.argmax(-1))
    out = agent.actor_critic.imagine(batch, env, horizon=3, latents=agent.encode_transitions(batch))
    assert out.logits.requires_grad and out.values.requires_grad and not out.target_values.requires_grad
    assert agent.actor_critic.model.hx is None  # cleared after the rollout
    assert out.observations.shape == (1, 3, 3, 64, 64) and out.observations.dtype == torch.uint8
    assert torch.equal(out.observations[:, 0], (obs[:, -1] * 255).round().byte())
    replay = iter(out.actions.unbind(1))  # the reference plays the actions our policy sampled
    expected = ref.imagine_rollout(sd, cfg, obs, act, policy_sampler=lambda logits: next(replay), horizon=3)
    close(out.rewards, expected["rewards"])
    assert torch.equal(out.ends, expected["ends"].bool())
    close(out.logits[:, 0], expected["logits"][:, 0])  # later frames may differ by a rounded pixel
    # The policy and its target on the frames the policy saw (imagined ones are on the 1/255 grid,
    # so the uint8 record is exact) after the real burn-in frames; the bootstrap reads the last frame.
    seen = torch.cat([obs[:, :-1], out.observations.float() / 255, env.frames[:, None]], dim=1)
    with torch.no_grad():
        logits, raw = ref.ac_forward(sd, "actor_critic.model", cfg, seen[:, :-1])[:2]
        target_raw = ref.ac_forward(sd, "actor_critic.target_model", cfg, seen)[1]
    close(out.logits, logits[:, 2:])
    close(out.values, raw[:, 2:] if cfg.two_hot_rets else raw[:, 2:, 0])
    close(out.target_values, ref.value_readout(target_raw[:, 2:], cfg.two_hot_rets))

    loss_config = agent.config.actor_critic_loss
    for ends in (out.ends, torch.tensor([[False, True, False]]), torch.tensor([[True, True, False]])):
        case = dataclasses.replace(out, ends=ends)
        mine = agent.actor_critic.loss_from_imagination(case, loss_config)
        theirs = ref.ac_losses(cfg, *ref_loss_inputs(case, cfg.two_hot_rets))
        for term in ("loss_actions", "loss_values", "loss_entropy", "policy_entropy"):
            close(mine.terms[term], theirs[term])
        theirs_total = theirs["loss_actions"] + theirs["loss_values"] + theirs["loss_entropy"]
        close(mine.total, theirs_total)
        # the λ-returns as the agent builds them (G_H = the bootstrap value)
        zero = case.rewards.new_zeros(1, 1)
        returns = compute_lambda_returns(torch.cat([case.rewards, zero], 1), case.target_values,
                                         torch.cat([case.ends, zero.bool()], 1), cfg.gamma, cfg.lambda_)[:, :-1]
        close(returns, theirs["lambda_returns"])
        # the gradients reaching the policy's logits and the critic's outputs
        ours_grad = torch.autograd.grad(mine.total, [case.logits, case.values], retain_graph=True)
        theirs_grad = torch.autograd.grad(theirs_total, [case.logits, case.values], retain_graph=True)
        for g_mine, g_theirs in zip(ours_grad, theirs_grad, strict=True):
            close(g_mine, g_theirs, 1e-6)


def test_polyak_update_of_the_target(imported):
    actor_critic = copy.deepcopy(imported.agent.actor_critic)
    actor_critic.update_target()
    expected = ref.polyak_actor_critic(imported.sd, imported.cfg.tau)
    target = actor_critic.target_model.state_dict()
    for key, value in target.items():
        close(value, expected[f"actor_critic.target_model.{key}"], 1e-6)
        assert torch.equal(actor_critic.model.state_dict()[key], imported.sd[f"actor_critic.model.{key}"])
    assert not torch.equal(target["actor_linear.weight"], imported.sd["actor_critic.target_model.actor_linear.weight"])


# -- import / export ------------------------------------------------------------------------------

def test_import_then_export_reproduces_every_tensor_in_the_authors_order(imported):
    exported = to_original_names(imported.agent)
    assert list(exported) == list(imported.sd)
    for key, tensor in imported.sd.items():
        assert exported[key].dtype == tensor.dtype, key
        assert torch.equal(exported[key], tensor), key


def test_every_tensor_of_the_file_is_placed(imported):
    sd, ours = imported.sd, imported.agent.state_dict()
    structural = [k for k in sd if k.endswith(".sa.mask") or k.endswith(".indices")]
    assert len(structural) == 3 + 3
    # three q/k/v weights and biases per layer become one qkv weight and bias
    assert len(ours) == len(sd) - len(structural) - 3 * 4
    for layer in range(3):
        block = f"world_model.transformer.blocks.{layer}"
        e = imported.cfg.embed_dim
        for i, part in enumerate(("query", "key", "value")):
            assert torch.equal(ours[f"{block}.attn.qkv.weight"][i * e:(i + 1) * e], sd[f"{block}.sa.{part}.weight"])
            assert torch.equal(ours[f"{block}.attn.qkv.bias"][i * e:(i + 1) * e], sd[f"{block}.sa.{part}.bias"])
        assert torch.equal(ours[f"{block}.ln1.weight"], sd[f"{block}.sa.ln.weight"])
        assert torch.equal(ours[f"{block}.ln2.bias"], sd[f"{block}.mlp.ln.bias"])
        assert torch.equal(ours[f"{block}.mlp.2.weight"], sd[f"{block}.mlp.mlp.2.weight"])
    assert torch.equal(ours["world_model.transformer.ln_f.weight"], sd["world_model.transformer.ln.weight"])
    same_names = [k for k in sd if not k.startswith("world_model.transformer.") and k not in structural]
    for key in same_names:
        assert torch.equal(ours[key], sd[key]), key
    assert int(ours["tokenizer.quantizer.num_codebook_updates"]) == int(sd["tokenizer.quantizer.num_codebook_updates"])
    config = imported.agent.config
    assert config.world_model.two_hot_rews == config.actor_critic.two_hot_rets == (imported.params == "crafter")
    assert config.world_model.transformer.num_heads == imported.cfg.num_heads
    assert config.world_model.transformer.max_blocks == imported.cfg.max_blocks
    assert config.tokenizer.max_codebook_updates_with_revival == imported.cfg.max_codebook_updates_with_revival
    loss = config.actor_critic_loss
    assert (loss.gamma, loss.lambda_, loss.entropy_weight, loss.imagine_horizon, loss.burn_in) == (
        imported.cfg.gamma, imported.cfg.lambda_, imported.cfg.entropy_weight, imported.cfg.horizon,
        imported.cfg.burn_in)
    assert config.actor_critic.target_decay == imported.cfg.tau


def _set(key: str, value_of):
    return lambda sd: sd.__setitem__(key, value_of(sd[key]))


def _near_block_causal(mask: Tensor) -> Tensor:
    mask = mask.clone()
    mask[0, 1] = True  # the I-token sees the action
    return mask


@pytest.fixture(scope="module")
def atari_state() -> OrderedDict[str, Tensor]:
    return synthetic_delta_state_dict("atari", 6, seed=2)


CORRUPTIONS = {
    "mask": (_set("world_model.transformer.blocks.1.sa.mask", _near_block_causal),
             "world_model.transformer.blocks.1.sa.mask"),
    "head indices": (_set("world_model.head_rewards.indices", lambda t: t + 1), "world_model.head_rewards.indices"),
    "short head indices": (_set("world_model.head_latents.indices", lambda t: t[:-4]),
                           "world_model.head_latents.indices"),
    "missing conv": (lambda sd: sd.pop("tokenizer.decoder.decoder.3.f.2.weight"),
                     "tokenizer.decoder.decoder.3.f.2.weight"),
    "missing value bias": (lambda sd: sd.pop("world_model.transformer.blocks.2.sa.value.bias"),
                           "world_model.transformer.blocks.2.sa.value.bias"),
    "missing target": (lambda sd: sd.pop("actor_critic.target_model.lstm.weight_hh"),
                       "actor_critic.target_model.lstm.weight_hh"),
    "missing layer norm": (lambda sd: sd.pop("world_model.transformer.blocks.1.mlp.ln.weight"),
                           "world_model.transformer.blocks.1.mlp.ln.weight"),
    "wrong shape": (_set("actor_critic.model.lstm.weight_hh", lambda t: t[:, :-1]),
                    "actor_critic.model.lstm.weight_hh"),
    "wrong shape, renamed": (_set("world_model.transformer.blocks.0.sa.attention.proj.weight", lambda t: t[:-1]),
                             "world_model.transformer.blocks.0.sa.attention.proj.weight"),
    "extra": (lambda sd: sd.__setitem__("world_model.extra.weight", torch.zeros(1)), "world_model.extra.weight"),
}


@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_a_corrupted_file_is_an_error_naming_the_key(atari_state, case):
    mutate, key = CORRUPTIONS[case]
    sd = OrderedDict(atari_state)  # mutations replace entries, never change the shared tensors
    mutate(sd)
    with pytest.raises(IrisError, match=re.escape(f"'{key}'")) as error:
        load_original_state(sd, "last.pt")
    assert "\n" not in str(error.value)


def test_a_corrupted_file_on_disk_is_refused(atari_state, tmp_path):
    sd = OrderedDict(atari_state)
    sd.pop("tokenizer.quantizer.post_quant_proj.bias")
    torch.save(sd, tmp_path / "last.pt")
    with pytest.raises(IrisError, match=re.escape("'tokenizer.quantizer.post_quant_proj.bias'")):
        load_original_agent(tmp_path / "last.pt", "cpu")


# -- the convert command and load_agent -----------------------------------------------------------

@pytest.fixture(scope="module")
def atari_file(tmp_path_factory, atari_state) -> Path:
    path = tmp_path_factory.mktemp("authors_atari_file") / "last.pt"
    torch.save(atari_state, path)
    return path


def test_convert_as_iris_a_delta_file_names_delta_iris(atari_file, tmp_path, capsys):
    assert main(["convert", "iris", str(atari_file), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "an authors' delta-iris checkpoint, not iris" in err
    assert not (tmp_path / "out" / "agent.safetensors").exists()


@pytest.mark.skipif(not IRIS_LISTING.exists(), reason="the authors' IRIS key listing is absent")
def test_convert_as_delta_iris_an_iris_file_names_iris(tmp_path, capsys):
    path = tmp_path / "last.pt"
    torch.save(synthetic_original_state_dict(), path)
    assert main(["convert", "delta-iris", str(path), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "an authors' iris checkpoint, not delta-iris" in err


def test_convert_writes_our_format_and_load_agent_reads_both(atari_file, tmp_path, capsys):
    out = tmp_path / "converted"
    assert main(["convert", "delta-iris", str(atari_file), str(out)]) == 0
    assert "Atari" in capsys.readouterr().out
    converted = load_agent(out, device="cpu").eval()
    direct = load_agent(atari_file, device="cpu").eval()  # the kind is recognised by the file's keys
    for agent in (converted, direct):
        assert isinstance(agent, DeltaIRISAgent) and agent.kind == "delta-iris" and agent.num_actions == 6
    assert converted.config == direct.config
    theirs = direct.state_dict()
    assert list(converted.state_dict()) == list(theirs)
    for key, tensor in converted.state_dict().items():
        assert torch.equal(tensor, theirs[key]), key
    obs, act, tokens = frames(1, 2, seed=11), actions(6, 1, 2, seed=12), torch.randint(0, 1024, (1, 2, 4))
    with torch.no_grad():
        outputs = [agent.world_model(agent.world_model.embed_sequence(obs, act, tokens)) for agent in (converted,
                                                                                                       direct)]
        policies = []
        for agent in (converted, direct):
            agent.actor_critic.model.reset(1)
            policies.append(agent.actor_critic.model(obs[:, 0]))
    assert torch.equal(outputs[0].logits_latents, outputs[1].logits_latents)
    assert torch.equal(outputs[0].output_sequence, outputs[1].output_sequence)
    assert all(torch.equal(a, b) for a, b in zip(*policies, strict=True))
