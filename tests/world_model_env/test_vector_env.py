"""The world model of every agent kind as a gymnasium vector env: spaces, autoreset, seeding, the
same trajectories as training's imagination, check_env on the single view, gymnasium's wrappers."""

from __future__ import annotations

import copy
from functools import partial

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode

from iris_wm import WorldModelEnv, WorldModelVectorEnv
from iris_wm.data.batch import Batch
from iris_wm.models.distributions import sample
from tests.world_model_env.conftest import NUM_ACTIONS, never_ending, start_segments

# How each kind's ``imagine`` stores the frames its policy saw (IRIS's authors truncated).
STORED_FRAMES = {"iris": lambda f: f.mul(255).byte(), "iris-lm": lambda f: f.mul(255).byte(),
                 "delta-iris": lambda f: f.mul(255).round().byte()}


def starts_for(agent, n: int = 6, seed: int = 0):
    return start_segments(n, 1 + agent.burn_in, seed)


def rollout(env, actions: list) -> list[tuple]:
    """Each step's outputs, as NumPy, for comparisons."""
    return [tuple(np.asarray(x.cpu()) if isinstance(x, torch.Tensor) else x for x in env.step(a)[:4])
            for a in actions]


@pytest.mark.parametrize("observation_format,output", [("uint8", "torch"), ("float", "numpy")])
def test_spaces_shapes_and_dtypes(agent, observation_format, output):
    env = agent.as_vector_env(starts_for(agent), num_envs=3, observation_format=observation_format, output=output)
    assert env.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert env.single_action_space == gymnasium.spaces.Discrete(NUM_ACTIONS)
    assert env.action_space == gymnasium.spaces.MultiDiscrete([NUM_ACTIONS] * 3)
    obs, infos = env.reset(seed=1)
    step = env.step(env.action_space.sample())
    shape, dtype = ((3, 64, 64, 3), np.uint8) if observation_format == "uint8" else ((3, 3, 64, 64), np.float32)
    assert env.observation_space.shape == shape and env.observation_space.dtype == dtype
    for observations in (obs, step[0]):
        kind = torch.Tensor if output == "torch" else np.ndarray
        assert isinstance(observations, kind) and tuple(observations.shape) == shape
        assert env.observation_space.contains(np.asarray(observations))
    rewards, terminated, truncated = (np.asarray(x) for x in step[1:4])
    assert rewards.shape == terminated.shape == truncated.shape == (3,)
    assert rewards.dtype == np.float32 and terminated.dtype == truncated.dtype == np.bool_
    assert set(infos) == {"start", "_start", "seed", "_seed"} and infos["_start"].all()


def test_episodes_truncate_at_the_horizon_and_restart_at_the_next_step(agent):
    agent = never_ending(agent)
    env = agent.as_vector_env(starts_for(agent), num_envs=4, horizon=2)
    env.reset(seed=0)
    outputs = rollout(env, [torch.zeros(4, dtype=torch.long)] * 5)
    assert [bool(o[3].all()) for o in outputs] == [False, True, False, False, True]
    assert not any(o[2].any() for o in outputs)
    assert (outputs[2][1] == 0).all()  # the autoreset step: reward 0, the start frames


def test_ended_rows_restart_alone_and_the_others_go_on(agent):
    """The end head is forced: rows 0 and 2 end at their first step, rows 1 and 3 never."""
    agent = never_ending(agent)
    env = agent.as_vector_env(starts_for(agent), num_envs=4, horizon=3, output="numpy")
    reference = copy.deepcopy(env)
    env.reset(seed=5)
    reference.reset(seed=5)
    head = agent.world_model.head_ends.head_module[-1]
    original = head.forward

    def ending_rows_0_and_2(x):
        logits = original(x)
        if logits.shape[0] == 4:  # the first cohort's step: every row
            logits[[0, 2]] = torch.tensor([-20.0, 20.0])
        return logits
    head.forward = ending_rows_0_and_2
    actions = [np.array([1, 2, 3, 4])] * 3
    outputs = rollout(env, actions)
    head.forward = original
    expected = rollout(reference, actions)
    assert outputs[0][2].tolist() == [True, False, True, False]
    # next step: rows 0 and 2 start again (reward 0, not ended), rows 1 and 3 are unaffected
    assert outputs[1][1][[0, 2]].tolist() == [0.0, 0.0] and not outputs[1][2][[0, 2]].any()
    for step, reference_step in zip(outputs, expected, strict=True):
        for ours, theirs in zip(step, reference_step, strict=True):
            np.testing.assert_array_equal(ours[[1, 3]], theirs[[1, 3]])
    # rows 1 and 3 are truncated at the horizon, the restarted rows one step later
    assert outputs[2][3].tolist() == [False, True, False, True]


def test_the_same_seed_gives_the_same_rollouts(agent):
    starts = starts_for(agent)
    actions = [np.random.default_rng(t).integers(NUM_ACTIONS, size=3) for t in range(6)]
    runs = []
    for seed in (3, 3, 4):
        env = agent.as_vector_env(starts, num_envs=3, output="numpy", horizon=2)
        obs, infos = env.reset(seed=seed)
        runs.append(([obs], infos["start"].tolist(), rollout(env, actions)))
    (obs_a, starts_a, steps_a), (obs_b, starts_b, steps_b), (obs_c, starts_c, steps_c) = runs
    np.testing.assert_array_equal(obs_a[0], obs_b[0])
    assert starts_a == starts_b
    for step_a, step_b in zip(steps_a, steps_b, strict=True):
        for x, y in zip(step_a, step_b, strict=True):
            np.testing.assert_array_equal(x, y)
    assert starts_a != starts_c or any(not np.array_equal(a[0], c[0]) for a, c in zip(steps_a, steps_c, strict=True))


