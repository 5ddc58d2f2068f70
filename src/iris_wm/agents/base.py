"""The agent-kind contract: all that the trainer, collector, evaluator, run state and play tool may
call on an agent.

An agent kind (IRIS, Delta-IRIS, IRIS with a language-model world model) is a subclass of ``Agent``
that builds its components and answers these calls, plus a record in the registry
(``iris_wm.agents``). Shared code never names a component: it trains the ``Phase`` list the agent
returns, acts through the policy-state calls, and imagines through ``imagination()``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from iris_wm.config import at_least, positive
from iris_wm.data.batch import Batch
from iris_wm.data.sampling import SegmentSampler
from iris_wm.models.distributions import sample
from iris_wm.models.losses import Losses


@dataclass
class PhaseSettings:
    """How one component trains within each epoch (the authors' ``training.<component>`` keys)."""

    batch_num_samples: int = at_least(1, 64)
    start_after_epochs: int = at_least(0, 5)  # trains in epochs strictly after this one
    steps_per_epoch: int = at_least(1, 200)
    steps_first_epoch: int | None = at_least(1, None)  # steps in the run's epoch 1 instead (Δ-IRIS's); null: the same
    grad_acc_steps: int = at_least(1, 1)
    max_grad_norm: float = positive(10.0)
    weight_decay: float = at_least(0, 0.0)  # AdamW decay of linear / conv weights only (IRIS's world model: 0.01)
    learning_rate: float | None = positive(None)  # this component's; null: training.learning_rate (the papers')


@dataclass
class TrainingConfig:
    """The options of ``training`` that every agent kind has; a kind's training config subclasses it
    with its phases' settings."""

    enabled: bool = True  # false: no component trains (collection and evaluation go on)
    # Time-limit truncations stored as episode ends (the original IRIS); false stores them as
    # unfinished, so that the world model does not learn to predict ends there.
    truncation_is_end: bool = True


@dataclass
class Curve:
    """A panel of the learning-curve figure: a logged metric, and optionally a reference line."""

    key: str
    reference: float | None = None
    reference_label: str = ""


@dataclass
class Phase:
    """One component's training within an epoch, in the order the epoch runs them. After its phase
    the module is put in eval mode: later phases see it frozen."""

    # The name of the training config's field that holds ``settings`` (``training.NAME``): also the metrics'
    # prefix (``NAME/train/TERM``), the optimizer's key and the warm start's ``initialization.load_NAME``.
    name: str
    module: nn.Module  # the parameters this phase optimizes
    settings: PhaseSettings  # the training config's field ``name``
    learning_rate: float  # the training's, unless the phase's settings give their own
    sequence_length: int  # frames per sampled segment
    sampler: SegmentSampler  # where segments lie in the episodes, and how episodes are drawn
    loss: Callable[[Batch], Losses]
    eval_loss: Callable[[Batch], Losses] | None = None  # on test episodes; None: not evaluated by loss
    uses_imagination: bool = False  # the evaluator shows imagined rollouts once this phase trains
    summary: tuple[str, str] | None = None  # (label, loss term) in the epoch's summary line
    curves: tuple[Curve, ...] = ()
    fused_optimizer: bool | None = None  # the optimizer's fused kernel; None: where the device has one (CUDA)


@dataclass
class Imagined:
    """Trajectories the policy played inside the world model, for videos and metrics."""

    observations: Tensor  # (B, H, 3, 64, 64) uint8: the frames the policy acted on
    actions: Tensor  # (B, H) int64
    rewards: Tensor  # (B, H) float
    ends: Tensor  # (B, H) bool


class ImaginationEnv(Protocol):
    """The world model as a batched environment, on the device. Every random draw it makes goes
    through ``sampler`` (logits (B, n) -> indices (B,)), in a fixed order."""

    sampler: Callable[[Tensor], Tensor]

    def reset_from_initial_observations(self, observations: Tensor) -> Tensor:
        """observations (B, 3, H, W) in [0, 1] -> the frames as the world model sees them."""

    def reset_from_past(self, observations: Tensor, actions: Tensor) -> Tensor:
        """Start from real segments as training's imagination does: observations (B, L + 1, 3, H, W)
        in [0, 1] (the last one is where imagination starts) and the L actions (B, L) between them,
        whatever of them the kind's world model takes -> the last frames as the world model sees them."""

    def step(self, actions: Tensor) -> tuple[Tensor | None, Tensor, Tensor]:
        """actions (B,) -> (next frames (B, 3, H, W) in [0, 1], rewards (B,), ends (B,) bool)."""

    @property
    def tokens(self) -> Tensor | None:
        """(B, K) the tokens of the frame the last ``step`` imagined; None for a world model without tokens."""

    def real_tokens(self, observations: Tensor, actions: Tensor) -> Tensor | None:
        """The tokens the kind's tokenizer gives real frames after the first: observations (B, L + 1, 3, H, W)
        in [0, 1] and the L actions (B, L) between them -> (B, L, K); None for a world model without tokens.
        With ``tokens``, what the prediction error's token accuracy compares."""

    def flush_context(self) -> None:
        """Forget every frame but the current one."""

    @property
    def steps_left(self) -> int:
        """Steps that fit in the context from now; the step after them forgets all but the current frame."""

    @property
    def memory(self) -> int:
        """Frames the world model remembers now."""

    @property
    def context_frames(self) -> int:
        """Frames the world model can remember at most."""


class Agent(nn.Module, ABC):
    """A world-model agent: its components are submodules; the calls below are the whole contract."""

    kind: str  # the registry name

    def __init__(self, config: Any, num_actions: int) -> None:
        super().__init__()
        self.config, self._num_actions = config, num_actions
        self._imagination: ImaginationEnv | None = None

    @property
    def num_actions(self) -> int:
        return self._num_actions

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # -- policy state: the collector and the play tool -------------------------------------------

    @property
    @abstractmethod
    def burn_in(self) -> int:
        """Frames of an unfinished episode replayed through the policy before it acts again."""

    @abstractmethod
    def reset_policy(self, n: int, burn_in_frames: Tensor | None = None, mask: Tensor | None = None) -> None:
        """Start n rows of policy state, optionally replaying burn-in frames (n, T, 3, H, W) in [0, 1]
        whose real steps ``mask`` (n, T) marks."""

    @abstractmethod
    def reset_policy_rows(self, rows: Tensor) -> None:
        """Restart the rows where ``rows`` ((n,) bool) is True: their episodes ended."""

    @abstractmethod
    def clear_policy(self) -> None:
        """Drop the policy state."""

    @abstractmethod
    def policy_step(self, frames: Tensor, seen: bool = False) -> tuple[Tensor, Tensor]:
        """One step of the policy -> logits (n, A), values (n,); advances the policy state. ``frames``
        (n, 3, H, W) in [0, 1] are real observations, or with ``seen`` already what the policy sees
        (frames the imagination returned, or ``seen_frames`` of real ones)."""

    @abstractmethod
    def seen_frames(self, obs: Tensor) -> Tensor:
        """What the policy sees of real frames obs (n, 3, H, W) in [0, 1] (the viewer shows it)."""

    @torch.no_grad()
    def act(self, obs: Tensor, should_sample: bool = True, temperature: float = 1.0) -> Tensor:
        """obs (n, 3, H, W) in [0, 1] -> actions (n,) int64; advances the policy state."""
        logits = self.policy_step(obs)[0] / temperature
        return sample(logits) if should_sample else logits.argmax(dim=-1)

    # -- imagination -------------------------------------------------------------------------------

    @abstractmethod
    def make_imagination(self, sampler: Callable[[Tensor], Tensor] = sample) -> ImaginationEnv:
        """A new environment of the world model, with caches of its own, drawing through ``sampler``."""

    def imagination(self) -> ImaginationEnv:
        """The environment training imagines in: built on first call and kept (its caches are
        allocated once)."""
        if self._imagination is None:
            self._imagination = self.make_imagination()
        return self._imagination

    def as_vector_env(self, starts: Any, num_envs: int = 1, **options: Any):
        """This agent's world model as a ``gymnasium.vector.VectorEnv`` of ``num_envs`` imagined
        episodes from ``starts``; the options are ``WorldModelVectorEnv``'s."""
        from iris_wm.world_model_env import WorldModelVectorEnv

        return WorldModelVectorEnv(self, starts, num_envs, **options)

    @abstractmethod
    def imagine(self, batch: Batch) -> Imagined:
        """The policy's rollouts in imagination from the last frame of each segment of ``batch``
        ((B, 1 + burn_in) frames), as training makes them."""

    @property
    @abstractmethod
    def context_length(self) -> int:
        """Frames per segment the world model trains on (reconstruction grids show as many)."""

    @abstractmethod
    def reconstruct(self, batch: Batch) -> Tensor:
        """(B, T, 3, H, W) in [0, 1]: the batch's frames through the tokenizer."""

    # -- training ----------------------------------------------------------------------------------

    @abstractmethod
    def phases(self, training: TrainingConfig) -> list[Phase]:
        """The components' training phases, in the order an epoch runs them."""

    def start_epoch(self, training: TrainingConfig, epoch: int) -> None:
        """Called before epoch ``epoch``'s phases (e.g. to start per-epoch caches)."""
