"""agent.speed: the fixed-shape and compiled token pass of imagination, compiled training losses,
and the GPU-only options (refused on a CPU; their equality tests run where CUDA is).

Compile tests use the aot_eager backend: it traces and functionalizes exactly as inductor does
(so graph breaks and recompiles show the same) without generating C++ kernels, which take tens of
seconds here. 15-35 s in all on 2 shared cores, depending on the load."""

import numpy as np
import pytest
import torch
from torch._dynamo.utils import counters

import iris_wm
from iris_wm.agents.iris.imagination import IRISImagination
from iris_wm.agents.iris.world_model import WorldModel
from iris_wm.data.batch import Batch
from iris_wm.data.dataset import EpisodeDataset
from iris_wm.data.episode import Episode
from iris_wm.errors import IrisError
from iris_wm.models.transformer import TransformerConfig
from iris_wm.training.optim import load_optimizer_state, make_optimizer
from tests.factories import tiny_iris_config

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def tiny_agent(device: str = "cpu", **speed):
    # without dropout, so that training losses compare exactly; one layer, to compile quickly
    config = tiny_iris_config(max_blocks=4, num_layers=1, embed_pdrop=0.0, resid_pdrop=0.0, attn_pdrop=0.0)
    return iris_wm.create_model("iris", num_actions=3, device=device, config={**config, "speed": speed})


def rollout(agent, env: IRISImagination, seed: int, steps: int = 6) -> torch.Tensor:
    """Token sequences of a rollout from a fixed frame and random actions; 6 steps of a 4-frame
    context: it restarts from the current frame once on the way (the interactive case)."""
    torch.manual_seed(seed)
    env.reset_from_initial_observations(torch.rand(2, 3, 64, 64, device=agent.device))
    frames = []
    for _ in range(steps):
        _, rewards, ends = env.step(torch.randint(0, 3, (2,), device=agent.device))
        frames.append(torch.cat([env.obs_tokens, rewards.unsqueeze(1).long(), ends.unsqueeze(1).long()], dim=1))
    return torch.stack(frames, dim=1)  # (B, steps, K + 2)


def compiled_graphs() -> int:
    return counters["stats"]["unique_graphs"]


@pytest.fixture
def fresh_dynamo():
    torch._dynamo.reset()
    counters.clear()
    yield
    torch._dynamo.reset()


def test_fixed_shape_token_pass_imagines_the_same_rollouts_as_the_eager_one():
    agent = tiny_agent()
    eager = rollout(agent, IRISImagination(agent.tokenizer, agent.world_model), seed=3)
    fixed = rollout(agent, IRISImagination(agent.tokenizer, agent.world_model, token_pass="fixed"), seed=3)
    assert torch.equal(fixed, eager)
    assert not torch.equal(rollout(agent, IRISImagination(agent.tokenizer, agent.world_model), seed=4), eager)


def test_compiled_token_pass_is_one_graph_for_every_position_and_imagines_the_same_rollouts(fresh_dynamo):
    agent = tiny_agent(token_pass="compiled", compile_backend="aot_eager")
    env = agent.imagination()
    eager = rollout(agent, IRISImagination(agent.tokenizer, agent.world_model), seed=5)
    assert compiled_graphs() == 0  # the eager env compiles nothing
    assert torch.equal(rollout(agent, env, seed=5), eager)  # 6 x 17 passes at positions 16..67, one restart
    assert compiled_graphs() == 1
    addresses = [t.data_ptr() for t in env.kv_cache.tensors]
    assert torch.equal(rollout(agent, env, seed=5), eager)  # a second rollout reuses the graph and the cache
    assert compiled_graphs() == 1 and [t.data_ptr() for t in env.kv_cache.tensors] == addresses


def test_compiled_token_pass_runs_under_bf16_autocast_with_a_bf16_cache(fresh_dynamo):
    """agent.speed.bf16 is refused off CUDA, but its mechanism is not: the imagination's passes
    under CPU bf16 autocast. The cache is made in bf16, the keys computed in it, and the compiled
    pass imagines what the eager one does under the same autocast."""
    agent = tiny_agent()

    def bf16():
        return torch.autocast("cpu", dtype=torch.bfloat16)

    eager = rollout(agent, IRISImagination(agent.tokenizer, agent.world_model, precision=bf16), seed=5)
    env = IRISImagination(agent.tokenizer, agent.world_model, token_pass="compiled", compile_backend="aot_eager",
                        precision=bf16)
    assert torch.equal(rollout(agent, env, seed=5), eager)
    assert compiled_graphs() == 1 and all(t.dtype == torch.bfloat16 for t in env.kv_cache.tensors)


