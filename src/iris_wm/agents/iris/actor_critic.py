"""IRIS's actor-critic: a small CNN + LSTMCell with policy and value heads (docs/algorithm.md, 'Actor-critic').

The LSTM state (hx, cx) lives on the module: ``reset`` starts it (optionally burning in on real
frames), each ``forward`` advances it by one step, ``clear`` drops it. Module names follow the
authors' checkpoints (conv1..conv4, lstm, critic_linear, actor_linear) so their tensors load 1:1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from iris_wm.agents.base import Imagined
from iris_wm.agents.iris.imagination import IRISImagination
from iris_wm.config import at_least, probability
from iris_wm.data.batch import Batch
from iris_wm.data.frames import to_uint8_truncated
from iris_wm.errors import IrisError
from iris_wm.models.distributions import categorical, sample
from iris_wm.models.losses import Losses
from iris_wm.models.returns import compute_lambda_returns

FRAME_SIZE = 64  # frames are (3, 64, 64); four 2x max-pools leave 4x4


@dataclass
class ActorCriticConfig:
    lstm_dim: int = 512  # LSTM hidden size; both heads read hx
    use_original_obs: bool = False  # act on raw frames instead of reconstructions (not trainable)
    conv_channels: tuple[int, ...] = (32, 32, 64, 64)  # output channels of conv1..conv4

    def __post_init__(self) -> None:
        self.conv_channels = tuple(self.conv_channels)  # Hydra hands lists over
        if len(self.conv_channels) != 4 or min(self.conv_channels) < 1:
            raise IrisError(f"actor_critic.conv_channels must be 4 positive ints, got {self.conv_channels}")
        if self.lstm_dim < 1:
            raise IrisError(f"actor_critic.lstm_dim must be positive, got {self.lstm_dim}")


@dataclass
class ActorCriticLossConfig:
    gamma: float = probability(0.995)  # discount factor
    lambda_: float = probability(0.95)  # λ of the λ-returns: 0 is one-step TD, 1 is Monte-Carlo with bootstrap
    entropy_weight: float = at_least(0, 0.001)  # weight of the entropy bonus on the policy
    imagine_horizon: int = at_least(2, 20)  # imagined steps per trajectory (H); the loss uses the first H-1
    burn_in: int = at_least(0, 20)  # real frames run through the LSTM before imagination starts


@dataclass
class ActorCriticOutput:
    logits: Tensor  # (N, 1, A) action logits
    values: Tensor  # (N, 1, 1) state values


@dataclass
class ImagineOutput(Imagined):
    """The imagined trajectories (rewards in {-1, 0, 1}) with what the loss needs of the policy."""

    logits: Tensor  # (B, H, A) policy logits, with grad
    values: Tensor  # (B, H) values, with grad


class ActorCritic(nn.Module):
    def __init__(self, num_actions: int, config: ActorCriticConfig | None = None) -> None:
        super().__init__()
        config = config or ActorCriticConfig()  # a fresh default per model: configs are mutable
        self.config = config
        self.num_actions = num_actions
        c1, c2, c3, c4 = config.conv_channels
        # Registration order = the checkpoint's key order: conv1..4, lstm, critic_linear, actor_linear.
        self.conv1 = nn.Conv2d(3, c1, 3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.conv3 = nn.Conv2d(c2, c3, 3, padding=1)
        self.conv4 = nn.Conv2d(c3, c4, 3, padding=1)
        self.lstm = nn.LSTMCell(c4 * (FRAME_SIZE // 16) ** 2, config.lstm_dim)  # 1024 -> 512 by default
        self.critic_linear = nn.Linear(config.lstm_dim, 1)
        self.actor_linear = nn.Linear(config.lstm_dim, num_actions)
        # Recurrent state, (N, lstm_dim) each; plain attributes so they stay out of the state_dict.
        self.hx: Tensor | None = None
        self.cx: Tensor | None = None

    def clear(self) -> None:
        self.hx, self.cx = None, None

    def reset(
        self, n: int, burnin_observations: Tensor | None = None, mask_padding: Tensor | None = None
    ) -> None:
        """Zero the state of n rows, then optionally run burn-in frames through the LSTM.

        burnin_observations: (n, T, 3, 64, 64) float in [0, 1]; mask_padding: (n, T) bool, True on
        real frames. Burn-in runs without grad and advances each row only on its real frames.
        """
        weight = self.conv1.weight
        self.hx = torch.zeros(n, self.config.lstm_dim, device=weight.device, dtype=weight.dtype)
        self.cx = torch.zeros_like(self.hx)
        if burnin_observations is None:
            return
        assert burnin_observations.ndim == 5 and burnin_observations.size(0) == n, "expected (n, T, 3, H, W)"
        assert mask_padding is not None and mask_padding.shape == burnin_observations.shape[:2]
        with torch.no_grad():
            for t in range(burnin_observations.size(1)):
                self(burnin_observations[:, t], mask_padding[:, t])

    def reset_rows(self, rows: Tensor) -> None:
        """Zero the state of the rows where ``rows`` ((N,) bool) is True: their episodes restarted."""
        keep = ~rows.unsqueeze(1)  # (N, 1)
        self.hx, self.cx = self.hx * keep, self.cx * keep

    def encode(self, obs: Tensor) -> Tensor:
        """(N, 3, 64, 64) in [0, 1] -> (N, 1024) features."""
        x = obs * 2 - 1
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            x = F.relu(F.max_pool2d(conv(x), 2))  # conv, then pool, then ReLU: halves H and W
        return x.flatten(start_dim=1)

    def forward(self, obs: Tensor, mask_padding: Tensor | None = None) -> ActorCriticOutput:
        """One step: obs (N, 3, 64, 64) in [0, 1]; mask_padding (N,) bool, False rows keep their state.

        Input ranges are not checked with min/max: that would sync the host with the GPU.
        """
        assert self.hx is not None, "call reset(n) before forward"
        assert obs.ndim == 4 and obs.size(0) == self.hx.size(0), "expected (N, 3, 64, 64) with N = reset's n"
        hx, cx = self.lstm(self.encode(obs), (self.hx, self.cx))  # (N, lstm_dim) each
        if mask_padding is not None:
            # Every row is computed and the padded ones are discarded: rows do not interact, so the
            # valid rows get the same numbers as running them alone, without a data-dependent shape
            # (a host sync). torch.where, not an in-place write, keeps BPTT through the state valid.
            keep = mask_padding.unsqueeze(1)  # (N, 1)
            hx, cx = torch.where(keep, hx, self.hx), torch.where(keep, cx, self.cx)
        self.hx, self.cx = hx, cx
        logits = self.actor_linear(hx).unsqueeze(1)  # (N, 1, A)
        values = self.critic_linear(hx).unsqueeze(1)  # (N, 1, 1)
        return ActorCriticOutput(logits, values)

    def imagine(self, batch: Batch, env: IRISImagination, horizon: int, tokens: Tensor,
                reconstructions: Tensor) -> ImagineOutput:
        """Roll the policy out for ``horizon`` steps inside the world model (docs/algorithm.md, 'Imagination').

        batch.observations (B, 1 + burn_in, 3, H, W) in [0, 1]: the burn-in frames, then the real
        frame imagination starts from; the policy sees both through the tokenizer, as it sees
        imagined frames: ``tokens`` (B, 1 + burn_in, K) and ``reconstructions`` (like the frames)
        are what the tokenizer makes of them. Gradients flow through the actor-critic only.
        """
        if self.config.use_original_obs:
            raise IrisError("actor_critic.use_original_obs=true cannot be trained in imagination, which has no raw "
                            "frames to show the policy; train with false")
        self.reset(batch.batch_size, reconstructions[:, :-1], batch.mask_padding[:, :-1])
        env.reset_from_tokens(tokens[:, -1])
        frames = reconstructions[:, -1]
        steps: dict[str, list[Tensor]] = {k: [] for k in ("observations", "actions", "logits", "values",
                                                          "rewards", "ends")}
        for k in range(horizon):
            out = self(frames)
            actions = sample(out.logits[:, 0])
            steps["observations"].append(to_uint8_truncated(frames))  # as the original stores them
            frames_next, rewards, ends = env.step(actions, should_predict_next_obs=k < horizon - 1)
            for name, value in (("actions", actions), ("logits", out.logits[:, 0]), ("values", out.values[:, 0, 0]),
                                ("rewards", rewards), ("ends", ends)):
                steps[name].append(value)
            frames = frames_next
        self.clear()
        return ImagineOutput(**{name: torch.stack(values, dim=1) for name, values in steps.items()})

    def compute_loss(self, batch: Batch, env: IRISImagination, loss_config: ActorCriticLossConfig,
                     tokens: Tensor, reconstructions: Tensor) -> Losses:
        outputs = self.imagine(batch, env, loss_config.imagine_horizon, tokens, reconstructions)
        return self.loss_from_imagination(outputs, loss_config)

    def loss_from_imagination(self, outputs: ImagineOutput, loss_config: ActorCriticLossConfig) -> Losses:
        """REINFORCE with a value baseline, value regression and an entropy bonus.

        Terms average over steps t = 0..H-2: the last step only provides the bootstrap value.
        """
        returns = compute_lambda_returns(
            outputs.rewards, outputs.values, outputs.ends, loss_config.gamma, loss_config.lambda_
        )[:, :-1]  # (B, H-1), no grad
        values = outputs.values[:, :-1]  # (B, H-1)
        policy = categorical(outputs.logits[:, :-1])  # batch shape (B, H-1)
        log_probs = policy.log_prob(outputs.actions[:, :-1])  # (B, H-1)

        advantages = returns - values.detach()  # the policy term must not train the critic
        loss_actions = -(log_probs * advantages).mean()
        loss_values = F.mse_loss(values, returns)
        loss_entropy = -loss_config.entropy_weight * policy.entropy().mean()
        return Losses.from_terms(
            loss_actions=loss_actions, loss_values=loss_values, loss_entropy=loss_entropy
        )
