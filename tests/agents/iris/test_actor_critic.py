import math
from pathlib import Path

import pytest
import torch

from iris_wm.agents.iris.actor_critic import (
    ActorCritic,
    ActorCriticConfig,
    ActorCriticLossConfig,
    ImagineOutput,
)
from iris_wm.config import build_config
from iris_wm.errors import IrisError
from iris_wm.models.losses import Losses

REFERENCE = Path(__file__).resolve().parents[3].parent / "shared" / "reference" / "iris_state_dict.txt"


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return ActorCritic(num_actions=4)


def frames(*shape, seed=0):
    return torch.rand(*shape, 3, 64, 64, generator=torch.Generator().manual_seed(seed))


# --- architecture -------------------------------------------------------------------------------


@pytest.mark.parametrize("num_actions", [3, 6, 18])
@pytest.mark.parametrize("n", [1, 5])
def test_forward_shapes(num_actions, n):
    model = ActorCritic(num_actions)
    model.reset(n)
    out = model(frames(n))
    assert out.logits.shape == (n, 1, num_actions)
    assert out.values.shape == (n, 1, 1)
    assert model.hx.shape == model.cx.shape == (n, 512)


@pytest.mark.parametrize("num_actions, expected", [(4, 3_217_957), (18, 3_225_139)])
def test_parameter_count(num_actions, expected):
    model = ActorCritic(num_actions)
    assert sum(p.numel() for p in model.parameters()) == expected


def reference_entries():
    """(name, shape) of the authors' actor_critic tensors, A = 4, in checkpoint order."""
    if not REFERENCE.exists():
        pytest.skip(f"reference key listing not found at {REFERENCE}")
    entries = []
    for line in REFERENCE.read_text().splitlines():
        if line.startswith("actor_critic.") and "\t" in line:
            name, shape = line.split("\t")[:2]
            dims = tuple(int(d) for d in shape.strip("(,)").split(","))
            entries.append((name.removeprefix("actor_critic."), dims))
    assert entries, "no actor_critic entries parsed from the reference listing"
    return entries


def test_names_and_shapes_match_authors_checkpoint(model):
    ours = [(name, tuple(t.shape)) for name, t in model.state_dict().items()]
    assert ours == reference_entries()


def test_authors_tensors_load_one_to_one(model):
    state = {name: torch.randn(shape) for name, shape in reference_entries()}
    fresh = ActorCritic(num_actions=4)
    fresh.load_state_dict(state, strict=True)
    torch.testing.assert_close(fresh.lstm.weight_ih, state["lstm.weight_ih"])


def test_input_mapped_to_minus_one_one(model):
    # A constant frame of 0.5 maps to 0, so conv1's output is its bias everywhere.
    x = model.conv1(torch.zeros(1, 3, 64, 64))
    assert torch.allclose(x, model.conv1.bias.view(1, -1, 1, 1).expand_as(x))
    model.reset(1)
    via_encode = model.encode(torch.full((1, 3, 64, 64), 0.5))
    expected = torch.relu(torch.nn.functional.max_pool2d(x, 2))
    for conv in (model.conv2, model.conv3, model.conv4):
        expected = torch.relu(torch.nn.functional.max_pool2d(conv(expected), 2))
    torch.testing.assert_close(via_encode, expected.flatten(1))


def test_config_validation():
    assert ActorCriticConfig(conv_channels=[8, 8, 16, 16]).conv_channels == (8, 8, 16, 16)
    with pytest.raises(IrisError, match="conv_channels"):
        ActorCriticConfig(conv_channels=(32, 32, 64))
    with pytest.raises(IrisError, match=r"gamma=1.5 is out of range: it must be in \[0, 1\]"):
        build_config(ActorCriticLossConfig, {"gamma": 1.5})
    with pytest.raises(IrisError, match="imagine_horizon=1 is out of range: it must be at least 2"):
        build_config(ActorCriticLossConfig, ActorCriticLossConfig(imagine_horizon=1))  # instances are checked too