def padded_batch(b: int, t: int, real_from: list[int], seed: int) -> Batch:
    """Segments whose first real_from[i] steps are padding (as at an episode's start)."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.arange(t).unsqueeze(0) >= torch.tensor(real_from).unsqueeze(1)
    frames = torch.randint(0, 256, (b, t, 3, 64, 64), generator=g, dtype=torch.uint8)
    observations = frames * mask[..., None, None, None]  # padding frames are all zero, as the dataset's
    return Batch(observations=observations, actions=torch.randint(0, 3, (b, t), generator=g) * mask,
                 rewards=torch.randint(-1, 2, (b, t), generator=g).float() * mask,
                 ends=torch.zeros(b, t, dtype=torch.long), mask_padding=mask).to("cpu")


def test_compiled_training_losses_compile_once_across_padded_batches(fresh_dynamo):
    compiled, eager = tiny_agent(compile_training=True, compile_backend="aot_eager"), tiny_agent()
    eager.load_state_dict(compiled.state_dict())
    for name, length in (("tokenizer", 1), ("world_model", 4)):
        losses = {}
        for label, agent in (("compiled", compiled), ("eager", eager)):
            phase = {p.name: p for p in agent.phases(agent_training())}[name]
            phase.module.train()
            losses[label] = []
            for seed, real_from in enumerate(([0, 0], [2, 0], [3, 1])):  # whole, then padded segments
                loss = phase.loss(padded_batch(2, length, real_from if length > 1 else [0, 0], seed))
                loss.total.backward()
                losses[label].append(loss.total.detach())
        torch.testing.assert_close(torch.stack(losses["compiled"]), torch.stack(losses["eager"]), rtol=1e-5, atol=1e-5)
    assert compiled_graphs() == 2  # one per loss, forward and backward, for every batch


def agent_training(**options):
    from iris_wm.agents.iris.config import IRISTraining

    return IRISTraining(**options)


def short_episodes(seed: int) -> EpisodeDataset:
    """Two short episodes: segments of the world model's 4 frames are often padded at their start."""
    rng = np.random.default_rng(seed)
    dataset = EpisodeDataset(None, "train")
    for length in (3, 6):
        dataset.add_episode(Episode(observations=rng.integers(0, 256, (length, 3, 64, 64), dtype=np.uint8),
                                    actions=rng.integers(0, 3, length), rewards=rng.integers(-1, 2, length)
                                    .astype(np.float32), ends=np.zeros(length, dtype=np.int64)))
    return dataset


def test_compiled_training_losses_with_the_frame_cache_run_as_the_trainer_runs_them(fresh_dynamo):
    """The trainer's path with the default training.cache_tokens: start_epoch makes the frame cache,
    then the tokenizer's and the world model's steps through their phases' losses on sampled
    batches. The cache's lookups (host ids, a Python table) stay outside the compiled graph."""
    compiled, eager = tiny_agent(compile_training=True, compile_backend="aot_eager"), tiny_agent()
    eager.load_state_dict(compiled.state_dict())
    dataset, losses = short_episodes(seed=0), {}
    for label, agent in (("compiled", compiled), ("eager", eager)):
        training = agent_training(cache_tokens=True)
        agent.train()
        agent.start_epoch(training, epoch=1)
        rng, losses[label] = np.random.default_rng(0), []
        for phase in agent.phases(training)[:2]:  # the tokenizer's, then the world model's
            for _ in range(3):
                batch = dataset.sample_batch(2, phase.sequence_length, rng, phase.sampler)
                loss = phase.loss(batch.to("cpu"))
                loss.total.backward()
                losses[label].append(loss.total.detach())
            phase.module.eval()  # frozen for the phases that follow, as the trainer does
    assert len(compiled._frame_cache.tokens_table) > 0  # the world model's batches went through the cache
    torch.testing.assert_close(torch.stack(losses["compiled"]), torch.stack(losses["eager"]), rtol=1e-5, atol=1e-5)
    assert compiled_graphs() == 2  # one per loss, for every batch


def test_fused_optimizer_is_chosen_by_the_device_and_forcing_it_on_needs_cuda():
    agent = tiny_agent()
    phase = agent.phases(agent_training())[1]
    assert phase.fused_optimizer is None  # auto
    assert not make_optimizer(phase.module, 1e-4, 0.01, phase.fused_optimizer).param_groups[0]["fused"]  # CPU
    off = tiny_agent(fused_optimizer="off").phases(agent_training())[1]
    assert off.fused_optimizer is False
    with pytest.raises(IrisError, match="agent.speed.fused_optimizer=on needs a CUDA device"):
        tiny_agent(fused_optimizer="on").phases(agent_training())


