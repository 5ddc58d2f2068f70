"""The Atari wrapper stack (docs/algorithm.md, 'Atari protocol') against raw ALE screens and the paper's settings."""

import numpy as np
import pytest

pytest.importorskip("ale_py")
from PIL import Image  # noqa: E402

from iris_wm.envs.atari.env import AtariConfig, action_names, make_atari, resolve_game_id  # noqa: E402
from iris_wm.errors import IrisError  # noqa: E402

TEST = dict(max_episode_steps=108000, noop_max=1, done_on_life_loss=False)  # the paper's test env


def pil_resize(frame: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(frame).resize((64, 64), Image.BILINEAR))


@pytest.mark.parametrize("spelling", ["Breakout", "BreakoutNoFrameskip-v4", "ALE/Breakout-v5", "breakout"])
def test_id_spellings_resolve(spelling):
    assert resolve_game_id(spelling) == "Breakout"


def test_snake_case_and_camel_case_names():
    assert resolve_game_id("ms_pacman") == resolve_game_id("MsPacmanNoFrameskip-v4") == "MsPacman"


def test_unknown_id_lists_close_matches():
    with pytest.raises(IrisError, match="did you mean Breakout"):
        resolve_game_id("Breakot")


def test_minimal_action_sets():
    assert action_names("Breakout") == ["NOOP", "FIRE", "RIGHT", "LEFT"]
    assert len(action_names("PongNoFrameskip-v4")) == 6
    assert len(action_names("ALE/Alien-v5")) == 18


def test_observation_space():
    env = make_atari(AtariConfig(**TEST), seed=0)
    obs, _ = env.reset()
    assert env.observation_space.shape == obs.shape == (64, 64, 3) and obs.dtype == np.uint8
    assert env.action_space.n == 4


def test_noop_starts_random_per_seed_and_reproducible():
    env = make_atari(AtariConfig(id="Breakout", noop_max=30))

    def noops(seed):  # the ALE counts the frames since its reset: here, the no-op frames
        obs, _ = env.reset(seed=seed)
        return env.unwrapped.ale.getEpisodeFrameNumber(), obs

    counts = [noops(seed)[0] for seed in range(6)]
    assert all(1 <= c <= 30 for c in counts) and len(set(counts)) > 1
    (count_a, obs_a), (count_b, obs_b) = noops(3), noops(3)
    assert count_a == count_b == counts[3] and np.array_equal(obs_a, obs_b)
    test_env = make_atari(AtariConfig(id="Breakout", **TEST), seed=0)
    for _ in range(3):
        test_env.reset()
        assert test_env.unwrapped.ale.getEpisodeFrameNumber() == 1  # test: exactly one no-op


def play_until_life_lost(env, rng):
    """Random actions until the ALE loses a life; the last step's (terminated, truncated)."""
    lives = env.unwrapped.ale.lives()
    while True:
        _, _, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
        if env.unwrapped.ale.lives() < lives:
            return terminated, truncated


def test_life_loss_ends_training_episode_but_not_test_episode():
    rng = np.random.default_rng(0)
    train = make_atari(AtariConfig(id="Breakout"), seed=0)
    train.reset()
    assert play_until_life_lost(train, rng) == (True, False)
    frame_number = train.unwrapped.ale.getEpisodeFrameNumber()
    train.reset()  # not a real reset: one NOOP agent step of the same game
    assert train.unwrapped.ale.getEpisodeFrameNumber() == frame_number + 4
    assert train.unwrapped.ale.lives() == 4

    test = make_atari(AtariConfig(id="Breakout", **TEST), seed=0)
    test.reset()
    assert play_until_life_lost(test, rng) == (False, False)


def test_time_limit_counts_raw_frames_and_truncates():
    # 1 no-op frame + 9 agent steps of 4 frames = 37 frames; the 10th step reaches 40 at its 3rd frame.
    env = make_atari(AtariConfig(id="Breakout", max_episode_steps=40, noop_max=1, done_on_life_loss=False), seed=0)
    env.reset()
    ends = [env.step(0)[2:4] for _ in range(10)]
    assert ends == [(False, False)] * 9 + [(False, True)]
    assert env.unwrapped.ale.getEpisodeFrameNumber() == 40


def test_frame_skip_max_pools_the_last_two_resized_frames():
    env = make_atari(AtariConfig(id="Breakout", **TEST), seed=0)
    env.reset()
    for _ in range(20):  # launch the ball (FIRE) and move so that consecutive frames differ
        env.step(1)
    ale = env.unwrapped.ale
    state = ale.cloneState()
    obs, reward, *_ = env.step(2)
    ale.restoreState(state)
    raw, raw_reward = [], 0
    for _ in range(4):
        raw_reward += ale.act(ale.getMinimalActionSet()[2])
        raw.append(ale.getScreenRGB())
    assert not np.array_equal(raw[2], raw[3])
    assert np.array_equal(obs, np.maximum(pil_resize(raw[2]), pil_resize(raw[3])))
    assert reward == raw_reward
    assert np.array_equal(env.unwrapped.original_obs, raw[3])


def test_max_pool_buffer_is_not_cleared_on_early_end():
    # As the original (docs/faithfulness.md): an episode that ends at the first frame of a skip returns the previous
    # step's two frames. Here the time limit (1 no-op + 4 + 1 frames) ends the 2nd step early.
    env = make_atari(AtariConfig(id="Breakout", max_episode_steps=6, noop_max=1, done_on_life_loss=False), seed=0)
    env.reset()
    first, *_ = env.step(1)
    second, _, _, truncated, _ = env.step(1)
    assert truncated and np.array_equal(first, second)


def test_reward_clipping_signs_each_raw_frame():
    config = dict(id="Alien", **TEST)  # Alien scores 10 per egg
    plain = make_atari(AtariConfig(**config), seed=0)
    clipped = make_atari(AtariConfig(**config, clip_reward=True), seed=0)
    plain.reset()
    clipped.reset()
    rng = np.random.default_rng(0)
    pairs = []
    for _ in range(150):
        action = int(rng.integers(18))
        pairs.append((plain.step(action)[1], clipped.step(action)[1]))
    rewards, signs = np.array(pairs).T
    assert rewards.max() >= 10
    assert np.array_equal(np.sign(signs), np.sign(rewards)) and np.all(np.abs(signs) <= 4)
    assert set(signs[rewards != 0]) <= {1.0, 2.0, 3.0, 4.0}
