"""The Δ-IRIS agent (Micheli, Alonso & Fleuret, ICML 2024): a Δ-tokenizer of transitions, a GPT
world model over I-tokens and Δ-tokens, and a pixel actor-critic with an EMA target, behind the
shared agent contract."""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable

import torch
from torch import Tensor

from iris_wm.agents.base import Agent, Curve, Phase
from iris_wm.agents.delta_iris.actor_critic import DeltaActorCritic, DeltaImagineOutput
from iris_wm.agents.delta_iris.config import DeltaIRISConfig, DeltaIRISTraining
from iris_wm.agents.delta_iris.imagination import DeltaImagination
from iris_wm.agents.delta_iris.tokenizer import DeltaTokenizer
from iris_wm.agents.delta_iris.transition_cache import TransitionTokens
from iris_wm.agents.delta_iris.world_model import DeltaWorldModel
from iris_wm.data.batch import Batch
from iris_wm.data.sampling import PrioritizedSegments
from iris_wm.models.distributions import sample
from iris_wm.models.losses import Losses


class DeltaIRISAgent(Agent):
    kind = "delta-iris"

    def __init__(self, config: DeltaIRISConfig, num_actions: int) -> None:
        super().__init__(config, num_actions)
        # Registration order = the authors' checkpoint key order.
        self.tokenizer = DeltaTokenizer(config.tokenizer, num_actions)
        self.world_model = DeltaWorldModel(config.world_model, num_actions, config.tokenizer.codebook_size)
        self.actor_critic = DeltaActorCritic(config.actor_critic, num_actions)
        self._fresh_state: tuple[Tensor, Tensor] | None = None  # (1, D) LSTM state after a fresh burn-in
        self._transitions: TransitionTokens | None = None  # this epoch's, when training.cache_tokens

    # -- policy state ------------------------------------------------------------------------------

    @property
    def burn_in(self) -> int:
        return self.config.actor_critic_loss.burn_in

    @property
    def policy(self):
        return self.actor_critic.model

    def seen_frames(self, obs: Tensor) -> Tensor:
        return obs  # the policy acts on frames as they are, real or imagined

    def reset_policy(self, n: int, burn_in_frames: Tensor | None = None, mask: Tensor | None = None) -> None:
        """A fresh episode starts after ``burn_in`` black frames, as training segments near an
        episode's start do (their left padding); unfinished episodes replay their last frames, with
        black frames where ``mask`` marks none."""
        self._fresh_state = self._state_after_black_frames()
        self.policy.reset(n)
        if burn_in_frames is None:
            self.policy.hx, self.policy.cx = (s.expand(n, -1).clone() for s in self._fresh_state)
            return
        frames = burn_in_frames if mask is None else burn_in_frames * mask[:, :, None, None, None]
        self.policy.burn_in(frames)

    @torch.no_grad()
    def _state_after_black_frames(self) -> tuple[Tensor, Tensor]:
        """(1, D) hx, cx after ``burn_in`` black frames from zero; the policy's own state is kept."""
        kept = self.policy.hx, self.policy.cx
        self.policy.reset(1)
        self.policy.burn_in(torch.zeros(1, self.burn_in, 3, 64, 64, device=self.device))
        fresh = self.policy.hx, self.policy.cx
        self.policy.hx, self.policy.cx = kept
        return fresh

    def reset_policy_rows(self, rows: Tensor) -> None:
        if self._fresh_state is None:
            self._fresh_state = self._state_after_black_frames()
        keep = ~rows.unsqueeze(1)  # (n, 1)
        hx, cx = self._fresh_state
        self.policy.hx = torch.where(keep, self.policy.hx, hx)
        self.policy.cx = torch.where(keep, self.policy.cx, cx)

    def clear_policy(self) -> None:
        self.policy.clear()

    def policy_step(self, frames: Tensor, seen: bool = False) -> tuple[Tensor, Tensor]:
        logits, critic = self.policy(frames)
        return logits, self.policy.value(critic)

    # -- imagination -------------------------------------------------------------------------------

    def make_imagination(self, sampler: Callable[[Tensor], Tensor] = sample) -> DeltaImagination:
        return DeltaImagination(self.tokenizer, self.world_model, sampler)

    def imagine(self, batch: Batch) -> DeltaImagineOutput:
        latents = self.encode_transitions(batch)  # fresh: the batch may come from episodes the epoch's cache never saw
        return self.actor_critic.imagine(batch, self.imagination(), self.config.actor_critic_loss.imagine_horizon,
                                         latents)

    @property
    def context_length(self) -> int:
        return self.world_model.max_blocks

    @torch.no_grad()
    def reconstruct(self, batch: Batch) -> Tensor:
        """Each frame rebuilt from the previous one, its action and its Δ-tokens; the first frame,
        which has no previous one, as it is."""
        obs = batch.observations
        rebuilt = self.tokenizer.encode_decode(obs[:, :-1], batch.actions[:, :-1], obs[:, 1:])
        return torch.cat([obs[:, :1], rebuilt], dim=1)

    # -- what the frozen tokenizer makes of real transitions ------------------------------------------

    @torch.no_grad()
    def encode_transitions(self, batch: Batch) -> Tensor:
        """(B, T - 1, K) the Δ-tokens of the batch's transitions, each frame given the one before and the action."""
        obs = batch.observations
        return self.tokenizer.encode(obs[:, :-1], batch.actions[:, :-1], obs[:, 1:]).tokens

    def cached_transitions(self, batch: Batch) -> Tensor:
        """``encode_transitions``, looked up in this epoch's cache when there is one (training's batches
        only: the cache knows frames by their ids in the training dataset)."""
        return self._transitions.tokens(batch) if self._transitions is not None else self.encode_transitions(batch)

    # -- training ----------------------------------------------------------------------------------

    def start_epoch(self, training: DeltaIRISTraining, epoch: int) -> None:
        # Filled during the world-model and actor-critic phases, after the tokenizer's.
        self._transitions = TransitionTokens(self.tokenizer) if training.cache_tokens else None

    def phases(self, training: DeltaIRISTraining) -> list[Phase]:
        config = self.config
        # The authors' first epoch draws episodes uniformly, the later ones by priority.
        sampler = functools.partial(PrioritizedSegments, uniform_epochs=1)
        tokenizer_sampler = sampler(training.tokenizer.priority_alpha, can_sample_beyond_end=True)
        world_model_sampler = sampler(training.world_model.priority_alpha, can_sample_beyond_end=True)
        actor_critic_sampler = sampler(training.actor_critic.priority_alpha, can_sample_beyond_end=False)
        bf16 = training.uses_bf16(self.device)  # "on" without CUDA is refused here, before any step

        def precision() -> contextlib.AbstractContextManager:
            """The tokenizer and world model train under bf16 autocast where ``bf16`` (the authors' on CUDA)."""
            return torch.autocast(self.device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()

        def tokenizer_step(batch: Batch) -> Losses:
            with precision():
                return self.tokenizer.compute_loss(batch)

        def world_model_step(batch: Batch) -> Losses:
            with precision():
                return self.world_model.compute_loss(batch, self.cached_transitions(batch))

        def world_model_eval(batch: Batch) -> Losses:
            with precision():
                return self.world_model.compute_loss(batch, self.encode_transitions(batch))

        def actor_critic_step(batch: Batch) -> Losses:
            return self.actor_critic.compute_loss(batch, self.imagination(), config.actor_critic_loss,
                                                  self.cached_transitions(batch))

        # predicting Δ-tokens uniformly at random scores latents_weight * ln(codebook size)
        uniform = config.world_model.latents_weight * math.log(config.tokenizer.codebook_size)
        return [
            Phase("tokenizer", self.tokenizer, training.tokenizer, training.learning_rate,
                  training.tokenizer.sequence_length, tokenizer_sampler, loss=tokenizer_step, eval_loss=tokenizer_step,
                  summary=("tok l2", "reconstruction_loss_l2"),
                  curves=(Curve("tokenizer/train/reconstruction_loss_l2"), Curve("tokenizer/train/codebook_entropy"))),
            Phase("world_model", self.world_model, training.world_model, training.learning_rate, self.context_length,
                  world_model_sampler, loss=world_model_step, eval_loss=world_model_eval,
                  summary=("wm lat", "loss_latents"),
                  curves=(Curve("world_model/train/loss_latents", uniform, "uniform"),
                          Curve("world_model/train/loss_rewards"))),
            Phase("actor_critic", self.actor_critic.model, training.actor_critic, training.learning_rate,
                  1 + self.burn_in, actor_critic_sampler, loss=actor_critic_step, uses_imagination=True,
                  summary=("ac", "total_loss"), curves=(Curve("actor_critic/train/loss_values"),)),
        ]
