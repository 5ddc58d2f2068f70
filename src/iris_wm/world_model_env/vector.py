"""Any agent kind's world model as a ``gymnasium.vector.VectorEnv`` (docs/world-model-env.md).

``num_envs`` imagined episodes run as one batch on the agent's device, through the same
imagination environment training rolls the policy out in (IRIS's token passes over the KV cache,
Δ-IRIS's four passes), so an episode here is an episode of training's imagination driven by the
caller's actions.

The rows of the world model's KV cache share one position, and its positional embeddings are
absolute, so an episode can only start at the start of a context. Rows that start together form a
*cohort* with an imagination environment of its own: a reset starts one cohort of every row, and
gymnasium's next-step autoreset starts a new cohort of the rows whose episodes ended. A row that
leaves a cohort is still computed with it (its outputs unused) until the whole cohort is done, so
that each cohort draws the same random numbers whatever its neighbours do: each has a generator of
its own, seeded from the env's, and the same seed and actions give the same episodes.

Outputs stay on the device; the one read back per step is which rows ended at the previous step,
which autoreset needs to know (made at the next ``step``, after the caller has used the outputs).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import torch
from torch import Tensor

from iris_wm.data.frames import chw_to_hwc, to_float, to_uint8
from iris_wm.devices import resolve_device
from iris_wm.errors import IrisError, IrisValueError
from iris_wm.models.distributions import sample
from iris_wm.world_model_env.starts import FRAME_SHAPE, make_starts

try:
    import gymnasium
    from gymnasium.vector import AutoresetMode, VectorEnv
    from gymnasium.vector.utils import batch_space
except ImportError:  # pragma: no cover - the extra is installed in the test environment
    raise IrisError("the world model as a gymnasium environment needs gymnasium: pip install 'iris-wm[gym]'") from None

OBSERVATION_FORMATS = ("uint8", "float")  # (64, 64, 3) uint8 as real envs give; (3, 64, 64) float in [0, 1]
OUTPUTS = ("torch", "numpy")


def to_observations(frames: Tensor, observation_format: str) -> Tensor:
    """(N, 3, 64, 64) float in [0, 1] -> the observation format's (N, ...) batch."""
    if observation_format == "float":
        return frames.clone()  # never hand out the tensor the next step writes into
    return chw_to_hwc(to_uint8(frames)).contiguous()


class Cohort:
    """Rows that started together, imagined in one environment of the world model."""

    def __init__(self, imagination, rows: np.ndarray, device: torch.device) -> None:
        self.imagination = imagination  # the kind's ImaginationEnv, over every row the cohort started with
        self.rows = rows  # (n,) the vector env's rows it started with
        self.device = device
        self.row_index = torch.as_tensor(rows, device=device)  # (n,) the same, on the device
        self.alive = np.ones(len(rows), dtype=bool)  # rows still in this cohort's episode
        self.steps = 0
        self.positions = torch.arange(len(rows), device=device)  # (m,) the alive rows' places in the cohort
        self.targets = self.row_index  # (m,) their rows in the vector env

    def leave(self, ended: np.ndarray) -> None:
        """Drop the rows whose episodes ended (``ended`` (num_envs,) bool)."""
        self.alive &= ~ended[self.rows]
        positions = np.flatnonzero(self.alive)
        self.positions = torch.as_tensor(positions, device=self.device)
        self.targets = torch.as_tensor(self.rows[positions], device=self.device)


