"""env=gym: any registered gymnasium env with pixels, wrapped as the agents see games, and its bad
input (one line, exit code 2, nothing written)."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from iris_wm.cli import main
from iris_wm.envs import get_env_kind
from iris_wm.envs.gym import env as gym_env
from iris_wm.envs.gym.env import GymConfig, make_gym
from iris_wm.envs.gym.keys import play_keys
from iris_wm.errors import IrisError
from iris_wm.training.compose import compose_config

KIND = get_env_kind("gym")


class Counter(gymnasium.Env):
    """Frames filled with the step count (a (16, 16, 3) image, or another shape and dtype), reward 1
    a step, terminated at step ``length``."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, length: int = 10, shape=(16, 16, 3), dtype=np.uint8, render_mode=None, dict_obs=False):
        self.length, self.shape, self.dtype, self.render_mode = length, shape, dtype, render_mode
        image = gymnasium.spaces.Box(0, 255, shape, dtype)
        self.observation_space = gymnasium.spaces.Dict({"pixels": image}) if dict_obs else image
        self.action_space = gymnasium.spaces.Discrete(3)
        self.t = 0

    def obs(self):
        image = np.full(self.shape, self.t, dtype=self.dtype)
        return {"pixels": image} if isinstance(self.observation_space, gymnasium.spaces.Dict) else image

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.obs(), {}

    def step(self, action):
        self.t += 1
        return self.obs(), 1.0, self.t >= self.length, False, {}

    def render(self):
        return np.full((32, 48, 3), 2 * self.t, dtype=np.uint8)


gymnasium.register("IrisTest/Counter-v0", entry_point=Counter)


def side(**keys) -> GymConfig:
    return GymConfig(**{"id": "IrisTest/Counter-v0", "make_kwargs": {}, "wrappers": [], "pixels": "obs", **keys})


def test_frame_skip_sums_rewards_and_max_pools_the_last_two_frames():
    env = make_gym(side(frame_skip=3, max_pool=True))
    obs, _ = env.reset(seed=0)
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8 and (obs == 0).all()
    obs, reward, terminated, truncated, _ = env.step(0)
    assert reward == 3.0 and (obs == 3).all() and not terminated  # max(frame 2, frame 3)
    for _ in range(2):
        obs, reward, terminated, truncated, _ = env.step(0)
    assert not terminated and not truncated and reward == 3.0 and (obs == 9).all()  # steps 7..9
    obs, reward, terminated, _, _ = env.step(0)  # the episode ends at step 10, one frame into the skip
    assert terminated and reward == 1.0 and (obs == 10).all()


def test_time_limit_truncates_and_render_pixels_are_read():
    env = make_gym(side(pixels="render", max_episode_steps=2))
    obs, _ = env.reset(seed=0)
    assert obs.shape == (64, 64, 3) and env.raw_frame.shape == (32, 48, 3)
    env.step(0)
    obs, _, terminated, truncated, _ = env.step(0)
    assert truncated and not terminated and (obs == 4).all()


def test_a_dict_observation_by_its_key():
    env = make_gym(side(obs_key="pixels", make_kwargs={"dict_obs": True}))
    assert (env.reset(seed=0)[0] == 0).all() and (env.step(1)[0] == 1).all()


def test_minigrid_from_pixels_with_its_action_names_and_keys():
    pytest.importorskip("minigrid")
    config = compose_config(["env=gym", "preset=minigrid"]).env
    env = KIND.make_env(config.train, 0)
    check_env(env, skip_render_check=True, skip_close_check=True)  # MiniGrid's wrapper cannot be remade by spec
    obs, _ = env.reset(seed=0)
    assert obs.shape == (64, 64, 3) and obs.std() > 0
    names = KIND.action_names(config.train)
    assert names == ["left", "right", "forward", "pickup", "drop", "toggle", "done"]
    keys = KIND.play_keys(names)
    assert keys["1"] == "left" and keys["7"] == "done" and keys["up"] == "forward" and keys["right"] == "right"


def test_carracing_discrete_and_cartpole_from_render():
    pytest.importorskip("Box2D")
    carracing = compose_config(["env=gym", "preset=carracing"]).env
    env = KIND.make_env(carracing.train, 0)
    check_env(env, skip_render_check=True)
    assert env.action_space.n == 5 and KIND.action_names(carracing.train) == ["NOOP", "LEFT", "RIGHT", "GAS", "BRAKE"]
    assert env.reset(seed=0)[0].shape == (64, 64, 3) and env.raw_frame.shape == (96, 96, 3)
    cartpole = compose_config(["env=gym", "preset=cartpole"]).env
    env = KIND.make_env(cartpole.train, 0)
    check_env(env, skip_render_check=True)
    assert env.reset(seed=0)[0].shape == (64, 64, 3) and env.raw_frame.shape == (400, 600, 3)
    assert play_keys(KIND.action_names(cartpole.train)) == {"1": "LEFT", "2": "RIGHT", "left": "LEFT",
                                                             "right": "RIGHT"}


