"""Δ-IRIS's rows of ``benchmarks/speed.py``: imagination, the actor-critic, world-model and tokenizer
steps, through the reference path and the optimised one, at the authors' Atari and Crafter sizes.

- reference: the world model's GPT computed as research code writes it (``reference_path.py``:
  explicit masked attention, a KV cache grown by concatenation, validated sampling), every
  transition tokenized at every step;
- optimised: SDPA over the preallocated in-place KV cache, sampling without host syncs;
- optimised, cache warm: as in an epoch once the sampled transitions' tokens are in the per-epoch
  cache (``agents/delta_iris/transition_cache.py``): the step's own work only.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy

from benchmarks.reference_path import ReferenceTransformer, validated_sample
from iris_wm.agents import create_model
from iris_wm.agents.delta_iris.imagination import DeltaImagination
from iris_wm.agents.delta_iris.transition_cache import TransitionTokens
from iris_wm.agents.delta_iris.world_model import DeltaWorldModel
from iris_wm.training.config import TrainConfig
from iris_wm.training.optim import make_optimizer


def reference_world_model(world_model: DeltaWorldModel) -> DeltaWorldModel:
    """A copy of ``world_model`` (same weights and mode) whose GPT is the reference one."""
    reference = deepcopy(world_model)
    reference.transformer = ReferenceTransformer(world_model.config.transformer)
    reference.transformer.load_state_dict(world_model.transformer.state_dict())
    return reference.to(world_model.act_emb.weight.device).train(world_model.training)


def bench_delta_iris(bench, size: str, config: TrainConfig, measurements: list[str], random_batch,
                     training_step, imagination_batch: int | None) -> None:
    num_actions = 17 if config.env.kind == "crafter" else 6
    agent = create_model("delta-iris", num_actions, bench.device, config.agent)
    tokenizer, world_model, actor_critic = agent.tokenizer.eval(), agent.world_model.eval(), agent.actor_critic
    loss_config, t = config.agent.actor_critic_loss, config.training
    envs = {"reference": DeltaImagination(tokenizer, reference_world_model(world_model), validated_sample),
            "optimised": DeltaImagination(tokenizer, world_model)}
    b = imagination_batch or t.actor_critic.batch_num_samples
    horizon = loss_config.imagine_horizon
    batch = random_batch(b, 1 + loss_config.burn_in, bench.device, num_actions, seed=0)
    latents = TransitionTokens(tokenizer).tokens(batch)
    setting = f"batch {b}, burn-in {loss_config.burn_in}, horizon {horizon}"

    def paths(run: Callable[..., None]) -> dict[str, Callable[[], None]]:
        """Each path given the transitions' tokens as training has them: encoded now, or from the epoch's cache."""
        return {"reference": lambda: run(envs["reference"], agent.encode_transitions(batch)),
                "optimised": lambda: run(envs["optimised"], agent.encode_transitions(batch)),
                "optimised, cache warm": lambda: run(envs["optimised"], latents)}

    if "imagination" in measurements:
        bench.compare("Δ imagination", size, setting, "imagined steps", b * horizon,
                      paths(lambda env, cached: actor_critic.imagine(batch, env, horizon, cached)))
    if "actor_critic" in measurements:
        optimizer = make_optimizer(actor_critic.model, t.learning_rate, 0.0)
        bench.compare("Δ actor-critic step", size, setting, "steps", 1, paths(
            lambda env, cached: training_step(actor_critic.model, optimizer, lambda: actor_critic.compute_loss(
                batch, env, loss_config, cached))()))
    if "world_model" in measurements:
        bench_world_model(bench, size, agent, config, random_batch, training_step, num_actions)
    if "tokenizer" in measurements:
        tb, length = t.tokenizer.batch_num_samples, t.tokenizer.sequence_length
        frames = random_batch(tb, length, bench.device, num_actions, seed=2)
        optimizer = make_optimizer(tokenizer.train(), t.learning_rate, t.tokenizer.weight_decay)
        bench.compare("Δ tokenizer step", size, f"batch {tb} x {length} frames", "steps", 1, {
            "optimised": training_step(tokenizer, optimizer, lambda: tokenizer.compute_loss(frames))})
        tokenizer.eval()


def bench_world_model(bench, size: str, agent, config: TrainConfig, random_batch, training_step,
                      num_actions: int) -> None:
    t = config.training
    b, length = t.world_model.batch_num_samples, agent.world_model.max_blocks
    batch = random_batch(b, length, bench.device, num_actions, seed=1)
    latents = TransitionTokens(agent.tokenizer).tokens(batch)
    runs = {}
    for path, world_model in (("reference", reference_world_model(agent.world_model)),
                              ("optimised", agent.world_model), ("optimised, cache warm", agent.world_model)):
        world_model.train()
        optimizer = make_optimizer(world_model, t.learning_rate, t.world_model.weight_decay)
        warm = path.endswith("warm")
        runs[path] = training_step(world_model, optimizer, lambda wm=world_model, w=warm: wm.compute_loss(
            batch, latents if w else agent.encode_transitions(batch)))
    bench.compare("Δ world-model step", size, f"batch {b} x {length} blocks", "steps", 1, runs)
    agent.world_model.eval()