class WorldModelVectorEnv(VectorEnv):
    """The world model of ``agent`` as a vector env of ``num_envs`` imagined episodes.

    starts: where episodes start: a run folder (its training episodes), a dataset folder of
      ``episode_NNNNNN.npz`` files, frames (N, [T,] 3, 64, 64) uint8 or float in [0, 1], or
      (frames (N, T, 3, 64, 64), actions (N, T - 1)).
    horizon: steps after which an episode is truncated; None: when the context is full.
    observation_format: "uint8" (64, 64, 3) frames as real envs give them, or "float" (3, 64, 64) in [0, 1].
    output: "torch" (tensors on the device) or "numpy".
    flush_context: when the context is full, forget all but the current frame and go on, as
      ``iris play`` does, instead of truncating the episode.
    device: where the world model runs (the agent is moved there); None: where the agent is.
    game: the game the world model learned; starts from a run folder of another game are refused.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, agent, starts, num_envs: int = 1, horizon: int | None = None,
                 observation_format: str = "uint8", output: str = "torch", flush_context: bool = False,
                 device: str | torch.device | None = None, game: str | None = None) -> None:
        check_options(agent, num_envs, horizon, observation_format, output)
        if device is not None:
            agent.to(resolve_device(device))
        self.agent, self.num_envs, self.device = agent, num_envs, agent.device
        self.observation_format, self.output, self.flush_context = observation_format, output, flush_context
        self.starts = make_starts(starts)
        check_starts(self.starts, agent.num_actions, game)
        self.start_length = 1 + agent.burn_in  # frames per start, as training's imagination takes them
        self.horizon = self._check_horizon(horizon)

        self.single_action_space = gymnasium.spaces.Discrete(agent.num_actions)
        self.action_space = batch_space(self.single_action_space, num_envs)
        if observation_format == "uint8":
            self.single_observation_space = gymnasium.spaces.Box(0, 255, (*FRAME_SHAPE[1:], 3), np.uint8)
        else:
            self.single_observation_space = gymnasium.spaces.Box(0.0, 1.0, FRAME_SHAPE, np.float32)
        self.observation_space = batch_space(self.single_observation_space, num_envs)

        self.cohorts: list[Cohort] = []
        self.frames: Tensor | None = None  # (num_envs, 3, 64, 64) in [0, 1]: each row's current frame
        self.done: Tensor | None = None  # (num_envs,) bool: the row's episode ended at the last step

    def _new_imagination(self, sampler=sample):
        try:
            return self.agent.make_imagination(sampler)
        except NotImplementedError:
            raise IrisValueError(f"agent kind {self.agent.kind!r} has no imagination to step; use an agent of a "
                                 f"kind with a world model (iris info lists them)") from None

    @torch.no_grad()
    def _check_horizon(self, horizon: int | None) -> int | None:
        """The horizon in force, after checking that it fits in the world model's context: without
        flushing, at most the steps a context holds from a start (the same for every start of a kind),
        so that truncating at the horizon is also truncating at a full context."""
        if self.flush_context:
            return horizon
        probe = self._new_imagination()
        probe.reset_from_past(torch.zeros(1, self.start_length, *FRAME_SHAPE, device=self.device),
                              torch.zeros(1, self.start_length - 1, dtype=torch.long, device=self.device))
        room = probe.steps_left
        if horizon is not None and horizon > room:
            raise IrisValueError(f"horizon={horizon} is beyond the world model's context, which holds {room} steps "
                                 f"from a start; use horizon<={room}, or flush_context=True to forget old frames")
        return room if horizon is None else horizon

    # -- gymnasium's calls -------------------------------------------------------------------------

    @torch.no_grad()
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Every row starts a new episode from a start drawn from ``starts`` -> (observations, infos);
        ``infos["start"]`` says which start each row drew (and ``"start_step"`` where in its episode),
        ``infos["seed"]`` its cohort's seed."""
        super().reset(seed=seed)
        self.cohorts = []
        self.frames = torch.empty(self.num_envs, *FRAME_SHAPE, device=self.device)
        infos = self._start(np.arange(self.num_envs))
        self.done = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        return self._out(to_observations(self.frames, self.observation_format)), infos

    @torch.no_grad()
    def step(self, actions):
        """actions (num_envs,) integers -> (observations, rewards, terminated, truncated, infos).
        Rows whose episode ended at the previous step start a new one instead (their action is
        ignored, reward 0, neither terminated nor truncated), as gymnasium's next-step autoreset."""
        if self.done is None:
            raise IrisValueError("step() before reset(): call reset() first")
        actions = self._check_actions(actions)
        ended = self.done.cpu().numpy()  # the one read of the device's state per step
        for cohort in self.cohorts:
            if ended[cohort.rows].any():
                cohort.leave(ended)
        self.cohorts = [cohort for cohort in self.cohorts if cohort.alive.any()]

        frames = self.frames  # written in place: observations handed out are copies (to_observations)
        rewards = torch.zeros(self.num_envs, device=self.device)
        terminated = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        truncated = torch.zeros_like(terminated)
        for cohort in self.cohorts:
            next_frames, cohort_rewards, ends = cohort.imagination.step(actions[cohort.row_index])
            cohort.steps += 1
            frames[cohort.targets] = next_frames[cohort.positions]
            rewards[cohort.targets] = cohort_rewards[cohort.positions].float()
            terminated[cohort.targets] = ends[cohort.positions]
            if self.horizon is not None and cohort.steps >= self.horizon:
                truncated[cohort.targets] = True
        infos = self._start(np.flatnonzero(ended)) if ended.any() else {}
        self.done = terminated | truncated
        return (self._out(to_observations(self.frames, self.observation_format)), self._out(rewards),
                self._out(terminated), self._out(truncated), infos)

    def _start(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Start new episodes in ``rows``: one new cohort from drawn starts; returns their infos."""
        drawn = self.starts.draw(self.np_random, len(rows), self.start_length)
        seed = int(self.np_random.integers(2**63 - 1))
        generator = torch.Generator(self.device).manual_seed(seed)
        imagination = self._new_imagination(partial(sample, generator=generator))
        frames = to_float(drawn.frames.to(self.device))
        start_frames = imagination.reset_from_past(frames, drawn.actions.to(self.device))
        self.frames[torch.as_tensor(rows, device=self.device)] = start_frames.float()
        self.cohorts.append(Cohort(imagination, rows, self.device))
        return self._infos(rows, {**drawn.info, "seed": np.full(len(rows), seed, dtype=np.int64)})

    def _infos(self, rows: np.ndarray, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Gymnasium's vector infos: each key's (num_envs,) values, and ``_key`` marking the rows that have one."""
        infos = {}
        mask = np.zeros(self.num_envs, dtype=bool)
        mask[rows] = True
        for key, value in values.items():
            infos[key] = np.zeros(self.num_envs, dtype=value.dtype)
            infos[key][rows] = value
            infos[f"_{key}"] = mask.copy()
        return infos

    def _check_actions(self, actions) -> Tensor:
        """(num_envs,) integer actions, as a tensor, NumPy array or list -> (num_envs,) int64 on the device.
        Their range is checked where they are on the host (on a GPU that would wait for the device)."""
        if not isinstance(actions, Tensor):
            actions = np.asarray(actions)
            if not np.issubdtype(actions.dtype, np.integer):
                raise IrisValueError(f"actions are {actions.dtype}; give integer indices of "
                                     f"{self.single_action_space}, one per env")
            actions = torch.from_numpy(actions)
        elif actions.is_floating_point() or actions.is_complex() or actions.dtype == torch.bool:
            raise IrisValueError(f"actions are {actions.dtype}; give integer indices of {self.single_action_space}, "
                                 f"one per env")
        if tuple(actions.shape) != (self.num_envs,):
            raise IrisValueError(f"actions have shape {tuple(actions.shape)}; give one per env: ({self.num_envs},)")
        if actions.device.type == "cpu" and (actions.min() < 0 or actions.max() >= self.agent.num_actions):
            raise IrisValueError(f"actions {actions.tolist()} leave {self.single_action_space}: use 0.."
                                 f"{self.agent.num_actions - 1}")
        return actions.to(self.device, torch.long)

    def _out(self, x: Tensor):
        return x.cpu().numpy() if self.output == "numpy" else x

    def render(self):
        """The rows' current frames, (num_envs, 64, 64, 3) uint8 NumPy."""
        return None if self.frames is None else to_observations(self.frames, "uint8").cpu().numpy()


def check_options(agent, num_envs: int, horizon: int | None, observation_format: str, output: str) -> None:
    if not callable(getattr(agent, "make_imagination", None)):  # the agent contract's (a layer above this one)
        raise IrisValueError(f"the world model env takes an agent, got {type(agent).__name__}; load one with "
                             f"iris_wm.load_agent(PATH) or build one with iris_wm.create_model(KIND, ...)")
    if not isinstance(num_envs, int | np.integer) or num_envs < 1:
        raise IrisValueError(f"num_envs={num_envs}: give 1 or more")
    if horizon is not None and (not isinstance(horizon, int | np.integer) or horizon < 1):
        raise IrisValueError(f"horizon={horizon}: give a number of steps >= 1, or None to run until the context "
                             f"is full")
    if observation_format not in OBSERVATION_FORMATS:
        raise IrisValueError(f"observation_format={observation_format!r} is unknown; use one of {OBSERVATION_FORMATS}")
    if output not in OUTPUTS:
        raise IrisValueError(f"output={output!r} is unknown; use one of {OUTPUTS}")


def check_starts(starts, num_actions: int, game: str | None) -> None:
    if game is not None and starts.game is not None and starts.game != game:
        raise IrisValueError(f"the starts are episodes of {starts.game}, the world model learned {game}: give starts "
                             f"of {game}")
    if starts.largest_action >= num_actions:
        raise IrisValueError(f"the starts take action {starts.largest_action}, the world model knows {num_actions} "
                             f"actions: give starts of the game it learned")
