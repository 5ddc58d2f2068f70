import imageio.v3 as iio
import numpy as np
from PIL import Image

from iris_wm.data.episode import Episode
from iris_wm.media import FRAME_GAP, SAMPLE_GAP, EpisodeMediaDir, save_reconstructions, write_episode_video


def blocky_frames(count: int, seed: int = 0) -> np.ndarray:
    # (count, 3, 64, 64) uint8 of flat 8x8 blocks: structure a lossy codec keeps, unlike noise.
    blocks = np.random.default_rng(seed).integers(0, 256, (count, 3, 8, 8), dtype=np.uint8)
    return blocks.repeat(8, axis=2).repeat(8, axis=3)


def test_reconstruction_grid_shows_frames_reconstructions_and_their_difference(tmp_path):
    originals = blocky_frames(2 * 3).reshape(2, 3, 3, 64, 64)
    reconstructions = blocky_frames(2 * 3, seed=1).reshape(2, 3, 3, 64, 64)
    reconstructions[0, 1] = originals[0, 1]  # a perfect reconstruction: its difference is white
    path = tmp_path / "media" / "reconstructions" / "epoch_001.png"
    save_reconstructions(path, originals, reconstructions)

    with Image.open(path) as image:
        grid = np.asarray(image.convert("RGB"))
    sample_height = 3 * 64 + 2 * FRAME_GAP
    assert grid.shape == (2 * sample_height + SAMPLE_GAP, 3 * 64 + 2 * FRAME_GAP, 3)
    for n in range(2):
        for t in range(3):
            y, x = n * (sample_height + SAMPLE_GAP), t * (64 + FRAME_GAP)
            cells = [grid[y + row * (64 + FRAME_GAP):][:64, x : x + 64] for row in range(3)]
            np.testing.assert_array_equal(cells[0], originals[n, t].transpose(1, 2, 0))
            np.testing.assert_array_equal(cells[1], reconstructions[n, t].transpose(1, 2, 0))
            gap = np.abs(originals[n, t].astype(int) - reconstructions[n, t].astype(int)).mean(axis=0)
            np.testing.assert_array_equal(cells[2][..., 0], np.round(255 - gap).astype(np.uint8))
    y, x = 2 * (64 + FRAME_GAP), 64 + FRAME_GAP
    assert (grid[y : y + 64, x : x + 64] == 255).all()  # sample 0, step 1: white
    assert [p.name for p in path.parent.iterdir()] == ["epoch_001.png"]  # no temporary file left


def test_episode_video_round_trip(tmp_path):
    frames = blocky_frames(6)
    path = tmp_path / "episode.mp4"
    write_episode_video(path, frames, np.zeros(6), actions=np.arange(6) % 2, action_names=["noop", "fire"], title="t")

    video = iio.imread(path, plugin="FFMPEG")
    assert video.shape[0] == 6
    assert video.shape[1] % 16 == 0 and video.shape[2] % 16 == 0
    assert video.shape[1] >= 256 and video.shape[2] > 256  # the x4 frame plus the side panel
    assert iio.immeta(path, plugin="FFMPEG")["codec"] == "h264"
    for t in (0, 5):
        expected = frames[t].transpose(1, 2, 0).repeat(4, axis=0).repeat(4, axis=1).astype(float)
        decoded = video[t, :256, :256].astype(float)
        assert np.abs(decoded - expected).mean() < 6
        assert np.corrcoef(decoded.ravel(), expected.ravel())[0, 1] > 0.98


def test_side_panel_shows_the_return(tmp_path):
    frames = np.repeat(blocky_frames(1), 4, axis=0)
    path = tmp_path / "episode.mp4"
    write_episode_video(path, frames, np.array([0.0, 0.0, 12.5, 0.0]))
    video = iio.imread(path, plugin="FFMPEG").astype(int)

    # The return is the fifth text row: rows are 24 px apart from y=8 at scale 4; values from x=256+64.
    def return_row(t):
        return video[t, 8 + 4 * 24 : 8 + 5 * 24, 256 + 64 : 256 + 64 + 120]

    def changed_pixels(a, b):
        return int((np.abs(return_row(a) - return_row(b)).max(axis=-1) > 60).sum())

    assert changed_pixels(1, 2) > 20  # 0.00 -> 12.50
    assert changed_pixels(2, 3) == 0  # 12.50 -> 12.50


def save(directory, episode_id, episode_return):
    episode = Episode(blocky_frames(2), actions=[0, 1], rewards=[0.0, episode_return], ends=[0, 1])
    return directory.save(episode_id, 1, episode, scale=1, action_names=["noop", "fire"])


def names(path, pattern):
    return sorted(p.name for p in path.glob(pattern))


def test_episode_dir_keeps_the_newest_and_the_best(tmp_path):
    media = EpisodeMediaDir(tmp_path, keep=2)
    save(media, 5, -1.0)
    assert names(tmp_path, "best_*") == ["best_episode_000005_epoch_001_return_-1.00.mp4"]
    save(media, 7, 3.0)
    path = save(media, 6, 2.0)
    assert path == tmp_path / "episode_000006_epoch_001.mp4"
    assert names(tmp_path, "episode_*.mp4") == ["episode_000006_epoch_001.mp4", "episode_000007_epoch_001.mp4"]
    assert names(tmp_path, "episode_*.npz") == ["episode_000006_epoch_001.npz", "episode_000007_epoch_001.npz"]
    assert Episode.load(tmp_path / "episode_000007_epoch_001.npz").rewards.sum() == 3.0  # the episode itself
    assert names(tmp_path, "best_*") == ["best_episode_000007_epoch_001_return_3.00.mp4"]

    restarted = EpisodeMediaDir(tmp_path, keep=2)
    assert restarted.best_return == 3.0
    save(restarted, 8, 2.5)
    assert names(tmp_path, "best_*") == ["best_episode_000007_epoch_001_return_3.00.mp4"]
    save(restarted, 9, 4.25)
    assert names(tmp_path, "best_*") == ["best_episode_000009_epoch_001_return_4.25.mp4"]
    assert names(tmp_path, "episode_*.mp4") == ["episode_000008_epoch_001.mp4", "episode_000009_epoch_001.mp4"]
    assert names(tmp_path, "episode_*.npz") == ["episode_000008_epoch_001.npz", "episode_000009_epoch_001.npz"]
    assert len(iio.imread(tmp_path / names(tmp_path, "best_*")[0], plugin="FFMPEG")) == 2


def test_episode_dir_with_keep_zero_writes_nothing(tmp_path):
    media = EpisodeMediaDir(tmp_path / "episodes", keep=0)
    assert save(media, 1, 1.0) is None
    assert not (tmp_path / "episodes").exists()
