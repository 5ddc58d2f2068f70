"""Any registered gymnasium environment with pixels, as the agents see games: ``env=gym``.

Inner to outer: ``gymnasium.make(id, **make_kwargs)`` (with its spec's time limit unless
``max_episode_steps`` is set) → the ``wrappers`` named in the config (e.g. MiniGrid's
``RGBImgObsWrapper``) → pixels: the observation itself (an RGB uint8 image, or the ``obs_key``
entry of a dict observation) or ``render()`` with ``render_mode="rgb_array"`` (``pixels=render``,
for envs whose observation is a state vector) → resized to (size, size, 3) as the Atari wrappers
do → optional frame skip, summing rewards, with an optional max-pool of the last two frames.
``terminated`` and ``truncated`` are kept apart.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from iris_wm.config import at_least, one_of, tied
from iris_wm.data.frames import resize_frame
from iris_wm.envs.vector import VECTORIZATIONS
from iris_wm.errors import IrisError

try:
    import gymnasium
    from gymnasium.error import DependencyNotInstalled
except ImportError as error:
    raise IrisError(f"env=gym needs gymnasium: pip install 'iris-wm[gym]' ({error})") from error

PIXELS = ("obs", "render")
# Prefixes of ids that another package registers when imported: that package (imported when such an id is
# asked), and the extra that brings it.
REGISTERING_PACKAGES = {"MiniGrid-": ("minigrid", "minigrid"), "BabyAI-": ("minigrid", "minigrid"),
                        "ALE/": ("ale_py", "atari"), "Crafter": ("crafter", "crafter")}
DEPENDENCIES = {"Box2D": "box2d", "box2d": "box2d", "MuJoCo": "mujoco", "mujoco": "mujoco"}
# Action names of gymnasium's own discrete envs, which have none in code (from their documentation).
KNOWN_ACTIONS = {"CarRacing-": ["NOOP", "LEFT", "RIGHT", "GAS", "BRAKE"], "CartPole-": ["LEFT", "RIGHT"],
                 "MountainCar-": ["LEFT", "NOOP", "RIGHT"], "Acrobot-": ["TORQUE_LEFT", "NOOP", "TORQUE_RIGHT"],
                 "LunarLander-": ["NOOP", "FIRE_LEFT", "FIRE_MAIN", "FIRE_RIGHT"]}
# What makes the ids of well-known packages work with ``env.id`` alone, for the keys the user left unset
# (make_kwargs: for the kwargs not given): MiniGrid's observation is a symbolic grid, its pixels the full-grid
# RGB image; CarRacing acts continuously by default, the agent kinds here in discrete action spaces.
_MINIGRID = {"wrappers": ["minigrid.wrappers:RGBImgObsWrapper"], "obs_key": "image"}
TASK_DEFAULTS = {"MiniGrid-": _MINIGRID, "BabyAI-": _MINIGRID, "CarRacing-": {"make_kwargs": {"continuous": False}}}


@dataclass
class GymConfig:
    """One side (train or test) of ``env=gym``. Every key but ``max_episode_steps`` follows the
    ``env.*`` key of the same name unless set."""

    id: str | None = None
    import_module: str | None = None  # the module whose import registers the id (e.g. minigrid)
    make_kwargs: dict[str, Any] | None = None  # passed to gymnasium.make
    wrappers: list[str] | None = None  # "module:Class" gymnasium wrappers applied after make, in order
    pixels: str | None = None  # "obs" (the observation is the image) or "render" (render() frames)
    obs_key: str | None = None  # the image's key in a dict observation
    size: int | None = at_least(16, 64)  # observations are (size, size, 3) uint8
    frame_skip: int | None = at_least(1, 1)  # env steps per agent step (rewards summed)
    max_pool: bool | None = False  # observe the max of the last two frames of a skip (flicker)
    max_episode_steps: int | None = at_least(1, None)  # in env steps; None: the env spec's limit
    vectorization: str | None = None  # None, made alone: sync


@dataclass
class GymEnvConfig:
    """``env=gym``: any registered gymnasium env with pixels. ``env.id`` sets both sides' id."""

    kind: str = "gym"
    id: str = "???"  # a registered id, e.g. MiniGrid-DoorKey-5x5-v0, CarRacing-v3, CartPole-v1
    import_module: str | None = None
    make_kwargs: dict[str, Any] = field(default_factory=dict)
    wrappers: list[str] = field(default_factory=list)
    pixels: str = one_of(PIXELS, "obs")
    obs_key: str | None = None
    # sync: the envs step one after another in this process; async: a subprocess each (each env is made
    # there). The same numbers. Measured with 16 envs on 2 idle cores: MiniGrid 3,300 steps/s sync,
    # 4,600 async; CarRacing 240 sync, 370 async. Sync: the presets run 2 to 4 envs, async lost beside a
    # training run on this project's 2 shared cores (CrafterEnvConfig), and any env works in this process.
    vectorization: str = one_of(VECTORIZATIONS, "sync")
    train: GymConfig = field(default_factory=GymConfig)
    test: GymConfig = field(default_factory=lambda: GymConfig(size=None, frame_skip=None, max_pool=None))

    def __post_init__(self) -> None:
        self._apply_task_defaults()
        for side_name in ("train", "test"):
            side = getattr(self, side_name)
            for key in ("id", "import_module", "make_kwargs", "wrappers", "pixels", "obs_key", "vectorization"):
                value = getattr(self, key)
                value = dict(value) if key == "make_kwargs" else list(value) if key == "wrappers" else value
                follower = getattr(side, key)
                follower = dict(follower) if isinstance(follower, dict) else follower
                setattr(side, key, tied(f"env.{key}", value, f"env.{side_name}.{key}", follower))
        for key in ("size", "frame_skip", "max_pool"):
            setattr(self.test, key, tied(f"env.train.{key}", getattr(self.train, key), f"env.test.{key}",
                                         getattr(self.test, key)))
        if self.import_module:
            import_registering_module(self.import_module)

    def _apply_task_defaults(self) -> None:
        defaults = next((known for prefix, known in TASK_DEFAULTS.items() if self.id.startswith(prefix)), {})
        for key, value in defaults.items():
            if key in ("wrappers", "obs_key") and self.pixels != "obs":
                continue  # frames from render() need no image observation
            if key == "make_kwargs":
                self.make_kwargs = {**value, **self.make_kwargs}
            elif not getattr(self, key):
                setattr(self, key, list(value) if isinstance(value, list) else value)


