"""Speed of every training phase, through the plain eager reference path and the optimised path.

    python benchmarks/speed.py [--sizes paper cpu-smoke delta-atari delta-crafter] [--threads 2]
                               [--repeats 3] [--warmup 1] [--batch-divisor N] [--imagination-batch N]
                               [--only imagination ...] [--like-epoch 50 500] [--epoch-steps 4]
                               [--device cuda] [--json out.json]

Each measurement is timed ``repeats`` times after ``warmup`` untimed runs; the table shows the
median, the spread (min-max) and, for every path, its speed-up over the reference path measured in
the same run; on CUDA also the peak GPU memory of a run (allocated, reset before each). Sizes:
``paper`` (IRIS's networks and batches), ``cpu-smoke`` (the preset's), and
Δ-IRIS's ``delta-atari`` / ``delta-crafter`` (the authors' configurations; ``benchmarks/delta_iris.py``).
``--batch-divisor`` divides the paper's batch sizes (the networks keep their size), for CPUs where a
paper-size batch takes minutes; the table states the batch sizes used.

Paths (see ``benchmarks/reference_path.py`` for the reference):
- reference: manual masked attention, KV cache grown by concatenation, validated sampling (a host
  sync per token on a GPU), every frame re-encoded at every step;
- optimised: SDPA over the preallocated in-place KV cache, sampling without host syncs;
- optimised, cache warm: as in an epoch once the sampled frames' tokens and reconstructions are in
  the per-epoch cache (``iris_wm/training/frame_cache.py``): the step's own work only;
- fixed / compiled (``agent.speed.token_pass``): imagination's token passes at a device position
  over the whole cache under a length mask, eagerly, or as one torch.compile(fullgraph=True) graph
  (inductor) compiled before the timings; on CUDA also cuda-graphs (that graph replayed as a CUDA graph),
  and cuda-graphs with the world model and decoder under bf16 autocast, with TF32 matmuls and
  convolutions (switched on for that path's runs only), and with both;
- the "imagination loop" rows give every path the frames' tokens and reconstructions (as a warm
  cache does): the 20 imagined steps alone, 17 world-model passes, a decode and a policy step each;
- epoch rows (``benchmarks/epochs.py``) time whole training phases (tokenizer, world model,
  actor-critic) over a dataset sized so that each frame is sampled as often as in given epochs of
  the paper's run (``--like-epoch``, each in the same run), or one whole ``cpu-smoke`` epoch
  (collection, the three phases, checkpoint). The reference epoch trains and imagines through the
  reference world model; on CUDA a "fastest" epoch runs every ``agent.speed`` option (cuda-graphs,
  compiled losses, bf16, TF32).

After the table come projections (``benchmarks/projection.py``): one actor-critic epoch (its 200
steps) from the measured actor-critic steps, a whole paper epoch at each measured epoch's dataset
size, and the whole run, from the epoch rows' time per step of each phase and the collection rows.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import sys
import time
from collections.abc import Callable
from copy import deepcopy
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python benchmarks/speed.py` from anywhere

from benchmarks.delta_iris import bench_delta_iris  # noqa: E402
from benchmarks.epochs import EPOCH_PATHS, bench_epoch, bench_smoke_epoch  # noqa: E402
from benchmarks.projection import Projection, Schedule, phase_epoch, project_paths, projection_table  # noqa: E402
from benchmarks.reference_path import reference_env, reference_world_model  # noqa: E402
from benchmarks.timing import Bench, Row, table, with_tf32  # noqa: E402
from iris_wm.agents import create_model  # noqa: E402
from iris_wm.agents.iris.frame_cache import FrameCache  # noqa: E402
from iris_wm.agents.iris.imagination import IRISImagination  # noqa: E402
from iris_wm.data.batch import Batch  # noqa: E402
from iris_wm.data.dataset import EpisodeDataset  # noqa: E402
from iris_wm.envs import get_env_kind  # noqa: E402
from iris_wm.models.acceleration import compile_fullgraph  # noqa: E402
from iris_wm.training.collector import Collector  # noqa: E402
from iris_wm.training.compose import compose_config  # noqa: E402
from iris_wm.training.config import CollectionConfig, TrainConfig  # noqa: E402
from iris_wm.training.optim import make_optimizer  # noqa: E402

GAME = "Pong"
SIZES = {"paper": [f"env.id={GAME}"], "cpu-smoke": [f"env.id={GAME}", "preset=cpu-smoke"],
         "delta-atari": ["agent=delta-iris", f"env.id={GAME}"], "delta-crafter": ["preset=delta-crafter"]}


# -- inputs ---------------------------------------------------------------------------------------

def size_config(size: str, divisor: int) -> TrainConfig:
    config = compose_config(SIZES[size])
    if size != "cpu-smoke" and divisor > 1:
        t = config.training
        for component in (t.tokenizer, t.world_model, t.actor_critic):
            component.batch_num_samples = max(1, component.batch_num_samples // divisor)
    return config


def random_batch(b: int, t: int, device: torch.device, num_actions: int, seed: int) -> Batch:
    """Frames with the statistics of nothing in particular: speed does not depend on content."""
    g = torch.Generator().manual_seed(seed)
    batch = Batch(observations=torch.randint(0, 256, (b, t, 3, 64, 64), generator=g, dtype=torch.uint8),
                  actions=torch.randint(0, num_actions, (b, t), generator=g),
                  rewards=torch.randint(-1, 2, (b, t), generator=g).float(), ends=torch.zeros(b, t, dtype=torch.long),
                  mask_padding=torch.ones(b, t, dtype=torch.bool))
    batch.frame_ids = torch.arange(b * t).view(b, t)
    return batch.to(device)


def training_step(component: torch.nn.Module, optimizer: torch.optim.Optimizer, loss: Callable[[], object],
                  max_grad_norm: float = 10.0) -> Callable[[], None]:
    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss().total.backward()
        torch.nn.utils.clip_grad_norm_(component.parameters(), max_grad_norm)
        optimizer.step()
    return step


# -- measurements ---------------------------------------------------------------------------------

def bf16_autocast() -> contextlib.AbstractContextManager:
    return torch.autocast("cuda", dtype=torch.bfloat16)


CUDA_VARIANTS = {"cuda-graphs + bf16": (True, False), "cuda-graphs + tf32": (False, True),
                 "cuda-graphs + bf16 + tf32": (True, True)}  # path -> (bf16 autocast, TF32)


def imagination_envs(tokenizer: torch.nn.Module, world_model: torch.nn.Module,
                     cuda: bool) -> tuple[dict[str, IRISImagination], set[str]]:
    """Every path's imagination, and the paths that run under TF32. Each path has its own env (its
    own KV cache, in bf16 under bf16 autocast; its own captured graph)."""
    envs = {"reference": reference_env(tokenizer, world_model), "optimised": IRISImagination(tokenizer, world_model),
            "fixed": IRISImagination(tokenizer, world_model, token_pass="fixed"),
            "compiled": IRISImagination(tokenizer, world_model, token_pass="compiled")}
    if not cuda:
        return envs, set()
    envs["cuda-graphs"] = IRISImagination(tokenizer, world_model, token_pass="cuda-graphs")
    for path, (bf16, _) in CUDA_VARIANTS.items():
        envs[path] = IRISImagination(tokenizer, world_model, token_pass="cuda-graphs",
                                   precision=bf16_autocast if bf16 else contextlib.nullcontext)
    return envs, {path for path, (_, on) in CUDA_VARIANTS.items() if on}


def bench_actor_critic(bench: Bench, size: str, config: TrainConfig, measurements: list[str]) -> None:
    agent = create_model("iris", 6, bench.device, config.agent)
    tokenizer, world_model, actor_critic = agent.tokenizer.eval(), agent.world_model.eval(), agent.actor_critic
    loss_config = config.agent.actor_critic_loss
    b, horizon = config.training.actor_critic.batch_num_samples, loss_config.imagine_horizon
    batch = random_batch(b, 1 + loss_config.burn_in, bench.device, 6, seed=0)
    setting = f"batch {b}, burn-in {loss_config.burn_in}, horizon {horizon}"
    envs, tf32_paths = imagination_envs(tokenizer, world_model, bench.cuda)
    # every compiled path's own graph on the one token pass function, beside the tests' and other runs'
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 4 * len(envs))
    cache = FrameCache(tokenizer, max_reconstruction_bytes=2**34)
    tokens = cache.tokens(batch)
    reconstructions = cache.reconstructions(batch, tokens)

    def timed_path(path: str, run: Callable[[], None]) -> Callable[[], None]:
        return with_tf32(run) if path in tf32_paths else run

    def frame_inputs(cached: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """The tokens and reconstructions imagination starts from: the epoch's cache, or the tokenizer now."""
        if cached:
            return tokens, reconstructions
        fresh = agent.encode_frames(batch)
        return fresh, agent.decode_frames(fresh)

    def imagine(path: str, cached: bool = False) -> Callable[[], None]:
        return timed_path(path, lambda: actor_critic.imagine(batch, envs[path], horizon, *frame_inputs(cached)))

    started = time.perf_counter()
    compiled_paths = [path for path in envs if path.startswith(("compiled", "cuda-graphs"))]
    for path in compiled_paths:
        imagine(path, cached=True)()  # compiles the token pass: one graph for every later run
    print(f"  compiling the token pass [{size}]: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    if "imagination" in measurements:
        bench.compare("imagination", size, setting, "imagined steps", b * horizon, {
            "reference": imagine("reference"), "optimised": imagine("optimised"),
            "optimised, cache warm": imagine("optimised", cached=True),
            **{f"{path}, cache warm": imagine(path, cached=True) for path in compiled_paths}})
        bench.compare("imagination loop", size, setting + ", tokens given", "imagined steps", b * horizon,
                      {path: imagine(path, cached=True) for path in envs})
    if "actor_critic" not in measurements:
        return
    optimizer = make_optimizer(actor_critic, config.training.learning_rate, 0.0)

    def step(path: str, cached: bool = False) -> Callable[[], None]:
        return timed_path(path, training_step(actor_critic, optimizer,
                                              lambda: actor_critic.compute_loss(batch, envs[path], loss_config,
                                                                                *frame_inputs(cached))))

    bench.compare("actor-critic step", size, setting, "steps", 1, {
        "reference": step("reference"), "optimised": step("optimised"),
        "optimised, cache warm": step("optimised", cached=True),
        **{f"{path}, cache warm": step(path, cached=True) for path in compiled_paths}})


def bench_world_model(bench: Bench, size: str, config: TrainConfig) -> None:
    agent = create_model("iris", 6, bench.device, config.agent)
    tokenizer = agent.tokenizer.eval()
    b, t = config.training.world_model.batch_num_samples, agent.world_model.config.max_blocks
    batch = random_batch(b, t, bench.device, 6, seed=1)
    tokens = FrameCache(tokenizer, 0).tokens(batch)
    paths = {}
    for path, world_model in (("reference", reference_world_model(agent.world_model)),
                              ("optimised", agent.world_model), ("optimised, cache warm", agent.world_model),
                              ("compiled, cache warm", agent.world_model)):
        world_model.train()
        optimizer = make_optimizer(world_model, config.training.learning_rate, config.training.world_model.weight_decay)
        warm = path.endswith("warm")
        # agent.speed.compile_training: the loss, forward and backward, as one graph
        loss = compile_fullgraph(world_model.compute_loss) if path.startswith("compiled") else world_model.compute_loss
        paths[path] = training_step(world_model, optimizer,
                                    lambda f=loss, w=warm: f(batch, tokens if w else agent.encode_frames(batch)))
    started = time.perf_counter()
    paths["compiled, cache warm"]()
    print(f"  compiling the world-model loss [{size}]: {time.perf_counter() - started:.1f} s", file=sys.stderr,
          flush=True)
    bench.compare("world-model step", size, f"batch {b} x {t} blocks", "steps", 1, paths)


def channels_last(tokenizer: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``tokenizer`` whose weights (and its LPIPS's) are laid out channels-last: a
    candidate speed-up, measured against the default layout (which the trainer uses)."""
    copy = deepcopy(tokenizer).to(memory_format=torch.channels_last)
    if copy.config.perceptual_weight > 0:
        copy.perceptual_loss().to(memory_format=torch.channels_last)
    return copy


def bench_tokenizer(bench: Bench, size: str, config: TrainConfig) -> None:
    b = config.training.tokenizer.batch_num_samples
    for perceptual in (True, False):
        tokenizer_config = replace(config.agent.tokenizer, perceptual_weight=1.0 if perceptual else 0.0)
        agent = create_model("iris", 6, bench.device, replace(config.agent, tokenizer=tokenizer_config))
        agent.tokenizer.perceptual_trunk_weights = "random"  # random VGG16: speed is the same
        batch = random_batch(b, 1, bench.device, 6, seed=2)
        paths = {}
        for path, tokenizer in (("reference", agent.tokenizer), ("channels-last", channels_last(agent.tokenizer))):
            optimizer = make_optimizer(tokenizer.train(), config.training.learning_rate, 0.0)
            paths[path] = training_step(tokenizer, optimizer, lambda t=tokenizer, x=batch: t.compute_loss(x))
        bench.compare("tokenizer step", size, f"{b} frames, {'with' if perceptual else 'without'} LPIPS", "steps",
                      1, paths)
    frames = random_batch(64, 1, bench.device, 6, seed=3).observations[:, 0]
    tokenizers = {"reference": agent.tokenizer.eval(), "channels-last": channels_last(agent.tokenizer).eval()}
    tokens = agent.tokenizer.encode(frames, should_preprocess=True).tokens
    with torch.no_grad():
        bench.compare("tokenizer encode", size, "batches of 64", "frames", 64,
                      {path: lambda t=t: t.encode(frames, should_preprocess=True) for path, t in tokenizers.items()})
        bench.compare("tokenizer decode", size, "batches of 64", "frames", 64,
                      {path: lambda t=t: t.decode_tokens(tokens) for path, t in tokenizers.items()})


def bench_collection(bench: Bench, size: str, config: TrainConfig) -> float | None:
    """Returns the median seconds of one epoch's collection with the config's number of envs (None:
    not among those measured)."""
    steps = 200  # one epoch's collection, including the burn-in that resumes unfinished episodes
    seconds = {}
    for num_envs in (1, 8):
        env = get_env_kind(config.env.kind).make_vector_env(config.env.train, num_envs, seed=0)
        agent = create_model("iris", int(env.single_action_space.n), bench.device, config.agent)
        collector = Collector(env, EpisodeDataset(None, "bench"), np.random.default_rng(0), seed=0)
        collection = CollectionConfig(num_envs=num_envs, num_steps=steps)
        [row] = bench.compare("collection", size, f"{num_envs} env{'s' * (num_envs > 1)}, agent acting",
                              "env steps", steps,
                              {"optimised": lambda c=collector, a=agent, s=collection: c.collect(a, s, epoch=1)})
        seconds[num_envs] = row.median * config.collection.train.num_steps / steps
        env.close()
    return seconds.get(config.collection.train.num_envs)


def bench_machine(bench: Bench) -> None:
    """What the arithmetic can reach here: float32 matmul and 3x3 convolution rates, memory copy."""
    device = bench.device
    a, b = torch.randn(2048, 2048, device=device), torch.randn(2048, 2048, device=device)
    bench.compare("machine: matmul", "-", "2048 x 2048 fp32", "GFLOP", 2 * 2048**3 / 1e9, {"-": lambda: a @ b})
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).to(device)
    x = torch.randn(64, 64, 64, 64, device=device)
    with torch.no_grad():
        bench.compare("machine: conv 3x3", "-", "64 -> 64 channels, 64 x 64, batch 64", "GFLOP",
                      2 * 64 * 64 * 64 * 64 * 64 * 9 / 1e9, {"-": lambda: conv(x)})
    source, target = torch.ones(2**26, device=device), torch.zeros(2**26, device=device)  # 256 MiB each
    bench.compare("machine: memory copy", "-", "256 MiB read + written", "GB", 2 * source.numel() * 4 / 1e9,
                  {"-": lambda: target.copy_(source)})


MEASUREMENTS = ("machine", "imagination", "actor_critic", "world_model", "tokenizer", "collection", "epoch")


def machine() -> dict:
    info = {"date": time.strftime("%Y-%m-%d"), "torch": torch.__version__, "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def actor_critic_epochs(rows: list[Row], schedule: Schedule, size: str) -> list[Projection]:
    """One actor-critic epoch (its steps per epoch) of each path measured at ``size``."""
    return [phase_epoch("actor-critic epoch", size, r.path, r.median, schedule.steps["actor_critic"],
                        len(r.seconds), r.setting)
            for r in rows if r.measurement == "actor-critic step" and r.size == size]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=["paper", "cpu-smoke"])
    parser.add_argument("--only", nargs="+", choices=MEASUREMENTS, default=list(MEASUREMENTS))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first (at least 1: it counts FLOPs)")
    parser.add_argument("--batch-divisor", type=int, default=1, help="divide the paper's batch sizes by this")
    parser.add_argument("--imagination-batch", type=int, help="Δ-IRIS's imagination and actor-critic batch")
    parser.add_argument("--epoch-steps", type=int, default=4, help="steps per phase in the epoch rows")
    parser.add_argument("--like-epoch", type=int, nargs="+", default=[50, 500],
                        help="size the epoch rows' datasets as at these epochs of the paper's run")
    parser.add_argument("--epoch-paths", nargs="+", choices=list(EPOCH_PATHS), default=list(EPOCH_PATHS),
                        help="the epoch rows' paths: " + "; ".join(f"{k}: {v}" for k, v in EPOCH_PATHS.items())
                        + " (every agent.speed option; CUDA only)")
    parser.add_argument("--json", type=Path, help="also write the rows and the machine here, after each measurement")
    args = parser.parse_args()
    args.warmup = max(1, args.warmup)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    info = machine()
    cuda = args.device.startswith("cuda")
    epoch_paths = [EPOCH_PATHS[name] for name in args.epoch_paths if cuda or name != "fastest"]
    projections: list[Projection] = []

    def save(rows: list[Row]) -> None:
        if args.json:
            settings = vars(args) | {"json": str(args.json)}
            args.json.write_text(json.dumps({"machine": info, "device": args.device, "args": settings,
                                             "rows": [r.__dict__ for r in rows],
                                             "projections": [p.__dict__ for p in projections]}, indent=1))

    bench = Bench(torch.device(args.device), args.repeats, args.warmup, on_rows=save)
    if "machine" in args.only:
        bench_machine(bench)
    for size in args.sizes:
        config = size_config(size, args.batch_divisor)
        if config.agent.kind == "delta-iris":
            bench_delta_iris(bench, size, config, args.only, random_batch, training_step, args.imagination_batch)
            continue
        schedule = Schedule.of(config)
        if {"imagination", "actor_critic"} & set(args.only):
            bench_actor_critic(bench, size, config, args.only)
            projections += actor_critic_epochs(bench.rows, schedule, size)
        if "world_model" in args.only:
            bench_world_model(bench, size, config)
        if "tokenizer" in args.only:
            bench_tokenizer(bench, size, config)
        collection = bench_collection(bench, size, config) if "collection" in args.only else None
        if "epoch" in args.only:
            per_step = bench_epoch(bench, size, size_config(size, args.batch_divisor), args.like_epoch,
                                   args.epoch_steps, epoch_paths)
            t = config.training
            batches = (f"batches {t.tokenizer.batch_num_samples}/{t.world_model.batch_num_samples}/"
                       f"{t.actor_critic.batch_num_samples}")
            projections += project_paths(schedule, size, per_step, collection, args.epoch_steps, batches)
            if size == "cpu-smoke":
                bench_smoke_epoch(bench, size_config(size, 1))
    save(bench.rows)
    print(f"\n{info}  device={args.device}  repeats={args.repeats} after {args.warmup} warm-up\n")
    print(table(bench.rows))
    if projections:
        print("\nProjections (each from the measured steps above, as its last column says):\n")
        print(projection_table(projections))


if __name__ == "__main__":
    main()