def test_small_conv_channels_change_lstm_input():
    model = ActorCritic(2, ActorCriticConfig(lstm_dim=16, conv_channels=(4, 4, 8, 8)))
    assert model.lstm.input_size == 8 * 4 * 4
    model.reset(2)
    assert model(frames(2)).logits.shape == (2, 1, 2)


# --- recurrent state ----------------------------------------------------------------------------


def run_alone(model, observations):
    """Final (hx, cx) of one row run step by step from a zero state: observations (T, 3, 64, 64)."""
    model.reset(1)
    with torch.no_grad():
        for obs in observations:
            model(obs.unsqueeze(0))
    return model.hx[0], model.cx[0]


def test_burn_in_with_padding(model):
    obs = frames(3, 4)  # (n=3, T=4)
    mask = torch.tensor(
        [
            [True, True, True, True],
            [False, False, True, True],  # padding before the episode starts
            [False, False, False, False],  # all padding
        ]
    )
    model.reset(3, obs, mask)
    assert not model.hx.requires_grad  # burn-in runs without grad
    for row in range(2):
        hx, cx = run_alone(model, obs[row][mask[row]])
        model.reset(3, obs, mask)
        torch.testing.assert_close(model.hx[row], hx, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(model.cx[row], cx, atol=1e-6, rtol=1e-5)
    assert torch.count_nonzero(model.hx[2]) == 0 and torch.count_nonzero(model.cx[2]) == 0


def test_masked_forward_writes_only_masked_rows(model):
    model.reset(3, frames(3, 2, seed=1), torch.ones(3, 2, dtype=torch.bool))
    hx_before, cx_before = model.hx.clone(), model.cx.clone()
    obs = frames(3, seed=2)
    mask = torch.tensor([True, False, True])

    with torch.no_grad():
        out = model(obs, mask)
    hx_after, cx_after = model.hx.clone(), model.cx.clone()
    torch.testing.assert_close(hx_after[1], hx_before[1], atol=0, rtol=0)
    torch.testing.assert_close(cx_after[1], cx_before[1], atol=0, rtol=0)

    model.hx, model.cx = hx_before[mask], cx_before[mask]
    with torch.no_grad():
        model(obs[mask])
    torch.testing.assert_close(hx_after[mask], model.hx)
    torch.testing.assert_close(cx_after[mask], model.cx)
    # Heads read every row's hx, including the untouched one.
    torch.testing.assert_close(out.logits[:, 0], model.actor_linear(hx_after).detach())
    torch.testing.assert_close(out.values[:, 0], model.critic_linear(hx_after).detach())


def test_masked_forward_keeps_bptt_through_state():
    model = ActorCritic(2, ActorCriticConfig(lstm_dim=8, conv_channels=(4, 4, 4, 4)))
    model.reset(2)
    model(frames(2, seed=3), torch.tensor([True, False]))
    out = model(frames(2, seed=4))
    out.values.sum().backward()  # would fail if the masked update had written in place
    assert model.conv1.weight.grad is not None


def test_reset_clear_reset_rows(model):
    model.reset(3, frames(3, 2), torch.ones(3, 2, dtype=torch.bool))
    hx, cx = model.hx.clone(), model.cx.clone()
    restarted = torch.tensor([False, True, False])  # env 1's episode ended: its row starts again
    model.reset_rows(restarted)
    assert torch.count_nonzero(model.hx[1]) == 0 and torch.count_nonzero(model.cx[1]) == 0
    torch.testing.assert_close(model.hx[~restarted], hx[~restarted])
    torch.testing.assert_close(model.cx[~restarted], cx[~restarted])

    model.clear()
    assert model.hx is None and model.cx is None
    with pytest.raises(AssertionError, match="reset"):
        model(frames(1))

    model.reset(2)
    assert torch.count_nonzero(model.hx) == 0 and torch.count_nonzero(model.cx) == 0


# --- loss ---------------------------------------------------------------------------------------


def tiny_imagination(logits, values):
    """B = 1, H = 3, A = 2: r = (1, 0, 0), no ends, actions (0, 1, 0)."""
    return ImagineOutput(
        observations=torch.zeros(1, 3, 3, 64, 64, dtype=torch.uint8),
        actions=torch.tensor([[0, 1, 0]]),
        logits=logits,
        values=values,
        rewards=torch.tensor([[1.0, 0.0, 0.0]]),
        ends=torch.zeros(1, 3, dtype=torch.bool),
    )


def test_loss_on_hand_checked_batch(model):
    # Step 0: pi = (0.5, 0.5); step 1: pi = (0.75, 0.25); step 2 is only the bootstrap.
    logits = torch.tensor([[[0.0, 0.0], [math.log(3.0), 0.0], [5.0, -5.0]]], requires_grad=True)
    values = torch.tensor([[1.0, 0.5, 2.0]], requires_grad=True)
    config = ActorCriticLossConfig(gamma=0.5, lambda_=0.5, entropy_weight=0.1)
    losses = model.loss_from_imagination(tiny_imagination(logits, values), config)

    # G2 = V2 = 2; G1 = 0 + 0.5 * (0.5 * 2 + 0.5 * 2) = 1; G0 = 1 + 0.5 * (0.5 * 0.5 + 0.5 * 1) = 1.375
    returns = [1.375, 1.0]
    advantages = [1.375 - 1.0, 1.0 - 0.5]
    log_pi = [math.log(0.5), math.log(0.25)]  # a0 = 0 at step 0, a1 = 1 at step 1
    entropies = [math.log(2.0), -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))]
    expected = {
        "loss_actions": -(log_pi[0] * advantages[0] + log_pi[1] * advantages[1]) / 2,
        "loss_values": ((1.0 - returns[0]) ** 2 + (0.5 - returns[1]) ** 2) / 2,
        "loss_entropy": -0.1 * (entropies[0] + entropies[1]) / 2,
    }
    assert set(losses.terms) == set(expected)
    for name, value in expected.items():
        assert losses.terms[name].item() == pytest.approx(value, abs=1e-6), name
        assert not losses.terms[name].requires_grad
    assert losses.total.item() == pytest.approx(sum(expected.values()), abs=1e-6)

    losses.total.backward()
    # Values get gradient from the value loss only: d/dV_t mean((V - G)^2) = 2 (V_t - G_t) / 2.
    # Were the advantage not detached, step t would also get +log pi(a_t) / 2.
    torch.testing.assert_close(values.grad, torch.tensor([[1.0 - 1.375, 0.5 - 1.0, 0.0]]))
    assert logits.grad[0, :2].abs().sum() > 0
    assert torch.count_nonzero(logits.grad[0, 2]) == 0  # the last step is outside the loss