def import_registering_module(name: str) -> None:
    """Import ``name``, from the working folder first where it is there: the ``iris`` command's own folder
    is on Python's path, not the one a user runs it from, where their env's module usually is (and an
    installed package of the same top-level name, such as a stray ``tests``, must not hide it)."""
    here, top = os.getcwd(), name.partition(".")[0]
    if os.path.isdir(os.path.join(here, top)) or os.path.isfile(os.path.join(here, f"{top}.py")):
        sys.path.insert(0, here)
    elif here not in sys.path and importlib.util.find_spec(top) is None:
        sys.path.append(here)
    try:
        importlib.import_module(name)
    except Exception as error:  # any failure of a user's module: its own words, one line
        raise IrisError(f"env.import_module={name} failed to import ({type(error).__name__}: "
                        f"{str(error).splitlines()[0] if str(error) else ''}); install it or fix the name") from None


def resolve_env_id(id: str) -> str:
    """``id`` itself when gymnasium has it registered, after importing the package known to register ids
    like it (MiniGrid's, ale-py's) where it is installed; else an error with close matches, naming the
    module that registers ids like it."""
    known = next(((module, extra) for prefix, (module, extra) in REGISTERING_PACKAGES.items()
                  if id.startswith(prefix)), None)
    if id not in gymnasium.registry and known is not None and importlib.util.find_spec(known[0]) is not None:
        importlib.import_module(known[0])
    if id in gymnasium.registry:
        return id
    hint = f"; ids like it are registered by {known[0]}: pip install 'iris-wm[{known[1]}]'" if known else ""
    close = difflib.get_close_matches(id, list(gymnasium.registry), n=3)
    matches = f" (did you mean {', '.join(close)}?)" if close else ""
    raise IrisError(f"gymnasium has no environment {id!r} registered{matches}{hint}; give a registered id, and "
                    f"env.import_module=MODULE for the module that registers it")


def check_config(config: GymEnvConfig) -> None:
    """Each side's env made once: its id, module, kwargs, wrappers, actions and pixels are usable."""
    for side in (config.train, config.test):
        make_gym(side).close()


def action_names(config: GymConfig) -> list[str]:
    """The names of the env's actions in index order: its own where it has them (MiniGrid's
    ``Actions``, Atari's meanings), else the indices."""
    env = make_gym(config)
    try:
        return names_of_actions(env)
    finally:
        env.close()


def names_of_actions(env: gymnasium.Env) -> list[str]:
    n, inner = env.action_space.n, env.unwrapped
    if hasattr(inner, "get_action_meanings"):
        return list(inner.get_action_meanings())
    actions = getattr(inner, "actions", None)
    if actions is not None and hasattr(actions, "__members__") and len(actions) == n:
        return [action.name for action in sorted(actions, key=int)]
    known = next((names for prefix, names in KNOWN_ACTIONS.items() if env.spec and env.spec.id.startswith(prefix)), [])
    return known if len(known) == n else [str(i) for i in range(n)]


def make_gym(config: GymConfig, seed: int | None = None) -> gymnasium.Env:
    """The wrapped env of one side; observations (size, size, 3) uint8, Discrete actions."""
    env = make_inner(config)
    env = PixelFrames(env, config)
    if seed is not None:
        env.reset(seed=seed)
    return env