def test_trajectories_equal_training_imagination_for_the_same_starts_seed_and_actions(agent):
    """agent.imagine with its world model drawing from the cohort's seed, then the env driven by the
    actions that imagine's policy took: the same frames, rewards and ends."""
    agent = never_ending(agent)
    frames, actions = starts_for(agent, n=4, seed=2)
    env = agent.as_vector_env((frames, actions), num_envs=3, observation_format="float")
    obs, infos = env.reset(seed=11)
    rows = torch.as_tensor(infos["start"])
    batch_frames = frames[rows].float().div(255)  # (3, 1 + burn_in, 3, 64, 64)
    batch_actions = torch.cat([actions[rows], torch.zeros(3, 1, dtype=torch.long)], dim=1)
    ones = torch.ones(batch_actions.shape, dtype=torch.bool)
    batch = Batch(batch_frames, batch_actions, torch.zeros(ones.shape), torch.zeros(ones.shape).long(), ones)
    generator = torch.Generator().manual_seed(int(infos["seed"][0]))
    agent.imagination().sampler = partial(sample, generator=generator)
    with torch.no_grad():
        imagined = agent.imagine(batch)
    store = STORED_FRAMES[agent.kind]
    assert torch.equal(store(obs), imagined.observations[:, 0])
    horizon = imagined.actions.shape[1]
    steps = min(horizon, env.horizon)
    for k in range(steps):
        obs, rewards, terminated, truncated, _ = env.step(imagined.actions[:, k])
        assert torch.equal(rewards, imagined.rewards[:, k]) and torch.equal(terminated, imagined.ends[:, k])
        if k + 1 < horizon:  # IRIS's last imagined step predicts no frame
            assert torch.equal(store(obs), imagined.observations[:, k + 1]), k
    assert steps >= 3


def test_the_context_truncates_unless_flushed(agent):
    agent = never_ending(agent)
    starts = starts_for(agent)
    env = agent.as_vector_env(starts, num_envs=2)
    room = env.horizon
    with pytest.raises(ValueError, match="beyond the world model's context"):
        agent.as_vector_env(starts, num_envs=2, horizon=room + 1)
    env.reset(seed=0)
    truncations = [bool(o[3].all()) for o in rollout(env, [torch.zeros(2, dtype=torch.long)] * room)]
    assert truncations == [False] * (room - 1) + [True]
    flushing = agent.as_vector_env(starts, num_envs=2, horizon=room + 3, flush_context=True)
    flushing.reset(seed=0)
    truncations = [bool(o[3].all()) for o in rollout(flushing, [torch.zeros(2, dtype=torch.long)] * (room + 3))]
    assert truncations == [False] * (room + 2) + [True]


def test_steps_left_counts_the_steps_before_the_context_restarts(agent):
    """The imagination env's own count: that many steps fill the KV cache in order, the next one
    starts it again."""
    frames, actions = starts_for(agent, n=2)
    imagination = agent.make_imagination()
    imagination.reset_from_past(frames.float().div(255), actions)
    room = imagination.steps_left
    sizes = [imagination.kv_cache.size]
    for _ in range(room):
        imagination.step(torch.zeros(2, dtype=torch.long))
        sizes.append(imagination.kv_cache.size)
    assert room >= 2 and sizes == sorted(sizes) and len(set(sizes)) == len(sizes) and imagination.steps_left == 0
    imagination.step(torch.zeros(2, dtype=torch.long))
    assert imagination.kv_cache.size < sizes[-1]


def test_the_single_env_passes_gymnasiums_checker(agent):
    from gymnasium.utils.env_checker import check_env

    env = WorldModelEnv(agent, starts_for(agent), horizon=2, render_mode="rgb_array")
    check_env(env, skip_render_check=False)
    obs, info = env.reset(seed=0)
    assert obs.shape == (64, 64, 3) and {"start", "seed"} <= set(info)
    assert np.array_equal(env.render(), obs)
    done = False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(0)
        done = terminated or truncated
    with pytest.raises(ValueError, match="call reset"):
        env.step(0)


def test_gymnasiums_array_conversion_wrappers_apply(agent):
    from gymnasium.wrappers.vector import ArrayConversion, NumpyToTorch

    numpy_env = agent.as_vector_env(starts_for(agent), num_envs=2, output="numpy")
    as_torch = NumpyToTorch(numpy_env)
    obs, _ = as_torch.reset(seed=0)
    assert isinstance(obs, torch.Tensor) and obs.dtype == torch.uint8
    assert isinstance(as_torch.step(torch.tensor([1, 2]))[1], torch.Tensor)
    torch_env = agent.as_vector_env(starts_for(agent), num_envs=2)
    as_numpy = ArrayConversion(torch_env, env_xp=torch, target_xp=np)
    obs, _ = as_numpy.reset(seed=0)
    assert isinstance(obs, np.ndarray)
    obs_torch, _ = torch_env.reset(seed=0)
    np.testing.assert_array_equal(obs, obs_torch.numpy())
    assert isinstance(as_numpy.step(np.array([1, 2]))[1], np.ndarray)


def test_the_constructor_is_the_module_level_class(agent):
    env = WorldModelVectorEnv(agent, starts_for(agent), num_envs=2)
    assert type(env) is type(agent.as_vector_env(starts_for(agent)))
