"""A language model as IRIS's world model, against IRIS's own transformer, on one machine in one run.

    python benchmarks/lm_world_model.py --lm path/or/hub-id [--lm ...] [--steps 200] [--out lm-bench/]
    python benchmarks/lm_world_model.py --tiny            # two tiny random LMs written here (Llama, GPT-2)

For each world model (the native one at the LM's width and depth, then each LM): imagined steps/s
at the actor-critic batch, the world-model training step time, peak memory, the checkpoint size,
and a learning comparison at equal data: the world-model loss over ``--steps`` training steps on
one fixed dataset of real frames (collected once with random actions and saved in ``--out``), the
same batches for every model, and the loss on held-out episodes at the end; the curves are drawn
to ``--out/learning.png``. Random-initialised LMs train fully; ``--finetune lora`` compares a
pretrained LM's adapters instead. The tokenizer is IRIS's small one, randomly initialised and the
same for all: the comparison is of the sequence models.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import iris_wm
from iris_wm.checkpoint import save_agent
from iris_wm.data.dataset import EpisodeDataset
from iris_wm.data.sampling import UniformSegments

TOKENIZER = {"embed_dim": 64, "perceptual_weight": 0.0,
             "autoencoder": {"z_channels": 64, "ch": 32, "num_res_blocks": 1, "attn_resolutions": []}}
MAX_BLOCKS = 8


def collect(folder: Path, game: str, steps: int, agent) -> EpisodeDataset:
    """Real Atari episodes with uniformly random actions (epsilon 1), collected once and reused."""
    if folder.is_dir() and any(folder.iterdir()):
        return EpisodeDataset.load(folder, "fixed")
    from iris_wm.envs.atari.env import AtariConfig
    from iris_wm.envs.atari.kind import make_vector_env
    from iris_wm.training.collector import Collector
    from iris_wm.training.config import CollectionConfig

    dataset = EpisodeDataset(folder, "fixed")
    collector = Collector(make_vector_env(AtariConfig(id=game), 1, seed=0), dataset, np.random.default_rng(0), seed=0)
    collector.collect(agent, CollectionConfig(num_steps=steps, epsilon=1.0), epoch=1)
    return dataset


def agents(lms: list[str], finetune: str, num_actions: int) -> dict[str, iris_wm.Agent]:
    from transformers import AutoConfig

    out = {}
    for lm in lms:
        c = AutoConfig.from_pretrained(lm)
        width = c.hidden_size
        layers = getattr(c, "num_hidden_layers", None) or c.n_layer
        heads = getattr(c, "num_attention_heads", None) or c.n_head
        torch.manual_seed(0)
        out[f"native (width {width}, {layers} layers)"] = iris_wm.create_model("iris", num_actions, "auto", {
            "tokenizer": TOKENIZER, "world_model": {"max_blocks": MAX_BLOCKS, "embed_dim": width,
                                                    "num_layers": layers, "num_heads": heads},
            "actor_critic_loss": {"imagine_horizon": MAX_BLOCKS, "burn_in": 4}})
        torch.manual_seed(0)
        out[f"{Path(lm).name} ({finetune})"] = iris_wm.create_model("iris-lm", num_actions, "auto", {
            "tokenizer": TOKENIZER, "world_model": {"model_name_or_path": lm, "max_blocks": MAX_BLOCKS,
                                                    "finetune": finetune},
            "actor_critic_loss": {"imagine_horizon": MAX_BLOCKS, "burn_in": 4}})
    return out


def peak_memory_mb(device: torch.device) -> float:
    """CUDA: this model's peak allocation. CPU: the process's peak resident size so far, which only
    grows from row to row (read the differences)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def checkpoint_mb(agent) -> float:
    with tempfile.TemporaryDirectory() as folder:
        save_agent(agent, folder)
        return sum(p.stat().st_size for p in Path(folder).iterdir()) / 2**20