def test_entropy_bonus_pushes_towards_uniform(model):
    logits = torch.tensor([[[2.0, 0.0], [2.0, 0.0], [2.0, 0.0]]])
    values = torch.zeros(1, 3)

    def logits_grad(entropy_weight):
        leaf = logits.clone().requires_grad_(True)
        config = ActorCriticLossConfig(entropy_weight=entropy_weight)
        losses = model.loss_from_imagination(tiny_imagination(leaf, values), config)
        losses.total.backward()
        return losses, leaf.grad

    with_bonus, grad_with = logits_grad(1.0)
    _, grad_without = logits_grad(0.0)
    assert with_bonus.terms["loss_entropy"].item() < 0  # a bonus: entropy lowers the loss
    entropy_grad = grad_with - grad_without  # gradient of the entropy term alone
    # Gradient descent lowers the favoured action's logit and raises the other one.
    assert (entropy_grad[0, :2, 0] > 0).all() and (entropy_grad[0, :2, 1] < 0).all()


def test_losses_from_terms():
    a = torch.tensor(2.0, requires_grad=True)
    losses = Losses.from_terms(first=a * 3, second=a * a)
    assert losses.total.item() == 10.0 and losses.total.requires_grad
    assert {name: t.item() for name, t in losses.terms.items()} == {"first": 6.0, "second": 4.0}
    assert not any(t.requires_grad for t in losses.terms.values())
