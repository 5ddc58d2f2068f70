import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from iris_wm.data import dataset as dataset_module
from iris_wm.data.dataset import EpisodeDataset, parse_ram_limit
from iris_wm.data.episode import Episode
from iris_wm.data.sampling import UniformSegments
from iris_wm.errors import IrisError
from tests.data.test_episode import assert_same, make_episode

REPO = Path(__file__).resolve().parents[2]


def files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_ids_count_up_and_steps_are_tracked():
    data = EpisodeDataset(None, "test")
    assert [data.add_episode(make_episode(n, marker=n)) for n in (3, 4, 5)] == [0, 1, 2]
    assert data.episode_ids == [0, 1, 2] and data.num_episodes == 3 and data.num_steps == 12
    assert data.get_episode(1).actions.tolist() == [4000, 4001, 4002, 4003]
    data.update_episode(1, make_episode(2, marker=9))
    assert len(data.get_episode(1)) == 6 and data.num_steps == 14
    with pytest.raises(KeyError, match="episode 7"):
        data.get_episode(7)


def test_fifo_eviction_deletes_files_on_save_and_saving_is_incremental(tmp_path):
    data = EpisodeDataset(tmp_path, "train", max_num_episodes=2)
    data.add_episode(make_episode(3, marker=0))
    data.add_episode(make_episode(3, marker=1))
    data.save_modified()
    assert files(tmp_path) == ["episode_000000.npz", "episode_000001.npz"]
    stamps = {name: os.stat(tmp_path / name).st_mtime_ns for name in files(tmp_path)}
    data.save_modified()  # nothing changed: nothing rewritten
    assert stamps == {name: os.stat(tmp_path / name).st_mtime_ns for name in files(tmp_path)}

    assert data.add_episode(make_episode(3, marker=2)) == 2
    assert data.episode_ids == [1, 2] and data.num_steps == 6
    assert files(tmp_path) == ["episode_000000.npz", "episode_000001.npz"]  # only save_modified writes
    data.save_modified()
    assert files(tmp_path) == ["episode_000001.npz", "episode_000002.npz"]
    assert stamps["episode_000001.npz"] == os.stat(tmp_path / "episode_000001.npz").st_mtime_ns


def test_load_restores_episodes_ids_and_the_counter(tmp_path):
    data = EpisodeDataset(tmp_path, "train")
    for marker in range(4):
        data.add_episode(make_episode(3 + marker, marker=marker, end_at=2 + marker, truncated=marker == 1))
    in_progress = data.add_episode(make_episode(2, marker=8))
    data.save_modified()
    data.update_episode(in_progress, make_episode(3, marker=9))  # extended after the last save...
    data.save_modified()  # ...and saved again at the next checkpoint
    (tmp_path / ".episode_000009.npz.k2j4.tmp").write_bytes(b"torn leftover of a killed write")

    loaded = EpisodeDataset.load(tmp_path, "train")
    assert loaded.episode_ids == [0, 1, 2, 3, 4] and loaded.num_seen_episodes == 5
    assert loaded.num_steps == data.num_steps
    for episode_id in data.episode_ids:
        assert_same(loaded.get_episode(episode_id), data.get_episode(episode_id))
    assert not loaded.get_episode(4).finished
    assert loaded.add_episode(make_episode(2)) == 5


def test_load_drops_the_extra_episode_left_by_a_kill_before_deletion(tmp_path):
    data = EpisodeDataset(tmp_path, "train")
    for marker in range(3):
        data.add_episode(make_episode(2, marker=marker))
    data.save_modified()
    loaded = EpisodeDataset.load(tmp_path, "train", max_num_episodes=2)
    assert loaded.episode_ids == [1, 2]
    loaded.save_modified()
    assert files(tmp_path) == ["episode_000001.npz", "episode_000002.npz"]


def test_load_and_construction_errors_name_the_folder_or_file(tmp_path):
    data = EpisodeDataset(tmp_path, "train")
    data.add_episode(make_episode(2))
    data.add_episode(make_episode(2))
    data.save_modified()
    with pytest.raises(IrisError, match="already holds episodes"):
        EpisodeDataset(tmp_path, "train")
    bad = tmp_path / "episode_000001.npz"
    bad.write_bytes(bad.read_bytes()[:50])
    with pytest.raises(IrisError, match=r"episode_000001\.npz is corrupt.*delete it"):
        EpisodeDataset.load(tmp_path, "train")
    with pytest.raises(IrisError, match="does not exist"):
        EpisodeDataset.load(tmp_path / "nowhere", "train")
    with pytest.raises(IrisError, match="max_num_episodes"):
        EpisodeDataset(None, "train", max_num_episodes=0)


