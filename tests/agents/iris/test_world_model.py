import math

import torch

from iris_wm.agents.iris.world_model import WorldModel
from iris_wm.data.batch import Batch
from iris_wm.models.transformer import TransformerConfig

VOCAB = 40


def known_tokens(values: torch.Tensor) -> torch.Tensor:
    """Each frame's 16 tokens from a small int per frame v (B, T): k + 16 v mod VOCAB, k = 0..15."""
    return (torch.arange(16) + values.unsqueeze(-1) * 16) % VOCAB


def test_loss_matches_next_token_cross_entropy_computed_position_by_position():
    config = TransformerConfig(max_blocks=3, num_layers=1, num_heads=2, embed_dim=16)
    world_model = WorldModel(VOCAB, num_actions=4, config=config).eval()
    b, t = 2, 3
    frame_values = torch.tensor([[1, 2, 0], [3, 1, 2]])
    batch = Batch(
        observations=torch.zeros(b, t, 3, 64, 64),  # the loss reads the frames' tokens only
        actions=torch.tensor([[1, 3, 0], [2, 2, 1]]),
        rewards=torch.tensor([[0.0, 5.0, -1.0], [1.0, 0.0, 0.0]]),
        ends=torch.tensor([[0, 0, 0], [0, 1, 0]]),
        mask_padding=torch.tensor([[True, True, False], [True, True, True]]),  # row 0: last step is padding
    )
    tokens = known_tokens(frame_values)
    losses = world_model.compute_loss(batch, tokens)

    sequence = torch.cat([tokens, batch.actions.unsqueeze(-1)], -1).flatten(1)  # (B, 51)
    with torch.no_grad():
        out = world_model(sequence)
    obs_nll, obs_n, rew_nll, end_nll, act_n = 0.0, 0, 0.0, 0.0, 0
    for row in range(b):
        obs_slot = rew_slot = 0
        for p in range(sequence.shape[1]):
            in_block = p % 17
            if in_block != 15:  # this position reads the observation head
                target = p + 1  # the next token is the next frame token (obs k+1, or obs 0 of the next frame)
                if target < sequence.shape[1] and batch.mask_padding[row, target // 17]:
                    logits = out.logits_observations[row, obs_slot]
                    obs_nll -= torch.log_softmax(logits, -1)[sequence[row, target]].item()
                    obs_n += 1
                obs_slot += 1
            if in_block == 16:
                step = p // 17
                if batch.mask_padding[row, step]:
                    reward = batch.rewards[row, step].item()
                    reward_class = 1 if reward == 0 else int(math.copysign(1, reward)) + 1
                    rew_nll -= torch.log_softmax(out.logits_rewards[row, rew_slot], -1)[reward_class].item()
                    end_nll -= torch.log_softmax(out.logits_ends[row, rew_slot], -1)[batch.ends[row, step]].item()
                    act_n += 1
                rew_slot += 1
    assert obs_n == 16 * 5 - 2  # 5 valid frames, minus each row's first token, which nothing predicts
    assert math.isclose(losses.terms["loss_obs"].item(), obs_nll / obs_n, rel_tol=1e-5)
    assert math.isclose(losses.terms["loss_rewards"].item(), rew_nll / act_n, rel_tol=1e-5)
    assert math.isclose(losses.terms["loss_ends"].item(), end_nll / act_n, rel_tol=1e-5)
    assert set(losses.terms) == {"loss_obs", "loss_rewards", "loss_ends"}


def test_paper_world_model_parameter_count():
    for num_actions, expected in [(4, 8_447_493), (18, 8_451_077)]:  # the authors' counts
        assert sum(p.numel() for p in WorldModel(512, num_actions).parameters()) == expected
