"""An agent: tokenizer + world model + actor-critic, and how it acts in a real environment.

The agent kinds (IRIS now; Delta-IRIS and the LM world model later) differ only in the
components ``create_model`` builds for them and in their config dataclass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from iris_wm.config import build_config
from iris_wm.devices import resolve_device
from iris_wm.errors import IrisError
from iris_wm.models.actor_critic import ActorCritic, ActorCriticConfig
from iris_wm.models.distributions import sample
from iris_wm.models.tokenizer import Tokenizer, TokenizerConfig
from iris_wm.models.transformer import TransformerConfig
from iris_wm.models.world_model import WorldModel


@dataclass
class IRISConfig:
    """The paper's networks (spec §11): defaults reproduce IRIS on Atari 100k."""

    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    world_model: TransformerConfig = field(default_factory=TransformerConfig)
    actor_critic: ActorCriticConfig = field(default_factory=ActorCriticConfig)


class Agent(nn.Module):
    def __init__(self, kind: str, config: Any, tokenizer: nn.Module, world_model: nn.Module,
                 actor_critic: ActorCritic) -> None:
        super().__init__()
        self.kind, self.config = kind, config
        # Registration order = the authors' checkpoint key order.
        self.tokenizer = tokenizer
        self.world_model = world_model
        self.actor_critic = actor_critic

    @property
    def num_actions(self) -> int:
        return self.actor_critic.num_actions

    @property
    def device(self) -> torch.device:
        return next(self.actor_critic.parameters()).device

    def policy_input(self, obs: Tensor) -> Tensor:
        """What the policy sees of real frames (N, 3, H, W) in [0, 1]: by default their reconstruction
        through the tokenizer, as in imagination, so that both look alike to it."""
        if self.actor_critic.config.use_original_obs:
            return obs
        return self.tokenizer.encode_decode(obs, should_preprocess=True, should_postprocess=True).clamp(0, 1)

    @torch.no_grad()
    def act(self, obs: Tensor, should_sample: bool = True, temperature: float = 1.0) -> Tensor:
        """obs (N, 3, H, W) in [0, 1] -> actions (N,) int64. Advances the actor-critic's LSTM state."""
        logits = self.actor_critic(self.policy_input(obs)).logits[:, -1] / temperature  # (N, A)
        return sample(logits) if should_sample else logits.argmax(dim=-1)


def build_iris(config: IRISConfig, num_actions: int) -> Agent:
    tokenizer = Tokenizer(config.tokenizer)
    world_model = WorldModel(config.tokenizer.vocab_size, num_actions, config.world_model)
    return Agent("iris", config, tokenizer, world_model, ActorCritic(num_actions, config.actor_critic))


# kind -> (config class, builder)
AGENT_KINDS: dict[str, tuple[type, Callable[[Any, int], Agent]]] = {"iris": (IRISConfig, build_iris)}


def agent_config(kind: str, config: Mapping[str, Any] | Any | None = None) -> Any:
    """The validated config of an agent kind, from defaults overridden by ``config``."""
    if kind not in AGENT_KINDS:
        raise IrisError(f"unknown agent kind {kind!r}; choose one of: {', '.join(AGENT_KINDS)}")
    return build_config(AGENT_KINDS[kind][0], config)


def create_model(kind: str = "iris", num_actions: int = 18, device: str | torch.device = "auto",
                 config: Mapping[str, Any] | Any | None = None) -> Agent:
    """A freshly initialised agent.

    >>> agent = create_model("iris", num_actions=6, config={"tokenizer": {"perceptual_weight": 0}})
    """
    if num_actions < 1:
        raise IrisError(f"num_actions must be at least 1, got {num_actions}")
    cls_config = agent_config(kind, config)
    return AGENT_KINDS[kind][1](cls_config, num_actions).to(resolve_device(device))