def test_clear_keeps_the_id_counter_and_deletes_files_on_save(tmp_path):
    data = EpisodeDataset(tmp_path, "test")
    data.add_episode(make_episode(2))
    data.add_episode(make_episode(2))
    data.save_modified()
    data.clear()
    assert data.num_episodes == 0 and data.num_steps == 0 and data.num_seen_episodes == 2
    assert data.add_episode(make_episode(2)) == 2
    data.save_modified()
    assert files(tmp_path) == ["episode_000002.npz"]


@pytest.mark.parametrize(("text", "expected"), [("30G", (30.0, "G")), ("0.5G", (0.5, "G")), ("80%", (80.0, "%"))])
def test_ram_limit_strings(text, expected):
    assert parse_ram_limit(text) == expected


@pytest.mark.parametrize("text", ["80", "0%", "100%", "30GB", "G", "-3G", "lots"])
def test_bad_ram_limit_strings_are_user_errors(text):
    with pytest.raises(IrisError, match="max_ram_usage"):
        EpisodeDataset(None, "train", max_ram_usage=text)


def test_the_memory_probe_reads_real_numbers():
    assert 0 < dataset_module.ram_usage("G") < 1024 and 0 < dataset_module.ram_usage("%") < 100


def test_ram_bound_fixes_a_step_cap_on_first_trip_then_evicts_oldest(monkeypatch):
    usage = {"G": 0.5}
    monkeypatch.setattr(dataset_module, "ram_usage", lambda unit: usage[unit])
    data = EpisodeDataset(None, "train", max_ram_usage="1G")
    for marker in range(3):
        data.add_episode(make_episode(10, marker=marker))
    assert data.step_cap is None and data.num_steps == 30

    usage["G"] = 2.0  # the check trips: 30 steps becomes the cap, the new episode must fit in it
    data.add_episode(make_episode(10, marker=3))
    assert data.step_cap == 30 and data.episode_ids == [1, 2, 3] and data.num_steps == 30

    usage["G"] = 0.1  # the cap is permanent even when memory is free again
    data.add_episode(make_episode(20, marker=4))
    assert data.step_cap == 30 and data.episode_ids == [3, 4] and data.num_steps == 30


def two_episode_dataset(short: int = 2, long: int = 100) -> EpisodeDataset:
    data = EpisodeDataset(None, "train")
    data.add_episode(make_episode(short, marker=1))
    data.add_episode(make_episode(long, marker=2))
    return data