def test_a_resumed_optimizer_steps_with_this_runs_kernel_not_the_checkpoints():
    module = torch.nn.Linear(4, 4)
    saved = make_optimizer(module, 1e-3, 0.0, fused=True)  # the CPU has a fused Adam too; runs refuse it
    module(torch.randn(2, 4)).sum().backward()
    saved.step()
    resumed = make_optimizer(module, 1e-3, 0.0, fused=False)
    load_optimizer_state(resumed, saved.state_dict())
    assert not resumed.param_groups[0]["fused"]
    assert torch.equal(resumed.state[module.weight]["exp_avg"], saved.state[module.weight]["exp_avg"])
    resumed.step()  # the plain loop accepts the fused kernel's state


def test_gpu_only_options_are_refused_on_the_cpu():
    for option in ({"token_pass": "cuda-graphs"}, {"bf16": True}, {"tf32": True}, {"fused_optimizer": "on"}):
        agent = tiny_agent(**option)
        with pytest.raises(IrisError, match="needs a CUDA device"):
            agent.imagination()
        with pytest.raises(IrisError, match="needs a CUDA device"):
            agent.phases(agent_training())


def test_a_backbone_without_a_fixed_shape_pass_keeps_the_eager_one():
    class Backbone(torch.nn.Module):  # the interface of a language-model backbone, without forward_at
        embed_dim, max_tokens = 8, 34

    config = TransformerConfig(tokens_per_block=17, max_blocks=2)
    world_model = WorldModel(4, 3, config, backbone=Backbone())
    agent = tiny_agent()
    assert not world_model.has_fixed_shape_pass and agent.world_model.has_fixed_shape_pass
    with pytest.raises(IrisError, match="token_pass=fixed needs IRIS's own transformer"):
        IRISImagination(agent.tokenizer, world_model, token_pass="fixed")


def test_channels_last_lays_out_the_conv_nets_and_decodes_the_same_frames():
    plain, channels_last = tiny_agent(), tiny_agent(channels_last=True)
    channels_last.load_state_dict(plain.state_dict())
    weight = channels_last.tokenizer.decoder.conv_in.weight
    assert weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()
    tokens = torch.randint(0, 32, (2, 16))
    torch.testing.assert_close(channels_last.tokenizer.decode_tokens(tokens), plain.tokenizer.decode_tokens(tokens),
                               rtol=1e-4, atol=1e-5)


@needs_cuda
@pytest.mark.parametrize("token_pass", ["compiled", "cuda-graphs"])
def test_cuda_token_passes_imagine_the_same_rollouts_as_the_eager_one(token_pass):
    agent = tiny_agent("cuda", token_pass=token_pass)
    eager = rollout(agent, IRISImagination(agent.tokenizer, agent.world_model), seed=7)
    env = agent.imagination()
    assert torch.equal(rollout(agent, env, seed=7), eager)
    assert torch.equal(rollout(agent, env, seed=7), eager)  # replayed graphs, the same random stream


@needs_cuda
def test_bf16_and_tf32_train_and_imagine_on_cuda():
    agent = tiny_agent("cuda", bf16=True, tf32=True, compile_training=True, token_pass="cuda-graphs")
    training = agent_training(cache_tokens=True)
    phases = {p.name: p for p in agent.phases(training)}
    assert torch.backends.cuda.matmul.allow_tf32
    agent.start_epoch(training, epoch=1)  # the frame cache, looked up outside the compiled loss
    batch = short_episodes(seed=0).sample_batch(2, 4, np.random.default_rng(0), phases["world_model"].sampler)
    loss = phases["world_model"].loss(batch.to("cuda"))
    assert loss.total.dtype == torch.float32 and torch.isfinite(loss.total)
    env = agent.imagination()
    frames = rollout(agent, env, seed=0)
    assert frames.shape == (2, 6, 18) and all(t.dtype == torch.bfloat16 for t in env.kv_cache.tensors)


@needs_cuda
def test_fused_optimizer_is_on_by_default_on_cuda_and_can_be_switched_off():
    for option, fused in (("auto", True), ("on", True), ("off", False)):
        phase = tiny_agent("cuda", fused_optimizer=option).phases(agent_training())[1]
        optimizer = make_optimizer(phase.module, 1e-4, 0.01, phase.fused_optimizer)
        assert bool(optimizer.param_groups[0]["fused"]) == fused


def test_resume_may_change_how_the_networks_run_but_not_what_they_are():
    from omegaconf import OmegaConf

    from iris_wm.training.run_config import check_resume_overrides

    stored = OmegaConf.create({"agent": {"speed": {"token_pass": "eager"}, "world_model": {"num_layers": 2}}})
    faster = OmegaConf.merge(stored, {"agent": {"speed": {"token_pass": "compiled"}}})
    assert check_resume_overrides(stored, faster, ["agent.speed.token_pass=compiled"]) == ["agent.speed.token_pass"]
    deeper = OmegaConf.merge(stored, {"agent": {"world_model": {"num_layers": 3}}})
    with pytest.raises(IrisError, match="would change what the run is"):
        check_resume_overrides(stored, deeper, ["agent.world_model.num_layers=3"])