def make_inner(config: GymConfig) -> gymnasium.Env:
    """``gymnasium.make`` and the configured wrappers, or one line naming what is wrong."""
    if config.import_module:
        import_registering_module(config.import_module)
    resolve_env_id(config.id)
    kwargs = dict(config.make_kwargs or {})
    if config.pixels == "render":
        kwargs["render_mode"] = "rgb_array"
    if config.max_episode_steps is not None:
        kwargs["max_episode_steps"] = config.max_episode_steps
    try:
        env = gymnasium.make(config.id, **kwargs)
    except DependencyNotInstalled as error:
        extra = next((extra for name, extra in DEPENDENCIES.items() if name in str(error)), None)
        fix = f"pip install 'iris-wm[{extra}]'" if extra else "install what it names"
        raise IrisError(f"{config.id} needs a package that is not installed ({str(error).splitlines()[0]}); "
                        f"{fix}") from None
    except TypeError as error:  # an unknown make_kwargs key
        raise IrisError(f"gymnasium.make({config.id!r}, ...) refused env.make_kwargs: {error}") from None
    for path in config.wrappers or []:
        env = wrapper_class(path)(env)
    check_action_space(config.id, env.action_space)
    return env


def wrapper_class(path: str) -> type:
    module, _, name = path.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as error:
        raise IrisError(f"env.wrappers: {path!r} is not an importable class ({error}); give 'module:Class', e.g. "
                        f"'minigrid.wrappers:RGBImgObsWrapper'") from None


def check_action_space(id: str, space: gymnasium.Space) -> None:
    if isinstance(space, gymnasium.spaces.Discrete):
        return
    if isinstance(space, gymnasium.spaces.Box):
        raise IrisError(f"{id} has continuous actions ({space}), which no agent kind supports yet; choose a "
                        f"discrete variant (e.g. CarRacing-v3 with env.make_kwargs={{continuous: false}})")
    raise IrisError(f"{id} has actions of {space}; the agent kinds take a Discrete action space")


def check_pixels(id: str, config: GymConfig, env: gymnasium.Env) -> None:
    """The frames ``pixels`` reads are RGB uint8 images, or one line naming what is not."""
    if config.pixels == "render":
        if "rgb_array" not in env.metadata.get("render_modes", []):
            raise IrisError(f"{id} cannot render rgb_array frames (its render modes: "
                            f"{env.metadata.get('render_modes', [])}); it has no pixels to learn from")
        return
    space = env.observation_space
    if isinstance(space, gymnasium.spaces.Dict):
        if config.obs_key is None or config.obs_key not in space.spaces:
            raise IrisError(f"{id}'s observation is a dict of {sorted(space.spaces)}; set env.obs_key to the key "
                            f"of its RGB image" + (f" ({config.obs_key!r} is not one)" if config.obs_key else ""))
        space = space.spaces[config.obs_key]
    if not isinstance(space, gymnasium.spaces.Box) or len(space.shape) != 3 or space.shape[-1] != 3:
        raise IrisError(f"{id}'s observation ({space}) is not an (H, W, 3) RGB image; set env.pixels=render to "
                        f"learn from its render() frames, or add a wrapper that gives images (env.wrappers)")
    if space.dtype != np.uint8:
        raise IrisError(f"{id}'s observation images are {space.dtype}, not uint8; add a wrapper that gives uint8 "
                        f"RGB images (env.wrappers), or set env.pixels=render")


class PixelFrames(gymnasium.Wrapper, gymnasium.utils.RecordConstructorArgs):
    """Observations: the env's RGB frames resized to (size, size, 3); actions repeated ``frame_skip``
    times (stopping at an end), rewards summed; with ``max_pool`` the max of the last two frames. The
    latest full frame is kept as ``raw_frame`` (the viewer shows it large)."""

    def __init__(self, env: gymnasium.Env, config: GymConfig) -> None:
        gymnasium.utils.RecordConstructorArgs.__init__(self, config=config)  # so that env.spec can remake it
        super().__init__(env)
        check_pixels(config.id, config, env)
        self.config = config
        self.observation_space = gymnasium.spaces.Box(0, 255, (config.size, config.size, 3), np.uint8)
        self.raw_frame: np.ndarray | None = None

    def frame(self, obs: Any) -> np.ndarray:
        c = self.config
        raw = self.env.render() if c.pixels == "render" else obs[c.obs_key] if isinstance(obs, dict) else obs
        self.raw_frame = np.asarray(raw)
        return resize_frame(self.raw_frame, c.size)

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        return self.frame(obs), info

    def step(self, action):
        skip, total, previous = self.config.frame_skip, 0.0, None
        for k in range(skip):
            obs, reward, terminated, truncated, info = self.env.step(action)
            total += float(reward)
            if terminated or truncated:
                break
            if self.config.max_pool and k == skip - 2:
                previous = self.frame(obs)
        frame = self.frame(obs)
        if previous is not None:
            frame = np.maximum(previous, frame)
        return frame, total, bool(terminated), bool(truncated), info
