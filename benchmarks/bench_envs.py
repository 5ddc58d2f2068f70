"""Env throughput: agent steps per second (summed over envs), random actions; Crafter's reset time.

    python benchmarks/bench_envs.py [--game Breakout] [--steps 300] [--repeats 3] [--vectorization sync async]
    python benchmarks/bench_envs.py --env crafter [--steps 300] [--num-envs 16] [--vectorization sync async]
    python benchmarks/bench_envs.py --env gym --game MiniGrid-DoorKey-5x5-v0 [--num-envs 16]

Rows: the paper's train env (life-loss ends, 30 no-ops) as one wrapper stack and through each
backend with one env; its test env (one no-op, no life-loss ends) with N envs through each backend;
and, for reference only, ale-py's vector env with its own preprocessing at 64x64 RGB (INTER_AREA
resize, max-pool before resize, its own no-op RNG: NOT the paper's observations). The python
backend runs the wrapper stacks in this thread (sync) or one subprocess each (async); the native
backend runs one C++ thread per game beside this one. Crafter: one env, N envs in each vectorisation,
and the seconds a reset takes (world generation). gym: the id's wrapped env (env=gym with the id alone),
one env and N envs in each vectorisation. Each vector env takes --warmup steps before it is
timed; the repeats go round the rows in turn, so that a change in the machine's load falls on every row.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import time
from dataclasses import replace

import numpy as np
import psutil

from iris_wm.envs.vector import VECTORIZATIONS


def rate(step, num_envs: int, steps: int, num_actions: int) -> tuple[float, float, float]:
    """Agent steps per second, and the CPU milliseconds per agent step of this process and of its
    subprocesses. With async vectorisation this process's share (sending actions, receiving steps,
    batching) does not spread over cores; the workers' (the env's step and their side of the pipe) does."""
    rng = np.random.default_rng(0)
    actions = rng.integers(0, num_actions, (steps, num_envs))
    workers = psutil.Process().children(recursive=True)
    start, cpu, workers_cpu = time.perf_counter(), time.process_time(), cpu_seconds(workers)
    for a in actions:
        step(a)
    seconds = time.perf_counter() - start
    per_step = 1000 / (num_envs * steps)
    return (num_envs * steps / seconds, per_step * (time.process_time() - cpu),
            per_step * (cpu_seconds(workers) - workers_cpu))


def cpu_seconds(processes: list[psutil.Process]) -> float:
    return sum(sum(p.cpu_times()[:2]) for p in processes)


def single_env(make, steps: int) -> tuple[float, float, float]:
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


def vector_env(make, num_envs: int, steps: int, warmup: int) -> tuple[float, float, float]:
    env = make()
    env.reset()
    n = env.single_action_space.n
    rate(env.step, num_envs, warmup, n)  # subprocesses started, caches warm
    result = rate(env.step, num_envs, steps, n)
    env.close()
    return result


def reset_seconds(make, resets: int) -> tuple[float, float, float]:
    """Median seconds of one reset (not steps/s); no CPU time."""
    env = make()
    times = []
    for seed in range(resets):
        start = time.perf_counter()
        env.reset(seed=seed)
        times.append(time.perf_counter() - start)
    env.close()
    return statistics.median(times), float("nan"), float("nan")


def crafter_rows(args: argparse.Namespace) -> dict:
    from iris_wm.envs import get_env_kind
    from iris_wm.envs.crafter.env import CrafterConfig, make_crafter

    make_crafter_vector_env = get_env_kind("crafter").make_vector_env

    config, n, steps = CrafterConfig(), args.num_envs, args.steps
    return {
        "crafter, one env": lambda: single_env(lambda: make_crafter(config, 0), 4 * steps),
        **{f"crafter, {v} vector env, {n} envs": functools.partial(
            vector_env, lambda v=v: make_crafter_vector_env(replace(config, vectorization=v), n, 0), n, steps,
            args.warmup) for v in args.vectorization},
        "crafter, seconds per reset (world generation)": lambda: reset_seconds(lambda: make_crafter(config), 5),
    }


def gym_rows(args: argparse.Namespace) -> dict:
    from iris_wm.envs import get_env_kind
    from iris_wm.training.compose import compose_config

    kind = get_env_kind("gym")
    side, n, steps = compose_config(["env=gym", f"env.id={args.game}"]).env.train, args.num_envs, args.steps
    return {
        f"{args.game}, one env": lambda: single_env(lambda: kind.make_env(side, 0), 4 * steps),
        **{f"{args.game}, {v} vector env, {n} envs": functools.partial(
            vector_env, lambda v=v: kind.make_vector_env(replace(side, vectorization=v), n, 0), n, steps,
            args.warmup) for v in args.vectorization},
    }


def ale_preprocessed(config, num_envs: int, steps: int) -> tuple[float, float, float]:
    from ale_py.vector_env import AtariVectorEnv

    from iris_wm.envs.atari.env import rom_id

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
    parser.add_argument("--game", default="Breakout", help="Atari game, or with --env gym a registered id")
    parser.add_argument("--steps", type=int, default=300, help="vector steps per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=20, help="untimed vector steps before each timing")
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--env", choices=["atari", "crafter", "gym"], default="atari")
    parser.add_argument("--vectorization", nargs="+", choices=VECTORIZATIONS, default=list(VECTORIZATIONS),
                        help="how the envs stepped in Python are vectorised (env.vectorization)")
    args = parser.parse_args()
    rows = {"atari": atari_rows, "crafter": crafter_rows, "gym": gym_rows}[args.env](args)
    title = "Crafter" if args.env == "crafter" else args.game
    print(f"{title}, {os.cpu_count()} CPU cores, median of {args.repeats} runs, agent steps/s summed over envs")
    runs = {name: [] for name in rows}
    for _ in range(args.repeats):
        for name, run in rows.items():
            runs[name].append(run())
    print(f"{'variant':<60} {'steps/s':>8} {'CPU ms/step: here':>17} {'workers':>8}  runs")
    for name, results in runs.items():
        rates, here, workers = zip(*results, strict=True)
        print(f"{name:<60} {statistics.median(rates):>8.2f} {statistics.median(here):>17.3f} "
              f"{statistics.median(workers):>8.3f}  {' '.join(f'{r:.2f}' for r in rates)}")


def atari_rows(args: argparse.Namespace) -> dict:
    from iris_wm.envs.atari.env import AtariConfig, make_atari
    from iris_wm.envs.atari.kind import make_vector_env
    from iris_wm.envs.atari.native import NativeVectorEnv

    test = AtariConfig(id=args.game, max_episode_steps=108000, noop_max=1, done_on_life_loss=False)
    train = AtariConfig(id=args.game)
    n, steps, warmup = args.num_envs, args.steps, args.warmup

    def python(config: AtariConfig, num_envs: int, vectorization: str):
        return lambda: make_vector_env(replace(config, vectorization=vectorization), num_envs, 0, backend="python")

    return {
        "train env, single wrapper stack (make_atari)": lambda: single_env(lambda: make_atari(train, 0), 4 * steps),
        **{f"train env, python backend ({v}), 1 env": functools.partial(
            vector_env, python(train, 1, v), 1, 4 * steps, warmup) for v in args.vectorization},
        "train env, native backend, 1 env (1 thread)": lambda: vector_env(
            lambda: NativeVectorEnv(train, 1, 0), 1, 4 * steps, warmup
        ),
        **{f"test env, python backend ({v}), {n} envs": functools.partial(
            vector_env, python(test, n, v), n, steps, warmup) for v in args.vectorization},
        f"test env, native backend, {n} envs ({n} threads)": lambda: vector_env(
            lambda: NativeVectorEnv(test, n, 0), n, steps, warmup
        ),
        f"test env, ale-py preprocessing, {n} envs ({min(n, os.cpu_count())} thr., NOT exact)": lambda: (
            ale_preprocessed(test, n, steps)
        ),
    }


if __name__ == "__main__":
    main()