@pytest.mark.parametrize(("weighting", "share_of_short"), [("episode", 0.5), ("step", 2 / 102)])
def test_episode_weighting_draws_episodes_uniformly_and_step_weighting_by_length(weighting, share_of_short):
    batch = two_episode_dataset().sample_batch(4000, 1, np.random.default_rng(0), UniformSegments(weighting=weighting))
    assert batch.mask_padding.all()
    short = (batch.actions[:, 0] // 1000 == 1).float().mean().item()
    assert short == pytest.approx(share_of_short, abs=0.03 if weighting == "episode" else 0.01)
    # starts are uniform over the long episode's steps
    starts = batch.actions[batch.actions[:, 0] >= 2000, 0] - 2000
    assert set(starts.tolist()) == set(range(100)) and starts.float().mean().item() == pytest.approx(49.5, abs=5)


@pytest.mark.parametrize("sample_from_start", [True, False])
def test_segments_are_consecutive_steps_padded_on_one_side(sample_from_start):
    batch = two_episode_dataset(short=3, long=6).sample_batch(500, 5, np.random.default_rng(1),
                                                              UniformSegments(sample_from_start))
    assert batch.observations.shape == (500, 5, 3, 8, 8) and batch.observations.dtype == torch.uint8
    assert (batch.actions.dtype, batch.rewards.dtype, batch.ends.dtype) == (torch.int64, torch.float32, torch.int64)
    mask = batch.mask_padding
    if sample_from_start:  # right padding: a real first step, then real steps until the padding
        assert mask[:, 0].all() and (mask[:, :-1] >= mask[:, 1:]).all()
    else:  # left padding: the last step is always real
        assert mask[:, -1].all() and (mask[:, :-1] <= mask[:, 1:]).all()
    assert (~mask).any(), "with episodes this short some segments must be padded"
    for actions, real in zip(batch.actions, mask, strict=True):
        steps = actions[real]
        assert (steps.diff() == 1).all() and len(set((steps // 1000).tolist())) == 1
        assert not actions[~real].any()
    assert not batch.observations[~mask].any()


def test_the_same_seed_gives_the_same_batch():
    data = two_episode_dataset(short=5, long=30)
    a, b, c = (data.sample_batch(16, 4, np.random.default_rng(seed)) for seed in (7, 7, 8))
    for name in ("observations", "actions", "rewards", "ends", "mask_padding"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert not torch.equal(a.actions, c.actions)


def test_unknown_weighting_is_a_user_error():
    with pytest.raises(IrisError, match="weighting"):
        two_episode_dataset().sample_batch(2, 3, np.random.default_rng(0), UniformSegments(weighting="recent"))


def test_traverse_covers_every_step_once_without_mixing_episodes():
    data = EpisodeDataset(None, "test")
    for marker, length in enumerate((1, 7, 10), start=1):
        data.add_episode(make_episode(length, marker=marker))
    batches = list(data.traverse(batch_size=2, chunk_size=3))
    assert [b.batch_size for b in batches] == [1, 2, 1, 2, 2]  # 1, 3 and 4 chunks of 3 steps
    seen = []
    for batch in batches:
        assert batch.sequence_length == 3
        real = batch.actions[batch.mask_padding]
        assert len(set((real // 1000).tolist())) == 1
        assert (batch.mask_padding[:, :-1] >= batch.mask_padding[:, 1:]).all()  # right padding only
        assert not batch.observations[~batch.mask_padding].any()
        seen += real.tolist()
    assert seen == [1000] + [2000 + t for t in range(7)] + [3000 + t for t in range(10)]


CHILD = """
import sys
import numpy as np
from iris_wm.data.dataset import EpisodeDataset
from iris_wm.data.episode import Episode
data = EpisodeDataset(sys.argv[1], "train")
rng = np.random.default_rng(0)
while True:
    length = int(rng.integers(20, 60))
    ends = np.zeros(length, np.int64)
    ends[-1] = 1
    frames = rng.integers(0, 256, (length, 3, 64, 64), dtype=np.uint8)
    episode_id = data.add_episode(Episode(frames, np.zeros(length), np.zeros(length), ends))
    data.save_modified()
    print(episode_id, length, flush=True)
"""


def test_a_kill_9_while_saving_loses_no_saved_episode_and_leaves_no_corrupt_file(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(CHILD), str(tmp_path)], cwd=REPO,
                             stdout=subprocess.PIPE, text=True)
    saved = {}
    try:
        for line in child.stdout:
            episode_id, length = map(int, line.split())
            saved[episode_id] = length
            if len(saved) == 40:
                break
    finally:
        os.kill(child.pid, signal.SIGKILL)  # mid-way through writing the next episodes
        child.wait()
    loaded = EpisodeDataset.load(tmp_path, "train")
    assert set(saved) <= set(loaded.episode_ids)
    assert all(len(loaded.get_episode(i)) == saved[i] and loaded.get_episode(i).finished for i in saved)
    assert isinstance(loaded.get_episode(0), Episode)


@pytest.mark.parametrize("from_start", [True, False])
def test_sampled_frame_ids_name_the_stored_frames(from_start):
    data = EpisodeDataset(None, "test")
    for n, length in enumerate((3, 9, 5)):
        data.add_episode(make_episode(length, marker=n + 1))
    batch = data.sample_batch(16, 6, np.random.default_rng(0), UniformSegments(sample_from_start=from_start))
    ids = batch.frame_ids
    assert ids.shape == (16, 6) and ids.dtype == torch.int64
    assert torch.equal(ids == -1, ~batch.mask_padding)
    for (b, t), frame_id in zip(batch.mask_padding.nonzero().tolist(), ids[batch.mask_padding].tolist(), strict=True):
        episode = data.get_episode(frame_id >> 32)
        step = frame_id & 0xFFFFFFFF
        assert batch.actions[b, t] == episode.actions[step]
        assert np.array_equal(batch.observations[b, t].numpy(), episode.observations[step])
    assert batch.to("cpu").frame_ids is ids  # stays on the host through .to