def test_indices_name_the_actions_of_an_env_without_names():
    assert KIND.action_names(side()) == ["0", "1", "2"]
    assert play_keys(["0", "1", "2"]) == {"1": "0", "2": "1", "3": "2"}


def test_the_vector_env_steps_every_env_and_resets_ended_ones():
    vector = KIND.make_vector_env(side(make_kwargs={"length": 2}), 3, seed=0)
    assert vector.reset()[0].shape == (3, 64, 64, 3)
    vector.step(np.zeros(3, np.int64))
    observations, _, terminated, _, infos = vector.step(np.zeros(3, np.int64))
    assert terminated.all() and (observations == 0).all()  # the next episodes' first frames
    assert all((final == 2).all() for final in infos["final_obs"])  # the ended ones' last frames


@pytest.mark.parametrize("overrides,message", [
    (["env.id=CartPol-v1"], "did you mean CartPole-v1"),
    (["env.id=CartPole-v1", "env.import_module=no_such_module"], "env.import_module=no_such_module failed to import"),
    (["env.id=CartPole-v1"], "is not an (H, W, 3) RGB image; set env.pixels=render"),
    (["env.id=Pendulum-v1", "env.pixels=render"], "continuous actions"),
    (["env.id=IrisTest/Counter-v0", "env.make_kwargs={dtype: float32}"], "images are float32, not uint8"),
    (["env.id=IrisTest/Counter-v0", "env.make_kwargs={shape: [16, 16, 1]}"], "is not an (H, W, 3) RGB image"),
    (["env.id=IrisTest/Counter-v0", "env.make_kwargs={dict_obs: true}"], "set env.obs_key to the key of its RGB image"),
    (["env.id=IrisTest/Counter-v0", "env.make_kwargs={dict_obs: true}", "env.obs_key=rgb"], "'rgb' is not one"),
    (["env.id=IrisTest/Counter-v0", "env.wrappers=[nowhere:Wrapper]"], "is not an importable class"),
    (["env.id=IrisTest/Counter-v0", "env.make_kwargs={colour: 1}"], "refused env.make_kwargs"),
])
def test_bad_input_is_one_line_before_anything_is_written(overrides, message, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "env=gym", *overrides, f"hydra.run.dir={run}"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not run.exists()


def test_an_id_of_a_known_package_is_registered_by_importing_it_or_names_its_extra(tmp_path, monkeypatch):
    """In a fresh process nothing has imported minigrid (and so registered its ids): the family does."""
    import subprocess
    import sys

    pytest.importorskip("minigrid")
    code = "from iris_wm.envs.gym.env import resolve_env_id; print(resolve_env_id('MiniGrid-DoorKey-5x5-v0'))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "MiniGrid-DoorKey-5x5-v0", result.stderr
    monkeypatch.setattr(gym_env, "REGISTERING_PACKAGES", {"Foo-": ("no_such_package", "foo")})
    with pytest.raises(IrisError, match="ids like it are registered by no_such_package: pip install 'iris-wm.foo.'"):
        gym_env.resolve_env_id("Foo-Bar-v0")


def test_ids_of_known_packages_work_with_the_id_alone():
    pytest.importorskip("minigrid")
    minigrid = compose_config(["env=gym", "env.id=MiniGrid-Empty-5x5-v0"]).env.train
    assert (minigrid.wrappers, minigrid.obs_key) == (["minigrid.wrappers:RGBImgObsWrapper"], "image")
    assert KIND.make_env(minigrid, 0).reset(seed=0)[0].shape == (64, 64, 3)
    rendered = compose_config(["env=gym", "env.id=MiniGrid-Empty-5x5-v0", "env.pixels=render"]).env.train
    assert (rendered.wrappers, rendered.obs_key) == ([], None)  # frames from render() need no image observation
    pytest.importorskip("Box2D")
    carracing = compose_config(["env=gym", "env.id=CarRacing-v3", "env.make_kwargs={domain_randomize:true}"])
    assert carracing.env.train.make_kwargs == {"continuous": False, "domain_randomize": True}
    with pytest.raises(IrisError, match="has continuous actions"):  # what the user sets wins (and is refused)
        compose_config(["env=gym", "env.id=CarRacing-v3", "env.make_kwargs={continuous:true}"])


def test_the_readme_s_own_env_trains_from_the_folder_of_its_module(tmp_path, monkeypatch):
    """examples/catch.py as a user's module in the folder they run from, which the ``iris`` command
    does not put on Python's path by itself."""
    import shutil
    import sys
    from pathlib import Path

    shutil.copy(Path(__file__).resolve().parents[2] / "examples" / "catch.py", tmp_path / "my_catch.py")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".", str(tmp_path))])
    run = tmp_path / "run"
    try:
        assert main(["train", "env=gym", "env.id=Catch-v0", "env.import_module=my_catch", "preset=cpu-smoke",
                     "common.epochs=1", "collection.train.num_steps=8", "logger.tensorboard=false",
                     f"hydra.run.dir={run}"]) == 0
    finally:  # the id and module are this test's
        gymnasium.registry.pop("Catch-v0", None)
        sys.modules.pop("my_catch", None)
    assert (run / "checkpoints" / "latest").is_file()
