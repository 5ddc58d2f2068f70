"""The IRIS agent: a discrete autoencoder (tokenizer), a GPT world model over its tokens and an
actor-critic trained in imagination, behind the shared agent contract."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from iris_wm.agents.base import Agent, Curve, Phase
from iris_wm.agents.iris.actor_critic import ActorCritic, ImagineOutput
from iris_wm.agents.iris.config import IRISConfig, IRISTraining
from iris_wm.agents.iris.frame_cache import FrameCache
from iris_wm.agents.iris.imagination import IRISImagination
from iris_wm.agents.iris.tokenizer import Tokenizer
from iris_wm.agents.iris.world_model import WorldModel
from iris_wm.data.batch import Batch
from iris_wm.data.sampling import UniformSegments
from iris_wm.models.acceleration import SpeedConfig, apply_tf32, autocast, compiled_for_training, to_channels_last
from iris_wm.models.distributions import sample
from iris_wm.models.losses import Losses


class IRISAgent(Agent):
    kind = "iris"

    def __init__(self, config: IRISConfig, num_actions: int) -> None:
        super().__init__(config, num_actions)
        # Registration order = the authors' checkpoint key order.
        self.tokenizer = Tokenizer(config.tokenizer)
        self.world_model = self.build_world_model(config, num_actions)
        self.actor_critic = ActorCritic(num_actions, config.actor_critic)
        for convnet in (self.tokenizer, self.actor_critic):
            to_channels_last(convnet, config.speed)  # a layout of the weights, kept by .to(device)
        self._frame_cache: FrameCache | None = None  # this epoch's, when training.cache_tokens

    def build_world_model(self, config: IRISConfig, num_actions: int) -> WorldModel:
        """IRIS's GPT world model; a kind that swaps the sequence model overrides this."""
        return WorldModel(config.tokenizer.vocab_size, num_actions, config.world_model)

    # -- policy state ------------------------------------------------------------------------------

    @property
    def burn_in(self) -> int:
        return self.config.actor_critic_loss.burn_in

    def seen_frames(self, obs: Tensor) -> Tensor:
        """By default the tokenizer's reconstruction of real frames, as in imagination, so that both
        look alike to the policy."""
        if self.actor_critic.config.use_original_obs:
            return obs
        return self.tokenizer.encode_decode(obs, should_preprocess=True, should_postprocess=True).clamp(0, 1)

    def reset_policy(self, n: int, burn_in_frames: Tensor | None = None, mask: Tensor | None = None) -> None:
        if burn_in_frames is None:
            self.actor_critic.reset(n)
            return
        seen = self.seen_frames(burn_in_frames.flatten(0, 1)).view_as(burn_in_frames)
        self.actor_critic.reset(n, seen, mask)

    def reset_policy_rows(self, rows: Tensor) -> None:
        self.actor_critic.reset_rows(rows)

    def clear_policy(self) -> None:
        self.actor_critic.clear()

    def policy_step(self, frames: Tensor, seen: bool = False) -> tuple[Tensor, Tensor]:
        out = self.actor_critic(frames if seen else self.seen_frames(frames))
        return out.logits[:, -1], out.values[:, -1, 0]

    # -- imagination -------------------------------------------------------------------------------

    def speed_on_device(self) -> SpeedConfig:
        """``agent.speed``, checked against the device the agent is on now (known only after ``.to``)."""
        speed = self.config.speed
        speed.check_device(self.device)
        apply_tf32(speed)
        return speed

    def make_imagination(self, sampler: Callable[[Tensor], Tensor] = sample) -> IRISImagination:
        speed = self.speed_on_device()
        return IRISImagination(self.tokenizer, self.world_model, sampler, token_pass=speed.token_pass,
                               compile_backend=speed.compile_backend, precision=lambda: autocast(speed, self.device))

    def imagine(self, batch: Batch) -> ImagineOutput:
        tokens = self.encode_frames(batch)  # fresh: the batch may come from episodes the epoch's cache never saw
        return self.actor_critic.imagine(batch, self.imagination(), self.config.actor_critic_loss.imagine_horizon,
                                         tokens, self.decode_frames(tokens))

    @property
    def context_length(self) -> int:
        return self.config.world_model.max_blocks

    def reconstruct(self, batch: Batch) -> Tensor:
        return self.tokenizer.encode_decode(batch.observations, True, True).clamp(0, 1)

    # -- what the frozen tokenizer makes of real frames ----------------------------------------------

    @torch.no_grad()
    def encode_frames(self, batch: Batch) -> Tensor:
        """(B, T, K) the tokens of batch.observations (B, T, 3, H, W)."""
        return self.tokenizer.encode(batch.observations, should_preprocess=True).tokens

    @torch.no_grad()
    def decode_frames(self, tokens: Tensor) -> Tensor:
        """(B, T, 3, H, W) in [0, 1]: the frames of ``tokens`` (B, T, K), as the policy sees real frames."""
        return self.tokenizer.decode_tokens(tokens)

    def cached_tokens(self, batch: Batch) -> Tensor:
        """``encode_frames``, looked up in this epoch's cache when there is one (training's batches only:
        the cache knows frames by their ids in the training dataset)."""
        return self._frame_cache.tokens(batch) if self._frame_cache else self.encode_frames(batch)

    def cached_reconstructions(self, batch: Batch, tokens: Tensor) -> Tensor:
        return self._frame_cache.reconstructions(batch, tokens) if self._frame_cache else self.decode_frames(tokens)

    # -- training ----------------------------------------------------------------------------------

    def start_epoch(self, training: IRISTraining, epoch: int) -> None:
        # Filled lazily during the world-model and actor-critic phases, after the tokenizer's.
        self._frame_cache = (FrameCache(self.tokenizer, training.cache_reconstructions_gib * 2**30)
                             if training.cache_tokens else None)

    def phases(self, training: IRISTraining) -> list[Phase]:
        vocab_size, speed = self.config.tokenizer.vocab_size, self.speed_on_device()
        common = {"learning_rate": training.learning_rate, "fused_optimizer": speed.fused_optimizer_choice}
        anywhere = UniformSegments(sample_from_start=True, weighting=training.sampling_weighting)
        ending_real = UniformSegments(sample_from_start=False, weighting=training.sampling_weighting)
        # agent.speed: the two losses compiled (forward and backward as one graph each) and run under bf16
        # autocast; the tokens are looked up outside the graph (the cache keeps a Python table).
        tokenizer_loss = compiled_for_training(self.tokenizer.compute_loss, speed)
        world_model_loss = compiled_for_training(self.world_model.compute_loss, speed)

        def tokenizer_step(batch: Batch) -> Losses:
            if self.config.tokenizer.perceptual_weight > 0:
                self.tokenizer.perceptual_loss()  # LPIPS is built on first use, outside any compiled graph
            with autocast(speed, self.device):
                return tokenizer_loss(batch)

        def world_model_step(batch: Batch) -> Losses:
            with autocast(speed, self.device):
                return world_model_loss(batch, self.cached_tokens(batch))

        def actor_critic_step(batch: Batch) -> Losses:
            tokens = self.cached_tokens(batch)
            return self.actor_critic.compute_loss(batch, self.imagination(), self.config.actor_critic_loss, tokens,
                                                  self.cached_reconstructions(batch, tokens))

        return [
            Phase("tokenizer", self.tokenizer, training.tokenizer, sequence_length=1, sampler=anywhere,
                  loss=tokenizer_step, eval_loss=self.tokenizer.compute_loss,
                  summary=("tok", "total_loss"), curves=(Curve("tokenizer/train/total_loss"),), **common),
            Phase("world_model", self.world_model, training.world_model, sequence_length=self.context_length,
                  sampler=anywhere, loss=world_model_step,
                  eval_loss=lambda batch: self.world_model.compute_loss(batch, self.encode_frames(batch)),
                  summary=("wm obs", "loss_obs"),
                  # predicting tokens uniformly at random scores loss_obs = ln(vocabulary size)
                  curves=(Curve("world_model/train/loss_obs", math.log(vocab_size), f"uniform (ln {vocab_size})"),
                          Curve("world_model/train/loss_rewards")), **common),
            Phase("actor_critic", self.actor_critic, training.actor_critic, sequence_length=1 + self.burn_in,
                  sampler=ending_real, loss=actor_critic_step, uses_imagination=True,
                  summary=("ac", "total_loss"), curves=(Curve("actor_critic/train/loss_values"),), **common),
        ]
