"""Vector envs: the native backend reproduces the wrapper stack frame for frame."""

import numpy as np
import pytest

pytest.importorskip("ale_py")
from iris_wm.envs.atari import AtariConfig  # noqa: E402
from iris_wm.envs.vector import make_vector_env  # noqa: E402
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


@pytest.mark.parametrize("case", list(CASES))
def test_native_matches_wrapper_stack_frame_for_frame(case):
    config, steps = CASES[case]
    config = AtariConfig(**config)
    python, native = (make_vector_env(config, 2, seed=0, backend=b) for b in ("python", "native"))
    assert np.array_equal(python.reset(), native.reset())
    rng = np.random.default_rng(0)
    events = dict(lives_lost=0, terminated=0, truncated=0)
    for t in range(steps):
        if t == steps - 30:  # reseeding: the real reset and no-op counts match too
            assert np.array_equal(python.reset(seed=5), native.reset(seed=5))
        lives = [env.unwrapped.ale.lives() for env in python.envs]
        actions = rng.integers(0, python.num_actions, 2)
        a, b = python.step(actions), native.step(actions)
        for field in ("observations", "rewards", "terminated", "truncated"):
            assert np.array_equal(getattr(a, field), getattr(b, field)), f"{field} differ at step {t}"
        events["lives_lost"] += sum(
            0 < env.unwrapped.ale.lives() < n for env, n in zip(python.envs, lives, strict=True)
        )
        events["terminated"] += int(a.terminated.sum())
        events["truncated"] += int(a.truncated.sum())
    python.close()
    native.close()
    minimum = {
        "test env": dict(lives_lost=2, terminated=1),  # terminated: a game over
        "train env": dict(lives_lost=2, terminated=2, truncated=1),
        "clipping, time limit": dict(truncated=4),
        "time limit within no-ops": dict(truncated=10),
    }[case]
    assert all(events[k] >= n for k, n in minimum.items()), events


def test_auto_backend_and_errors():
    env = make_vector_env(AtariConfig(**TEST), 1, seed=0)
    assert env.backend == "python"  # native measured no faster on 2 cores (benchmarks/bench_envs.py)
    env.close()
    with pytest.raises(IrisError, match="backend"):
        make_vector_env(AtariConfig(**TEST), 1, seed=0, backend="gpu")


@pytest.mark.parametrize("backend", ["python", "native"])
def test_single_env_shapes_and_seeding(backend):
    config = AtariConfig(id="Pong", noop_max=30, done_on_life_loss=False)
    env = make_vector_env(config, 1, seed=0, backend=backend)
    assert env.num_envs == 1 and env.num_actions == 6 and env.action_names[1] == "FIRE"
    obs = env.reset()
    assert obs.shape == (1, 64, 64, 3) and obs.dtype == np.uint8
    step = env.step(np.array([1]))
    assert step.observations.shape == (1, 64, 64, 3) and step.rewards.dtype == np.float32
    assert step.terminated.dtype == step.truncated.dtype == bool

    def after_reset(seed):  # Pong's screen is still for its first frames: look 30 steps later
        env.reset(seed=seed)
        return [env.step(np.array([0])).observations for _ in range(30)][-1]

    # reseeding reproduces the episode; other seeds draw other no-op counts
    frames = [after_reset(s) for s in (5, 5, 6, 7, 8)]
    assert np.array_equal(frames[0], frames[1])
    assert any(not np.array_equal(frames[0], f) for f in frames[2:])
    env.close()


def test_same_step_autoreset():
    env = make_vector_env(AtariConfig(**TEST), 2, seed=0, backend="python")
    first = env.reset()
    rng = np.random.default_rng(0)
    for _ in range(400):
        step = env.step(rng.integers(0, 4, 2))
        for i in np.flatnonzero(step.terminated):  # a game over: the next game has started
            ale = env.envs[i].unwrapped.ale
            assert ale.getEpisodeFrameNumber() == 1 and ale.lives() == 5  # after its one no-op
            assert np.array_equal(step.observations[i], first[i])  # Breakout always starts alike
            return
    pytest.fail("no game over")
