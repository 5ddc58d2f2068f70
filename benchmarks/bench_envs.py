"""Env throughput: agent steps per second (summed over envs), random actions; Crafter's reset time.

    python benchmarks/bench_envs.py [--game Breakout] [--steps 300] [--repeats 3]
    python benchmarks/bench_envs.py --env crafter [--steps 300] [--num-envs 8]

Rows: the paper's train env (life-loss ends, 30 no-ops) as one wrapper stack and through each
backend with one env; its test env (one no-op, no life-loss ends) with N envs through each backend;
and, for reference only, ale-py's vector env with its own preprocessing at 64x64 RGB (INTER_AREA
resize, max-pool before resize, its own no-op RNG: NOT the paper's observations). The python
backend runs in this thread; the native backend runs one C++ thread per game beside it. Crafter:
one env, N envs in a python vector env, and the seconds a reset takes (world generation).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from iris_wm.envs.atari import AtariConfig, make_atari, rom_id
from iris_wm.envs.vector import NativeVectorEnv, make_vector_env


def rate(step, num_envs: int, steps: int, num_actions: int) -> float:
    rng = np.random.default_rng(0)
    actions = rng.integers(0, num_actions, (steps, num_envs))
    start = time.perf_counter()
    for a in actions:
        step(a)
    return num_envs * steps / (time.perf_counter() - start)


def single_env(make, steps: int) -> float:
    env = make()
    env.reset()

    def step(a):
        _, _, terminated, truncated, _ = env.step(int(a[0]))
        if terminated or truncated:
            env.reset()

    n = env.action_space.n
    result = rate(step, 1, steps, n)
    env.close()
    return result


def vector_env(make, num_envs: int, steps: int) -> float:
    env = make()
    env.reset()
    result = rate(env.step, num_envs, steps, env.num_actions)
    env.close()
    return result


def reset_seconds(make, resets: int) -> float:
    """Median seconds of one reset (not steps/s)."""
    env = make()
    times = []
    for seed in range(resets):
        start = time.perf_counter()
        env.reset(seed=seed)
        times.append(time.perf_counter() - start)
    env.close()
    return statistics.median(times)


def crafter_rows(n: int, steps: int) -> dict:
    from iris_wm.envs.crafter import CrafterConfig, make_crafter
    from iris_wm.envs.crafter_kind import make_crafter_vector_env

    config = CrafterConfig()
    return {
        "crafter, one env": lambda: single_env(lambda: make_crafter(config, 0), 4 * steps),
        f"crafter, python vector env, {n} envs": lambda: vector_env(
            lambda: make_crafter_vector_env(config, n, 0), n, steps
        ),
        "crafter, seconds per reset (world generation)": lambda: reset_seconds(lambda: make_crafter(config), 5),
    }


def ale_preprocessed(config: AtariConfig, num_envs: int, steps: int) -> float:
    from ale_py.vector_env import AtariVectorEnv

    env = AtariVectorEnv(
        rom_id(config.id),
        num_envs,
        img_height=64,
        img_width=64,
        grayscale=False,
        stack_num=1,
        noop_max=config.noop_max,
        use_fire_reset=False,
        reward_clipping=False,
        autoreset_mode="SameStep",
    )
    env.reset(seed=0)
    result = rate(env.step, num_envs, steps, env.single_action_space.n)
    env.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--game", default="Breakout")
    parser.add_argument("--steps", type=int, default=300, help="vector steps per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--env", choices=["atari", "crafter"], default="atari")
    args = parser.parse_args()
    rows = crafter_rows(args.num_envs, args.steps) if args.env == "crafter" else atari_rows(args)
    title = "Crafter" if args.env == "crafter" else args.game
    print(f"{title}, {os.cpu_count()} CPU cores, median of {args.repeats} runs, agent steps/s summed over envs")
    print(f"{'variant':<56} {'steps/s':>8}  runs")
    for name, run in rows.items():
        runs = [run() for _ in range(args.repeats)]
        print(f"{name:<56} {statistics.median(runs):>8.2f}  {' '.join(f'{r:.2f}' for r in runs)}")


def atari_rows(args: argparse.Namespace) -> dict:
    test = AtariConfig(id=args.game, max_episode_steps=108000, noop_max=1, done_on_life_loss=False)
    train = AtariConfig(id=args.game)
    n, steps = args.num_envs, args.steps
    rows = {
        "train env, single wrapper stack (make_atari)": lambda: single_env(lambda: make_atari(train, 0), 4 * steps),
        "train env, python backend, 1 env": lambda: vector_env(
            lambda: make_vector_env(train, 1, 0, backend="python"), 1, 4 * steps
        ),
        "train env, native backend, 1 env (1 thread)": lambda: vector_env(
            lambda: NativeVectorEnv(train, 1, 0), 1, 4 * steps
        ),
        f"test env, python backend, {n} envs": lambda: vector_env(
            lambda: make_vector_env(test, n, 0, backend="python"), n, steps
        ),
        f"test env, native backend, {n} envs ({n} threads)": lambda: vector_env(
            lambda: NativeVectorEnv(test, n, 0), n, steps
        ),
        f"test env, ale-py preprocessing, {n} envs ({min(n, os.cpu_count())} thr., NOT exact)": lambda: (
            ale_preprocessed(test, n, steps)
        ),
    }
    return rows


if __name__ == "__main__":
    main()
