"""``iris demo``: build IRIS's networks and run each once on random frames, with timings.

A quick check that an installation works; training arrives with ``iris train``.
"""

from __future__ import annotations

import argparse
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--num-actions", type=int, default=6, help="size of the action set (Pong has 6)")
    parser.add_argument("--batch", type=int, default=2, help="number of parallel imagined trajectories")
    parser.add_argument("--steps", type=int, default=3, help="imagined steps")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")


def run(args: argparse.Namespace) -> int:
    import torch

    from iris_wm.agent import create_model
    from iris_wm.errors import IrisError

    agent = create_model("iris", num_actions=args.num_actions, device=args.device).eval()
    max_steps = agent.world_model.config.max_blocks - 1  # the first block holds the starting frame
    if args.batch < 1 or not 1 <= args.steps <= max_steps:
        raise IrisError(f"--batch must be at least 1 and --steps between 1 and {max_steps}")
    print(f"IRIS (paper config) on {agent.device}, {args.num_actions} actions:")
    for name in ("tokenizer", "world_model", "actor_critic"):
        print(f"  {name:<13} {sum(p.numel() for p in getattr(agent, name).parameters()):>11,} parameters")
    frames = torch.rand(args.batch, 3, 64, 64, device=agent.device)
    with torch.no_grad():
        started = time.perf_counter()
        tokens = agent.tokenizer.encode(frames, should_preprocess=True).tokens  # (B, 16)
        reconstructions = agent.tokenizer.decode_tokens(tokens)
        print(f"tokenizer     {tuple(frames.shape)} frames -> {tuple(tokens.shape)} tokens -> "
              f"{tuple(reconstructions.shape)} in {time.perf_counter() - started:.2f}s")
        started = time.perf_counter()
        agent.actor_critic.reset(args.batch)
        cache = agent.world_model.new_kv_cache(args.batch)
        agent.world_model(tokens, cache)
        for _ in range(args.steps):
            actions = agent.act(reconstructions)
            out = agent.world_model(actions.unsqueeze(1), cache)
            new_tokens = []
            for _ in range(tokens.shape[1]):
                token = torch.distributions.Categorical(logits=out.logits_observations[:, -1]).sample()
                new_tokens.append(token)
                out = agent.world_model(token.unsqueeze(1), cache)
            reconstructions = agent.tokenizer.decode_tokens(torch.stack(new_tokens, dim=1))
        print(f"imagination   {args.steps} steps x {args.batch} trajectories ({cache.size} tokens in the KV cache) "
              f"in {time.perf_counter() - started:.2f}s")
    return 0
