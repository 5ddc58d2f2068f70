"""Imagined env steps per second of ``WorldModelVectorEnv``, for each agent kind and number of envs.

    python benchmarks/world_model_env.py [--sizes cpu-smoke delta-cpu-smoke lm-tiny paper delta-atari]
                                         [--envs 1 16 256] [--steps 4] [--repeats 3] [--threads 2]
                                         [--device cpu]

For each (size, num_envs) two rows from the same run: the vector env's ``step`` (actions from the
host, outputs left on the device: the loop an RL library runs), and the same steps made directly on
the kind's imagination environment (what training's imagination costs), so that their ratio is the
vector env's own overhead. Episodes never end here (the end head is pinned to "not over") and the
horizon is the context's, so each timed step is a step of one cohort of every row: the rate of
imagination itself. Sizes: IRIS's and Δ-IRIS's paper networks (``paper``, ``delta-atari``), the
``cpu-smoke`` presets' networks, and ``lm-tiny``: iris-lm over a tiny random GPT-2 written here, with
cpu-smoke's tokenizer.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python benchmarks/world_model_env.py` from anywhere

from iris_wm.agents import create_model  # noqa: E402
from iris_wm.training.compose import compose_config  # noqa: E402

NUM_ACTIONS = 6
SIZES = {"paper": ["env.id=Pong"], "delta-atari": ["agent=delta-iris", "env.id=Pong"],
         "cpu-smoke": ["env.id=Pong", "preset=cpu-smoke"],
         "delta-cpu-smoke": ["agent=delta-iris", "preset=delta-cpu-smoke", "env.id=Pong"],
         "lm-tiny": ["agent=iris-lm", "env.id=Pong", "preset=cpu-smoke"]}


def build_agent(size: str, device: str, lm_dir: Path):
    overrides = list(SIZES[size])
    if size == "lm-tiny":
        from iris_wm.agents.iris_lm.tiny import write_tiny_lm

        overrides.append(f"agent.world_model.model_name_or_path={write_tiny_lm(lm_dir, 'gpt2')}")
    config = compose_config(overrides)
    torch.manual_seed(0)
    agent = create_model(config.agent.kind, NUM_ACTIONS, device, config.agent)
    agent.world_model.head_ends.head_module[-1].bias.data = torch.tensor([20.0, -20.0], device=agent.device)
    return agent.eval()


def random_starts(n: int, length: int) -> torch.Tensor:
    return torch.randint(0, 256, (n, length, 3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def time_vector_env(agent, num_envs: int, steps: int) -> float:
    env = agent.as_vector_env(random_starts(8, 1 + agent.burn_in), num_envs=num_envs)
    assert env.horizon >= steps, f"the context holds {env.horizon} steps; time fewer"
    actions = np.random.default_rng(0).integers(NUM_ACTIONS, size=(steps, num_envs))
    env.reset(seed=0)
    return timed(lambda t: env.step(actions[t]), steps, agent.device)


@torch.no_grad()
def time_imagination(agent, num_envs: int, steps: int) -> float:
    imagination = agent.make_imagination()
    frames = random_starts(num_envs, 1 + agent.burn_in).to(agent.device).float().div(255)
    imagination.reset_from_past(frames, torch.zeros(num_envs, agent.burn_in, dtype=torch.long, device=agent.device))
    actions = torch.randint(0, NUM_ACTIONS, (steps, num_envs), device=agent.device)
    return timed(lambda t: imagination.step(actions[t]), steps, agent.device)


def timed(step, steps: int, device: torch.device) -> float:
    """Seconds for ``step(t)``, t = 0..steps-1, with the device's queue drained before and after."""
    synchronize = torch.cuda.synchronize if device.type == "cuda" else lambda: None
    synchronize()
    start = time.perf_counter()
    for t in range(steps):
        step(t)
    synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["cpu-smoke", "delta-cpu-smoke", "lm-tiny"], choices=SIZES)
    parser.add_argument("--envs", nargs="+", type=int, default=[1, 16, 256])
    parser.add_argument("--steps", type=int, default=4, help="timed steps per run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per row, after one untimed")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, device {args.device}; {args.steps} steps per run, "
          f"median of {args.repeats} runs\n")
    print("| size | kind | envs | imagination env, imagined steps/s | vector env, imagined steps/s | "
          "vector / imagination |")
    print("|---|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as lm_dir:
        for size in args.sizes:
            agent = build_agent(size, args.device, Path(lm_dir))
            for num_envs in args.envs:
                rates = {}
                for name, timer in (("imagination", time_imagination), ("vector", time_vector_env)):
                    timer(agent, num_envs, 1)  # warm-up: allocations, first calls
                    seconds = [timer(agent, num_envs, args.steps) for _ in range(args.repeats)]
                    rates[name] = num_envs * args.steps / statistics.median(seconds)
                print(f"| {size} | {agent.kind} | {num_envs} | {rates['imagination']:,.0f} | {rates['vector']:,.0f} | "
                      f"{rates['vector'] / rates['imagination']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
