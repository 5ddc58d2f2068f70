"""The per-epoch caches of the frozen tokenizer: each frame computed once, the same numbers as
computing every time, and the world-model and actor-critic losses unchanged by them."""

import numpy as np
import pytest
import torch

from iris_wm import create_model
from iris_wm.agents.iris.actor_critic import ActorCriticLossConfig
from iris_wm.agents.iris.frame_cache import FrameCache
from iris_wm.agents.iris.imagination import IRISImagination
from iris_wm.data.dataset import EpisodeDataset
from iris_wm.data.episode import Episode
from iris_wm.data.frame_table import FrameTable
from iris_wm.data.sampling import UniformSegments
from tests.factories import tiny_iris_config


def test_table_computes_each_frame_once_and_returns_rows_in_order():
    table, calls = FrameTable(max_rows=100), []
    frames = torch.arange(6.0).view(6, 1) * 10

    def compute(x):
        calls.append(x.squeeze(1).tolist())
        return x + 1

    assert table.lookup([5, 7, 5, -1], frames[:4], compute).squeeze(1).tolist() == [1, 11, 1, 31]
    assert table.lookup([7, 9, -1], frames[3:], compute).squeeze(1).tolist() == [11, 41, 31]
    assert calls == [[0, 10, 30], [40]]  # repeats within and across batches are not recomputed
    assert len(table) == 4


def test_a_full_table_computes_new_frames_without_keeping_them():
    table = FrameTable(max_rows=2)
    frames = torch.arange(4.0).view(4, 1)
    table.lookup([0, 1], frames[:2], lambda x: -x)
    assert table.lookup([2, 0, 3, 2], frames, lambda x: x * 100).squeeze(1).tolist() == [0, 0, 200, 0]
    assert len(table) == 2 and table.storage.shape[0] == 2


@pytest.fixture(scope="module")
def agent():
    torch.manual_seed(0)
    return create_model("iris", num_actions=3, device="cpu", config=tiny_iris_config()).eval()


@pytest.fixture(scope="module")
def dataset():
    rng = np.random.default_rng(0)
    data = EpisodeDataset(None, "train")
    for length in (7, 12, 4):
        # Smooth frames (a gradient plus noise), so that the tiny tokenizer sees structure.
        base = np.linspace(0, 200, 64, dtype=np.float32)[None, None, :, None] + rng.integers(0, 50, (length, 3, 64, 64))
        data.add_episode(Episode(observations=base.astype(np.uint8), actions=rng.integers(0, 3, length),
                                 rewards=rng.choice([-1.0, 0.0, 1.0], length), ends=np.zeros(length, np.int64)))
    return data


def test_cached_tokens_and_reconstructions_equal_the_tokenizer(agent, dataset):
    cache = FrameCache(agent.tokenizer, max_reconstruction_bytes=2**30)
    rng = np.random.default_rng(1)
    for _ in range(3):
        batch = dataset.sample_batch(6, 5, rng, UniformSegments(sample_from_start=False)).to("cpu")
        tokens = cache.tokens(batch)
        expected = agent.tokenizer.encode(batch.observations, should_preprocess=True).tokens
        assert torch.equal(tokens, expected)
        reconstructions = cache.reconstructions(batch, tokens)
        torch.testing.assert_close(reconstructions, agent.tokenizer.encode_decode(
            batch.observations, should_preprocess=True, should_postprocess=True).clamp(0, 1), rtol=0, atol=1e-5)
    # 23 stored frames and one padding frame at most; 90 were looked up
    assert len(cache.tokens_table) <= 24 and len(cache.reconstructions_table) == len(cache.tokens_table)


def test_losses_are_the_same_with_and_without_the_cache(agent, dataset):
    cache = FrameCache(agent.tokenizer, max_reconstruction_bytes=2**30)
    world_model_batch = dataset.sample_batch(4, 4, np.random.default_rng(2)).to("cpu")
    uncached = agent.world_model.compute_loss(world_model_batch, agent.encode_frames(world_model_batch))
    cached = agent.world_model.compute_loss(world_model_batch, cache.tokens(world_model_batch))
    torch.testing.assert_close(cached.total, uncached.total, rtol=0, atol=1e-6)

    loss_config = ActorCriticLossConfig(imagine_horizon=4, burn_in=3)
    batch = dataset.sample_batch(5, 4, np.random.default_rng(3), UniformSegments(sample_from_start=False)).to("cpu")
    env = IRISImagination(agent.tokenizer, agent.world_model)
    torch.manual_seed(4)
    fresh_tokens = agent.encode_frames(batch)
    uncached = agent.actor_critic.compute_loss(batch, env, loss_config, fresh_tokens, agent.decode_frames(fresh_tokens))
    tokens = cache.tokens(batch)
    reconstructions = cache.reconstructions(batch, tokens)
    torch.manual_seed(4)
    cached = agent.actor_critic.compute_loss(batch, env, loss_config, tokens, reconstructions)
    for name, value in uncached.terms.items():
        torch.testing.assert_close(cached.terms[name], value, rtol=0, atol=1e-5)


@pytest.mark.parametrize("cache_tokens", [True, False])
def test_the_trainer_encodes_each_frame_once_per_epoch_with_the_cache(cache_tokens, dataset, tmp_path):
    pytest.importorskip("ale_py")
    from iris_wm.training.compose import compose_config
    from iris_wm.training.trainer import Trainer
    from tests.factories import tiny_train_overrides

    overrides = tiny_train_overrides(tmp_path, epochs=1, **{"training.cache_tokens": str(cache_tokens).lower()})
    config = compose_config([o for o in overrides if not o.startswith("hydra.")])
    t = config.training
    for component in (t.tokenizer, t.world_model, t.actor_critic):
        component.start_after_epochs = 0
    trainer = Trainer(config, tmp_path)
    trainer.train_dataset = dataset  # 23 frames
    encoded = []
    trainer.agent.tokenizer.encoder.register_forward_hook(lambda module, args, out: encoded.append(len(args[0])))
    trainer.train_agent(epoch=1)
    tokenizer_frames = t.tokenizer.steps_per_epoch * t.tokenizer.batch_num_samples
    burn_in, max_blocks = config.agent.actor_critic_loss.burn_in, config.agent.world_model.max_blocks
    sampled = (t.world_model.steps_per_epoch * t.world_model.batch_num_samples * max_blocks
               + t.actor_critic.steps_per_epoch * t.actor_critic.batch_num_samples * (1 + burn_in))
    if cache_tokens:  # the stored frames and one padding frame at most
        assert tokenizer_frames < sum(encoded) <= tokenizer_frames + dataset.num_steps + 1 < tokenizer_frames + sampled
    else:
        assert sum(encoded) == tokenizer_frames + sampled
