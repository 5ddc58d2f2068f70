"""Δ-IRIS's actor-critic: a frame CNN and an LSTMCell on pixels, with a frozen EMA target copy
(docs/delta-iris.md, 'Actor-critic').

The policy acts on frames as they are (real ones when collecting, imagined ones in training). The
target network supplies the values of the λ-returns and of the advantage; the online critic
regresses on those returns. After each loss the target moves towards the online weights
(Polyak averaging).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from iris_wm.agents.base import Imagined
from iris_wm.agents.delta_iris.imagination import DeltaImagination
from iris_wm.config import at_least, probability
from iris_wm.data.batch import Batch
from iris_wm.data.frames import to_uint8
from iris_wm.models.conv import FrameCnnConfig, FrameEncoder
from iris_wm.models.distributions import categorical, sample
from iris_wm.models.losses import Losses
from iris_wm.models.returns import compute_lambda_returns
from iris_wm.models.two_hot import NUM_BINS, expected_value, symlog_two_hot


@dataclass
class DeltaActorCriticConfig:
    frame_encoder: FrameCnnConfig = field(default_factory=lambda: FrameCnnConfig(latent_dim=16, num_channels=32))
    lstm_dim: int = at_least(1, 512)
    two_hot_rets: bool = False  # the critic predicts 255 symlog bins (Crafter) rather than a scalar (Atari)
    target_decay: float = probability(0.995)  # Polyak averaging of the target after each loss


@dataclass
class DeltaActorCriticLossConfig:
    gamma: float = probability(0.995)
    lambda_: float = probability(0.95)
    entropy_weight: float = at_least(0, 0.002)
    imagine_horizon: int = at_least(1, 20)
    burn_in: int = at_least(0, 5)  # real frames through the LSTM (and the world model) before imagining


@dataclass
class DeltaImagineOutput(Imagined):
    logits: Tensor  # (B, H, A), with grad
    values: Tensor  # (B, H) or (B, H, 255): the online critic's outputs, with grad
    target_values: Tensor  # (B, H + 1) scalars of the target critic, the last one bootstraps


class CnnLstmActorCritic(nn.Module):
    """One step per call; the LSTM state (hx, cx) lives on the module, out of the state dict."""

    def __init__(self, config: DeltaActorCriticConfig, num_actions: int) -> None:
        super().__init__()
        self.config = c = config
        # ``cnn.0``: the authors' nn.Sequential (CNN, then a parameter-free flatten).
        self.cnn = nn.ModuleDict({"0": FrameEncoder(3, c.frame_encoder)})
        features = c.frame_encoder.latent_dim * c.frame_encoder.latent_resolution() ** 2
        self.lstm = nn.LSTMCell(features, c.lstm_dim)
        self.actor_linear = nn.Linear(c.lstm_dim, num_actions)
        self.critic_linear = nn.Linear(c.lstm_dim, NUM_BINS if c.two_hot_rets else 1)
        nn.init.zeros_(self.critic_linear.weight)
        nn.init.zeros_(self.critic_linear.bias)
        self.hx: Tensor | None = None
        self.cx: Tensor | None = None

    def reset(self, n: int) -> None:
        weight = self.actor_linear.weight
        self.hx = torch.zeros(n, self.config.lstm_dim, device=weight.device, dtype=weight.dtype)
        self.cx = torch.zeros_like(self.hx)

    def clear(self) -> None:
        self.hx, self.cx = None, None

    def forward(self, frames: Tensor) -> tuple[Tensor, Tensor]:
        """frames (n, 3, 64, 64) in [0, 1] -> logits (n, A), critic outputs (n, 255 | 1)."""
        features = self.cnn["0"](frames).movedim(-3, -1).flatten(-3)  # (n, 1024), flattened as (h, w, c)
        self.hx, self.cx = self.lstm(features, (self.hx, self.cx))
        return self.actor_linear(self.hx), self.critic_linear(self.hx)

    def burn_in(self, frames: Tensor) -> None:
        """Feed frames (n, T, 3, 64, 64) without grad; padding frames (black) are fed as they are."""
        with torch.no_grad():
            for t in range(frames.shape[1]):
                self(frames[:, t])

    def value(self, critic_output: Tensor) -> Tensor:
        """(n, 255 | 1) -> (n,) scalar values."""
        return expected_value(critic_output) if self.config.two_hot_rets else critic_output[:, 0]


class DeltaActorCritic(nn.Module):
    def __init__(self, config: DeltaActorCriticConfig, num_actions: int) -> None:
        super().__init__()
        self.config = config
        self.model = CnnLstmActorCritic(config, num_actions)
        self.target_model = copy.deepcopy(self.model).requires_grad_(False)

    @torch.no_grad()
    def update_target(self) -> None:
        decay = self.config.target_decay
        for target, online in zip(self.target_model.state_dict().values(), self.model.state_dict().values(),
                                  strict=True):
            target.mul_(decay).add_(online, alpha=1 - decay)

    def imagine(self, batch: Batch, env: DeltaImagination, horizon: int, latents: Tensor) -> DeltaImagineOutput:
        """Roll the policy out for ``horizon`` steps from the last frame of each segment of ``batch``
        ((B, 1 + burn_in) real steps), after burning in the policies and the world model on the rest
        (``latents`` (B, burn_in, K): the tokenizer's tokens of its transitions)."""
        obs = batch.observations
        frames = env.reset_from_tokens(obs, batch.actions[:, :-1], latents)
        for model in (self.model, self.target_model):
            model.reset(batch.batch_size)
            model.burn_in(obs[:, :-1])
        steps: dict[str, list[Tensor]] = {k: [] for k in ("observations", "actions", "logits", "values",
                                                          "target_values", "rewards", "ends")}
        for _ in range(horizon):
            logits, values = self.model(frames)
            actions = sample(logits)
            with torch.no_grad():
                target_values = self.target_model.value(self.target_model(frames)[1])
            steps["observations"].append(to_uint8(frames))
            frames, rewards, ends = env.step(actions)
            for name, value in (("actions", actions), ("logits", logits), ("rewards", rewards), ("ends", ends),
                                ("values", values if self.config.two_hot_rets else values[:, 0]),
                                ("target_values", target_values)):
                steps[name].append(value)
        with torch.no_grad():
            steps["target_values"].append(self.target_model.value(self.target_model(frames)[1]))
        for model in (self.model, self.target_model):
            model.clear()
        return DeltaImagineOutput(**{name: torch.stack(values, dim=1) for name, values in steps.items()})

    def compute_loss(self, batch: Batch, env: DeltaImagination, loss_config: DeltaActorCriticLossConfig,
                     latents: Tensor) -> Losses:
        imagined = self.imagine(batch, env, loss_config.imagine_horizon, latents)
        losses = self.loss_from_imagination(imagined, loss_config)
        self.update_target()  # after the loss, before the optimizer's step, as the authors'
        return losses

    def loss_from_imagination(self, out: DeltaImagineOutput, loss_config: DeltaActorCriticLossConfig) -> Losses:
        """REINFORCE with the target's λ-return advantage, critic regression and an entropy bonus,
        over the steps up to and including the first imagined end."""
        c = loss_config
        # G_t over t = 0..H-1 with G_H = the bootstrap value: a zero reward and no end appended at H.
        zero = out.rewards.new_zeros(out.rewards.shape[0], 1)
        returns = compute_lambda_returns(torch.cat([out.rewards, zero], 1), out.target_values,
                                         torch.cat([out.ends, zero.bool()], 1), c.gamma, c.lambda_)[:, :-1]
        ends = out.ends.float()
        mask = (ends.cumsum(1) - ends) == 0  # (B, H): no end strictly before t
        count = mask.sum().clamp(min=1)

        def masked_mean(x: Tensor) -> Tensor:
            return (x * mask).sum() / count

        policy = categorical(out.logits)
        advantages = returns - out.target_values[:, :-1]
        if self.config.two_hot_rets:
            value_errors = F.cross_entropy(out.values.flatten(0, 1), symlog_two_hot(returns).flatten(0, 1),
                                           reduction="none").view_as(returns)
        else:
            value_errors = (out.values - returns).pow(2)
        entropy = policy.entropy()
        return Losses.from_terms(
            loss_actions=masked_mean(-policy.log_prob(out.actions) * advantages),
            loss_values=masked_mean(value_errors),
            loss_entropy=-c.entropy_weight * masked_mean(entropy),
        ).with_metrics(policy_entropy=masked_mean(entropy))