def measure(agent, train: EpisodeDataset, test: EpisodeDataset, steps: int, batch: int) -> dict:
    from iris_wm.training.optim import make_optimizer

    kind = iris_wm.agents.get_agent_kind(agent.kind)
    phases = {p.name: p for p in agent.phases(kind.training_class(cache_tokens=False))}
    world_model = phases["world_model"]
    optimizer = make_optimizer(world_model.module, 1e-4, world_model.settings.weight_decay)
    if agent.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(agent.device)
    agent.train()
    agent.tokenizer.eval()
    rng, losses, times = np.random.default_rng(0), [], []
    for _ in range(steps):  # the same batches for every model: the same generator seed
        sample = train.sample_batch(batch, MAX_BLOCKS, rng).to(agent.device)
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = world_model.loss(sample)
        loss.total.backward()
        torch.nn.utils.clip_grad_norm_(world_model.module.parameters(), 10.0)
        optimizer.step()
        times.append(time.perf_counter() - start)
        losses.append(float(loss.terms["loss_obs"]))
    agent.eval()
    with torch.no_grad():
        held_out = [float(world_model.eval_loss(b.to(agent.device)).terms["loss_obs"])
                    for b in test.traverse(batch, MAX_BLOCKS)]
        imagination = train.sample_batch(batch, 1 + agent.burn_in, np.random.default_rng(1),
                                         UniformSegments(sample_from_start=False))
        agent.imagine(imagination.to(agent.device))  # warm-up
        start = time.perf_counter()
        out = agent.imagine(imagination.to(agent.device))
        imagine_s = time.perf_counter() - start
    return {"train_step_s": statistics.median(times), "imagined_steps_per_s": out.actions.numel() / imagine_s,
            "peak_memory_mb": peak_memory_mb(agent.device), "checkpoint_mb": checkpoint_mb(agent),
            "trainable_params": sum(p.numel() for p in world_model.module.parameters() if p.requires_grad),
            "final_train_loss_obs": float(np.mean(losses[-10:])), "held_out_loss_obs": float(np.mean(held_out)),
            "losses": losses}


def plot(results: dict, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4), dpi=120)
    FigureCanvasAgg(figure)
    axis = figure.subplots()
    for name, result in results.items():
        axis.plot(result["losses"], label=f"{name}: held-out {result['held_out_loss_obs']:.2f}", linewidth=1.2)
    axis.set_xlabel("world-model training step (same batches for every model)")
    axis.set_ylabel("observation-token loss (nats)")
    axis.set_title("World-model learning at equal data")
    axis.legend(fontsize=7)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lm", action="append", default=[], help="a causal LM: a local folder or a hub id")
    parser.add_argument("--tiny", action="store_true", help="write and compare two tiny random LMs")
    parser.add_argument("--finetune", default="full", choices=["full", "lora", "frozen"])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--frames", type=int, default=3000, help="real frames in the fixed dataset")
    parser.add_argument("--game", default="Pong")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("lm-bench"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    lms = list(args.lm)
    if args.tiny:
        from iris_wm.agents.iris_lm.tiny import write_tiny_lm

        lms += [str(write_tiny_lm(args.out / f"tiny-{arch}", arch)) for arch in ("llama", "gpt2")]
    if not lms:
        parser.error("give --lm PATH (repeatable) or --tiny")
    from iris_wm.devices import resolve_device
    from iris_wm.envs.atari.env import action_names

    num_actions = len(action_names(args.game))
    models = agents(lms, args.finetune, num_actions)
    data = collect(args.out / "dataset", args.game, args.frames, next(iter(models.values())))
    ids = data.episode_ids
    if len(ids) < 2:
        parser.error(f"{args.frames} frames of {args.game} make {len(ids)} episode(s): raise --frames "
                     f"(one episode is held out)")
    train, test = EpisodeDataset(None, "train"), EpisodeDataset(None, "test")
    for i in ids:  # the last episode held out
        (test if i == ids[-1] else train).add_episode(data.get_episode(i))
    results = {name: measure(agent, train, test, args.steps, args.batch) for name, agent in models.items()}
    print(f"{os.cpu_count()} CPU cores, {torch.get_num_threads()} torch threads, device {resolve_device('auto')}; "
          f"{args.steps} steps of batch "
          f"{args.batch} x {MAX_BLOCKS} blocks on {train.num_steps} frames of {args.game}; held out {test.num_steps}")
    columns = ("train_step_s", "imagined_steps_per_s", "peak_memory_mb", "checkpoint_mb", "trainable_params",
               "final_train_loss_obs", "held_out_loss_obs")
    print(f"{'world model':<34}" + "".join(f"{c:>22}" for c in columns))
    for name, result in results.items():
        print(f"{name:<34}" + "".join(f"{result[c]:>22.4g}" for c in columns))
    args.out.mkdir(parents=True, exist_ok=True)
    plot(results, args.out / "learning.png")
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    print(f"wrote {args.out / 'learning.png'} and {args.out / 'results.json'}")


if __name__ == "__main__":
    main()
