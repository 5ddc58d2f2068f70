import errno

import numpy as np
import pytest

from iris_wm.data.episode import Episode
from iris_wm.errors import IrisError


def make_episode(length: int, marker: int = 0, end_at: int | None = None, truncated: bool = False) -> Episode:
    """Tiny 3x8x8 frames; actions marker * 1000 + step, so every step is recognisable."""
    rng = np.random.default_rng(marker)
    ends = np.zeros(length, dtype=np.int64)
    if end_at is not None:
        ends[end_at] = 1
    return Episode(observations=rng.integers(1, 256, (length, 3, 8, 8), dtype=np.uint8),
                   actions=marker * 1000 + np.arange(length), rewards=rng.standard_normal(length),
                   ends=ends, truncated=truncated)


def assert_same(a: Episode, b: Episode) -> None:
    for name in ("observations", "actions", "rewards", "ends"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name
    assert a.truncated == b.truncated


def test_construction_cuts_after_the_first_end_and_sets_dtypes():
    episode = make_episode(6)
    episode = Episode(episode.observations, episode.actions, episode.rewards, ends=[0, 0, 1, 0, 1, 0])
    assert len(episode) == 3 and episode.finished
    assert episode.ends.tolist() == [0, 0, 1] and episode.actions.tolist() == [0, 1, 2]
    assert (episode.actions.dtype, episode.rewards.dtype, episode.ends.dtype) == (np.int64, np.float32, np.int64)


def test_construction_rejects_malformed_arrays():
    good = make_episode(4)
    with pytest.raises(ValueError, match="uint8"):
        Episode(good.observations.astype(np.float32), good.actions, good.rewards, good.ends)
    with pytest.raises(ValueError, match="rewards must have shape"):
        Episode(good.observations, good.actions, good.rewards[:3], good.ends)
    with pytest.raises(ValueError, match="0 or 1"):
        Episode(good.observations, good.actions, good.rewards, [0, 2, 0, 0])


def test_finished_and_metrics():
    assert not make_episode(4).finished
    assert make_episode(4, end_at=3).finished and make_episode(4, truncated=True).finished
    episode = make_episode(4)
    metrics = episode.metrics()
    assert metrics["episode_length"] == 4
    assert metrics["episode_return"] == pytest.approx(float(episode.rewards.sum()), rel=1e-6)


def test_segment_pads_right_left_and_both_with_zeros_and_a_false_mask():
    episode = make_episode(5, marker=1)
    right = episode.segment(3, 8)
    assert right.mask_padding.tolist() == [True, True, False, False, False]
    assert np.array_equal(right.observations[:2], episode.observations[3:5])
    assert right.actions.tolist() == [1003, 1004, 0, 0, 0]
    assert not right.observations[2:].any() and not right.rewards[2:].any() and not right.ends[2:].any()

    left = episode.segment(-2, 3)
    assert left.mask_padding.tolist() == [False, False, True, True, True]
    assert left.actions.tolist() == [0, 0, 1000, 1001, 1002]
    assert np.array_equal(left.rewards[2:], episode.rewards[:3]) and not left.observations[:2].any()

    both = episode.segment(-1, 7)
    assert both.mask_padding.tolist() == [False] + [True] * 5 + [False] * 2
    assert np.array_equal(both.observations[1:6], episode.observations)

    inside = episode.segment(1, 4, should_pad=False)
    assert inside.mask_padding.all() and inside.actions.tolist() == [1001, 1002, 1003]
    with pytest.raises(ValueError, match="leaves the episode"):
        episode.segment(3, 8, should_pad=False)


def test_merge_concatenates_and_takes_the_chunks_end():
    first, second = make_episode(3, marker=1), make_episode(2, marker=2, end_at=1, truncated=True)
    merged = first.merge(second)
    assert len(merged) == 5 and merged.actions.tolist() == [1000, 1001, 1002, 2000, 2001]
    assert np.array_equal(merged.observations[3:], second.observations)
    assert merged.ends.tolist() == [0, 0, 0, 0, 1] and merged.truncated and merged.finished
    with pytest.raises(ValueError, match="already ended"):
        merged.merge(first)


@pytest.mark.parametrize("truncated", [False, True])
def test_save_load_round_trip_is_bit_exact(tmp_path, truncated):
    episode = make_episode(7, marker=3, end_at=6, truncated=truncated)
    path = tmp_path / "episode_000003.npz"
    episode.save(path)
    assert_same(Episode.load(path), episode)
    # A plain npz of plain arrays: readable without pickle by any NumPy.
    with np.load(path, allow_pickle=False) as f:
        assert set(f.files) == {"format_version", "observations", "actions", "rewards", "ends", "truncated"}
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_a_failed_write_leaves_the_previous_file_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "episode_000000.npz"
    old = make_episode(4, marker=1)
    old.save(path)

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", disk_full)
    with pytest.raises(IrisError, match="No space left"):
        make_episode(9, marker=2).save(path)
    assert_same(Episode.load(path), old)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_a_truncated_or_foreign_file_is_reported_by_name(tmp_path):
    path = tmp_path / "episode_000001.npz"
    make_episode(20, marker=1).save(path)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(IrisError, match=r"episode_000001\.npz is corrupt.*delete it"):
        Episode.load(path)
    path.write_bytes(b"not a zip file at all")
    with pytest.raises(IrisError, match=r"episode_000001\.npz is corrupt"):
        Episode.load(path)
    np.savez(path, observations=np.zeros((1, 3, 8, 8), np.uint8))  # no version, no actions...
    with pytest.raises(IrisError, match=r"episode_000001\.npz is corrupt"):
        Episode.load(path)
    with pytest.raises(IrisError, match="does not exist"):
        Episode.load(tmp_path / "missing.npz")
