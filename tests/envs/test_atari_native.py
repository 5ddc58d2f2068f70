"""Atari's vector envs: the native backend reproduces the wrapper stacks frame for frame, both as
gymnasium vector envs with same-step autoreset."""

import gymnasium
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

pytest.importorskip("ale_py")
from iris_wm.envs.atari.env import AtariConfig  # noqa: E402
from iris_wm.envs.atari.kind import make_vector_env  # noqa: E402
from iris_wm.errors import IrisError  # noqa: E402

TRAIN = dict(id="Breakout")
TEST = dict(id="Breakout", max_episode_steps=108000, noop_max=1, done_on_life_loss=False)

CASES = {
    # Seaquest: game overs and life losses over a long episode
    "test env": (dict(TEST, id="Seaquest"), 450),
    "train env": (dict(TRAIN, max_episode_steps=600), 300),  # life-loss ends, random no-ops
    # Alien scores 10 per egg; 1 no-op + 50 steps of 4 frames = 201: the limit falls on a step's last frame
    "clipping, time limit": (dict(TEST, id="Alien", max_episode_steps=201, clip_reward=True), 160),
    "time limit within no-ops": (dict(TEST, id="Pong", max_episode_steps=12, noop_max=30), 25),
}


def assert_same_final_obs(a: dict, b: dict, terminated: np.ndarray, t: int) -> int:
    """The ended steps' own observations agree, but where a game is over (ale-py's native env reports a
    game's last frame otherwise: envs/atari/native.py's docstring); those are counted."""
    ended = a.get("_final_obs", np.zeros(2, bool))
    assert np.array_equal(ended, b.get("_final_obs", np.zeros(2, bool))), f"ends differ at step {t}"
    game_overs = 0
    for i in np.flatnonzero(ended):
        if terminated[i] and a["final_info"]["lives"][i] == 0:  # a game over (Pong has no lives to lose)
            game_overs += 1
        else:
            assert np.array_equal(a["final_obs"][i], b["final_obs"][i]), f"final obs differ at step {t}"
    return game_overs


@pytest.mark.parametrize("case", list(CASES))
def test_native_matches_wrapper_stack_frame_for_frame(case):
    config, steps = CASES[case]
    config = AtariConfig(**config)
    python, native = (make_vector_env(config, 2, seed=0, backend=b) for b in ("python", "native"))
    assert np.array_equal(python.reset()[0], native.reset()[0])
    rng = np.random.default_rng(0)
    events = dict(lives_lost=0, terminated=0, truncated=0, game_overs=0)
    for t in range(steps):
        if t == steps - 30:  # reseeding: the real reset and no-op counts match too
            assert np.array_equal(python.reset(seed=5)[0], native.reset(seed=5)[0])
        lives = [env.unwrapped.ale.lives() for env in python.envs]
        actions = rng.integers(0, python.single_action_space.n, 2)
        a, b = python.step(actions), native.step(actions)
        for k, field in enumerate(("observations", "rewards", "terminated", "truncated")):
            assert np.array_equal(a[k], b[k]), f"{field} differ at step {t}"
        events["game_overs"] += assert_same_final_obs(a[4], b[4], a[2], t)
        events["lives_lost"] += sum(
            0 < env.unwrapped.ale.lives() < n for env, n in zip(python.envs, lives, strict=True)
        )
        events["terminated"] += int(a[2].sum())
        events["truncated"] += int(a[3].sum())
    python.close()
    native.close()
    minimum = {
        "test env": dict(lives_lost=2, terminated=1, game_overs=1),
        "train env": dict(lives_lost=2, terminated=2, truncated=1),
        "clipping, time limit": dict(truncated=4),
        "time limit within no-ops": dict(truncated=10),
    }[case]
    assert all(events[k] >= n for k, n in minimum.items()), events


def test_auto_backend_and_errors():
    env = make_vector_env(AtariConfig(**TEST), 1, seed=0)
    # the wrapper stacks in this process: faster with the paper's one train env (benchmarks/bench_envs.py)
    assert isinstance(env, gymnasium.vector.SyncVectorEnv)
    env.close()
    with pytest.raises(IrisError, match="backend"):
        make_vector_env(AtariConfig(**TEST), 1, seed=0, backend="gpu")


@pytest.mark.parametrize("backend", ["python", "native"])
def test_single_env_spaces_shapes_and_seeding(backend):
    config = AtariConfig(id="Pong", noop_max=30, done_on_life_loss=False)
    env = make_vector_env(config, 1, seed=0, backend=backend)
    assert isinstance(env, gymnasium.vector.VectorEnv) and env.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    assert env.num_envs == 1 and env.single_action_space == gymnasium.spaces.Discrete(6)
    assert env.single_observation_space == gymnasium.spaces.Box(0, 255, (64, 64, 3), np.uint8)
    assert env.observation_space.shape == (1, 64, 64, 3) and env.action_space.shape == (1,)
    obs, _ = env.reset()
    assert obs.shape == (1, 64, 64, 3) and obs.dtype == np.uint8
    obs, rewards, terminated, truncated, _ = env.step(np.array([1]))
    assert obs.shape == (1, 64, 64, 3) and rewards.dtype == np.float64
    assert terminated.dtype == truncated.dtype == bool

    def after_reset(seed):  # Pong's screen is still for its first frames: look 30 steps later
        env.reset(seed=seed)
        return [env.step(np.array([0]))[0] for _ in range(30)][-1]

    # reseeding reproduces the episode; other seeds draw other no-op counts
    frames = [after_reset(s) for s in (5, 5, 6, 7, 8)]
    assert np.array_equal(frames[0], frames[1])
    assert any(not np.array_equal(frames[0], f) for f in frames[2:])
    env.close()


def test_same_step_autoreset():
    env = make_vector_env(AtariConfig(**TEST), 2, seed=0, backend="python")
    first, _ = env.reset()
    rng = np.random.default_rng(0)
    for _ in range(400):
        obs, _, terminated, _, infos = env.step(rng.integers(0, 4, 2))
        for i in np.flatnonzero(terminated):  # a game over: the next game has started
            ale = env.envs[i].unwrapped.ale
            assert ale.getEpisodeFrameNumber() == 1 and ale.lives() == 5  # after its one no-op
            assert np.array_equal(obs[i], first[i])  # Breakout always starts alike
            assert infos["final_info"]["lives"][i] == 0 and infos["lives"][i] == 5  # the game over; the next game
            return
    pytest.fail("no game over")
