"""The per-epoch cache of the frozen tokenizer's tokens of transitions: the tokenizer's own numbers,
each transition computed once, padding and autocast kept apart."""

import numpy as np
import torch

from iris_wm.agents.delta_iris.transition_cache import TransitionTokens
from iris_wm.data.dataset import EpisodeDataset
from iris_wm.data.episode import Episode
from iris_wm.data.sampling import PrioritizedSegments
from tests.agents.delta_iris.tiny import NUM_ACTIONS


def dataset_of(lengths: tuple[int, ...]) -> EpisodeDataset:
    rng = np.random.default_rng(0)
    dataset = EpisodeDataset(None, "train")
    for length in lengths:
        dataset.add_episode(Episode(observations=rng.integers(0, 256, (length, 3, 64, 64), dtype=np.uint8),
                                    actions=rng.integers(NUM_ACTIONS, size=length),
                                    rewards=np.zeros(length, np.float32), ends=np.zeros(length, np.int64)))
    return dataset


def test_cached_tokens_are_the_tokenizers_and_each_transition_is_encoded_once(agent):
    dataset, rng = dataset_of((4, 7)), np.random.default_rng(1)
    sampler = PrioritizedSegments(alpha=1.0, can_sample_beyond_end=True)  # padding on both sides
    cache = TransitionTokens(agent.tokenizer)
    encoded = []
    original_encode = agent.tokenizer.encode

    def counting_encode(x1, a, x2):
        encoded.append(x1.shape[0])
        return original_encode(x1, a, x2)

    agent.tokenizer.encode = counting_encode
    try:
        for _ in range(3):
            batch = dataset.sample_batch(4, 5, rng, sampler).to("cpu")
            obs = batch.observations
            with torch.no_grad():
                expected = original_encode(obs[:, :-1], batch.actions[:, :-1], obs[:, 1:]).tokens
            assert torch.equal(cache.tokens(batch), expected)
    finally:
        del agent.tokenizer.encode
    # 11 stored transitions and a few involving padding exist: far fewer than the 3 x 16 looked up
    assert sum(encoded) == len(cache.table) < 3 * 4 * 4


def test_the_world_model_loss_is_the_same_with_cached_tokens(agent):
    batch = dataset_of((6, 9)).sample_batch(3, 6, np.random.default_rng(2),
                                            PrioritizedSegments(1.0, True)).to("cpu")
    cached = TransitionTokens(agent.tokenizer).tokens(batch)
    with torch.no_grad():
        fresh = agent.world_model.compute_loss(batch, agent.encode_transitions(batch))
        reused = agent.world_model.compute_loss(batch, cached)
    assert fresh.terms.keys() == reused.terms.keys()
    assert all(torch.equal(fresh.terms[k], reused.terms[k]) for k in fresh.terms)


def test_tokens_under_autocast_are_kept_apart(agent):
    batch = dataset_of((5,)).sample_batch(2, 4, np.random.default_rng(3), PrioritizedSegments(1.0, True))
    cache = TransitionTokens(agent.tokenizer)
    plain = cache.keys(batch)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = cache.keys(batch)
    assert not set(plain) & set(under_autocast)
