import pytest
import torch

from iris_wm.models.returns import compute_lambda_returns


def rows(*values, dtype=torch.float32):
    return torch.tensor(values, dtype=dtype)


def test_spec_worked_example():
    # Worked by hand with the paper's gamma 0.995 and lambda 0.95.
    rewards = rows([1.0, 0.0, 0.0, 1.0])
    values = torch.full((1, 4), 0.5)
    ends = rows([False, False, True, False], dtype=torch.bool)
    returns = compute_lambda_returns(rewards, values, ends, gamma=0.995, lambda_=0.95)
    torch.testing.assert_close(returns, rows([1.0484, 0.0249, 0.0, 0.5]), atol=5e-5, rtol=0)


def test_hand_derived_batch():
    # gamma = lambda = 0.5, r = (1, 2, 3), V = (4, 8, 16).
    # Row 0, no ends:
    #   G2 = V2 = 16 (r2 unused)
    #   G1 = 2 + 0.5 * (0.5 * 16 + 0.5 * 16) = 10
    #   G0 = 1 + 0.5 * (0.5 * 8 + 0.5 * 10) = 5.5
    # Row 1, end at step 0: G0 = r0 = 1; G1, G2 as in row 0.
    rewards = rows([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    values = rows([4.0, 8.0, 16.0], [4.0, 8.0, 16.0])
    ends = rows([False, False, False], [True, False, False], dtype=torch.bool)
    returns = compute_lambda_returns(rewards, values, ends, gamma=0.5, lambda_=0.5)
    torch.testing.assert_close(returns, rows([5.5, 10.0, 16.0], [1.0, 10.0, 16.0]))


def random_trajectories(batch=3, horizon=6):
    generator = torch.Generator().manual_seed(0)
    rewards = torch.randint(-1, 2, (batch, horizon), generator=generator).float()
    values = torch.randn(batch, horizon, generator=generator)
    ends = torch.rand(batch, horizon, generator=generator) < 0.3
    return rewards, values, ends


def test_lambda_zero_is_one_step_td():
    rewards, values, ends = random_trajectories()
    gamma = 0.9
    returns = compute_lambda_returns(rewards, values, ends, gamma, lambda_=0.0)
    td = rewards[:, :-1] + gamma * (~ends[:, :-1]).float() * values[:, 1:]
    torch.testing.assert_close(returns[:, :-1], td)
    torch.testing.assert_close(returns[:, -1], values[:, -1])


def test_lambda_one_is_monte_carlo_with_final_bootstrap():
    rewards, values, ends = random_trajectories()
    gamma = 0.9
    returns = compute_lambda_returns(rewards, values, ends, gamma, lambda_=1.0)
    batch, horizon = rewards.shape
    for b in range(batch):
        for t in range(horizon):
            # Discounted rewards r_t..r_{H-2}, then V_{H-1}, each weighted by gamma^k and cut by
            # the first end at or after t.
            expected, discount = 0.0, 1.0
            for k in range(t, horizon - 1):
                expected += discount * rewards[b, k].item()
                discount *= gamma * (1.0 - ends[b, k].item())
            expected += discount * values[b, -1].item()
            assert returns[b, t].item() == pytest.approx(expected, abs=1e-5)


def test_no_grad_and_rows_independent():
    rewards, values, ends = random_trajectories()
    values.requires_grad_(True)
    returns = compute_lambda_returns(rewards, values, ends, 0.995, 0.95)
    assert not returns.requires_grad and returns.shape == rewards.shape
    alone = compute_lambda_returns(rewards[1:2], values[1:2], ends[1:2], 0.995, 0.95)
    torch.testing.assert_close(alone, returns[1:2])
