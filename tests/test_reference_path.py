"""The benchmarks' plain eager reference path and the optimised path compute the same thing: with
the same weights and random stream, in float32 on CPU, they sample the same tokens and their
outputs and losses agree within float tolerance."""

import numpy as np
import pytest
import torch

from benchmarks.reference_path import ConcatKVCache, reference_env, reference_phases, reference_world_model
from iris_wm import create_model
from iris_wm.agents.iris.actor_critic import ActorCriticLossConfig
from iris_wm.agents.iris.config import IRISTraining
from iris_wm.agents.iris.imagination import IRISImagination
from iris_wm.data.batch import Batch
from tests.factories import tiny_iris_config

TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}


@pytest.fixture(scope="module", params=["causal", "block_causal"])
def agent(request):
    torch.manual_seed(0)
    return create_model("iris", num_actions=4, device="cpu",
                        config=tiny_iris_config(attention=request.param)).eval()


def random_batch(b: int, t: int, seed: int) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return Batch(observations=torch.randint(0, 256, (b, t, 3, 64, 64), generator=g, dtype=torch.uint8),
                 actions=torch.randint(0, 4, (b, t), generator=g), rewards=torch.randint(-1, 2, (b, t)).float(),
                 ends=torch.zeros(b, t, dtype=torch.long),
                 mask_padding=torch.ones(b, t, dtype=torch.bool)).to("cpu")


def test_world_model_outputs_and_loss_agree(agent):
    reference = reference_world_model(agent.world_model)
    assert isinstance(reference.new_kv_cache(2), ConcatKVCache)
    tokens = torch.randint(0, 4, (3, 2 * 17))
    ours, theirs = agent.world_model(tokens), reference(tokens)
    for name in ("logits_observations", "logits_rewards", "logits_ends"):
        torch.testing.assert_close(getattr(ours, name), getattr(theirs, name), **TOLERANCE)
    batch = random_batch(2, 4, seed=1)
    tokens = agent.encode_frames(batch)
    torch.testing.assert_close(agent.world_model.compute_loss(batch, tokens).total,
                               reference.compute_loss(batch, tokens).total, **TOLERANCE)


def test_incremental_passes_agree_token_by_token(agent):
    reference = reference_world_model(agent.world_model)
    tokens = torch.randint(0, 4, (2, 40))
    ours_cache, theirs_cache = agent.world_model.new_kv_cache(2), reference.new_kv_cache(2)
    for chunk in (tokens[:, :16], *tokens[:, 16:].split(1, dim=1)):
        ours, theirs = agent.world_model(chunk, ours_cache), reference(chunk, theirs_cache)
        torch.testing.assert_close(ours.logits_observations, theirs.logits_observations, **TOLERANCE)
    assert ours_cache.size == theirs_cache.size == 40


def test_imagination_samples_the_same_rollouts_and_losses(agent):
    loss_config = ActorCriticLossConfig(imagine_horizon=4, burn_in=2)
    batch = random_batch(5, 3, seed=2)
    runs, tokens = [], agent.encode_frames(batch)
    for env in (IRISImagination(agent.tokenizer, agent.world_model), reference_env(agent.tokenizer, agent.world_model)):
        torch.manual_seed(3)
        out = agent.actor_critic.imagine(batch, env, loss_config.imagine_horizon, tokens, agent.decode_frames(tokens))
        runs.append((out, agent.actor_critic.loss_from_imagination(out, loss_config)))
    (ours, ours_loss), (theirs, theirs_loss) = runs
    for name in ("observations", "actions", "rewards", "ends"):  # every sample identical
        assert torch.equal(getattr(ours, name), getattr(theirs, name)), name
    torch.testing.assert_close(ours.logits, theirs.logits, **TOLERANCE)
    for name, value in ours_loss.terms.items():
        torch.testing.assert_close(value, theirs_loss.terms[name], **TOLERANCE)
    assert np.isfinite(ours_loss.total.item())


def test_reference_phases_train_the_world_model_they_imagine_through():
    """speed.py's reference epochs: the world-model phase trains the reference copy and the
    actor-critic phase imagines through that same copy; both losses are the agent's own phases'."""
    torch.manual_seed(0)
    agent = create_model("iris", num_actions=4, device="cpu", config=tiny_iris_config()).eval()
    training = IRISTraining(cache_tokens=False)
    batches = {"world_model": random_batch(2, 4, seed=4), "actor_critic": random_batch(2, 5, seed=5)}

    def losses(phases):
        by_name, totals = {phase.name: phase for phase in phases}, {}
        for name, batch in batches.items():
            torch.manual_seed(6)  # the same imagined samples
            totals[name] = by_name[name].loss(batch).total
        return totals

    expected = losses(agent.phases(training))
    phases = reference_phases(agent, agent.phases(training))
    world_model = phases[1].module
    assert world_model is agent.world_model and isinstance(world_model.new_kv_cache(1), ConcatKVCache)
    for name, value in losses(phases).items():
        torch.testing.assert_close(value, expected[name], **TOLERANCE)
    with torch.no_grad():
        for parameter in world_model.parameters():
            parameter.zero_()
    assert not torch.allclose(losses(phases)["actor_critic"], expected["actor_critic"])
