"""add_video: animated GIFs (no moviepy) read back through TensorBoard and decoded by Pillow."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tblog
from tblog.summary import image as image_summary

RNG = np.random.default_rng(11)


def _frames(data: bytes) -> tuple[np.ndarray, list[int], Any]:
    """(RGB frames (T, H, W, 3), per-frame durations in ms, the Pillow image) of a GIF."""
    image_module = pytest.importorskip("PIL.Image")
    sequence = pytest.importorskip("PIL.ImageSequence")
    image = image_module.open(io.BytesIO(data))
    frames, durations = [], []
    for frame in sequence.Iterator(image):
        frames.append(np.asarray(frame.convert("RGB")))
        durations.append(frame.info["duration"])
    return np.stack(frames), durations, image


def _palette_video(n: int, t: int, c: int, h: int, w: int, colours: int = 50) -> np.ndarray:
    """A uint8 (N, T, C, H, W) video with few distinct colours, so the GIF palette is exact."""
    palette = RNG.integers(0, 256, (colours, c), dtype=np.uint8)
    return palette[RNG.integers(0, colours, (n, t, h, w))].transpose(0, 1, 4, 2, 3)


def _torch_layout(video: np.ndarray) -> np.ndarray:
    """torch's video grid, written out: N padded to a power of 2, 2**((N.bit_length()-1)//2) rows."""
    n, t, c, h, w = video.shape
    padded = 1
    while padded < n:
        padded *= 2
    rows = 2 ** ((n.bit_length() - 1) // 2)
    columns = padded // rows
    out = np.zeros((t, rows * h, columns * w, c), video.dtype)
    for index in range(n):
        r, col = divmod(index, columns)
        out[:, r * h : (r + 1) * h, col * w : (col + 1) * w] = video[index].transpose(0, 2, 3, 1)
    return out


def test_add_video_round_trips_as_a_gif(tmp_path: Path, event_accumulator: Any) -> None:
    """A (1, T, 3, H, W) uint8 video with few colours comes back as T exact GIF frames at 1/fps each."""
    video = _palette_video(1, 6, 3, 14, 18)
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_video("clips/one", video, 9, fps=5, walltime=1.5e9)
    (event,) = event_accumulator(tmp_path).Images("clips/one")
    assert (event.step, event.wall_time, event.width, event.height) == (9, 1.5e9, 18, 14)
    frames, durations, image = _frames(event.encoded_image_string)
    assert (image.format, image.n_frames, image.info["loop"]) == ("GIF", 6, 0)
    assert durations == [200] * 6
    np.testing.assert_array_equal(frames, video[0].transpose(0, 2, 3, 1))


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 8, 9, 16])
def test_add_video_grid_layout(tmp_path: Path, event_accumulator: Any, count: int) -> None:
    """N clips play side by side in torch's grid (padded to a power of 2), blank cells black."""
    video = _palette_video(count, 3, 3, 4, 5, colours=30)
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_video("grid", video)
    (event,) = event_accumulator(tmp_path).Images("grid")
    expected = _torch_layout(video)
    assert (event.height, event.width) == expected.shape[1:3]
    frames, durations, _ = _frames(event.encoded_image_string)
    assert durations == [250] * 3  # fps=4 by default
    np.testing.assert_array_equal(frames, expected)


def test_gray_and_rgba_and_float_videos(tmp_path: Path, event_accumulator: Any) -> None:
    """Gray frames are exact (256-gray palette); RGBA drops alpha; floats scale like torch."""
    gray = RNG.integers(0, 256, (2, 4, 1, 6, 7), dtype=np.uint8)
    rgba = np.concatenate([_palette_video(1, 2, 3, 5, 5), np.full((1, 2, 1, 5, 5), 9, np.uint8)], axis=2)
    floats = np.linspace(-0.2, 1.2, 2 * 4 * 4).reshape(1, 2, 1, 4, 4)
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_video("gray", gray, 1, fps=50)
        writer.add_video("rgba", rgba, 2)
        writer.add_video("float", floats, 3)
    acc = event_accumulator(tmp_path)
    frames, durations, _ = _frames(acc.Images("gray")[0].encoded_image_string)
    assert durations == [20] * 4
    np.testing.assert_array_equal(frames, np.repeat(_torch_layout(gray), 3, axis=-1))
    frames, _, _ = _frames(acc.Images("rgba")[0].encoded_image_string)
    np.testing.assert_array_equal(frames, rgba[0, :, :3].transpose(0, 2, 3, 1))
    frames, _, _ = _frames(acc.Images("float")[0].encoded_image_string)
    scaled = (floats.astype(np.float32) * 255).clip(0, 255).astype(np.uint8)
    np.testing.assert_array_equal(frames[..., 0], scaled[0, :, 0])


def test_many_colours_are_close(tmp_path: Path, event_accumulator: Any) -> None:
    """A smooth video with thousands of colours is quantised to 256 with a small mean error."""
    y, x = np.mgrid[0:32, 0:32]
    video = np.stack([np.stack([x * 8 + t, y * 8, (x + y) * 4 - t]) for t in range(5)])[None]
    video = np.clip(video, 0, 255).astype(np.uint8)
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_video("smooth", video)
    frames, _, _ = _frames(event_accumulator(tmp_path).Images("smooth")[0].encoded_image_string)
    assert np.abs(frames.astype(int) - video[0].transpose(0, 2, 3, 1)).mean() < 4


@pytest.mark.tensorboard
def test_images_plugin_serves_the_gif(tmp_path: Path) -> None:
    """TensorBoard's images plugin lists the video's tag and serves the GIF with every frame."""
    from test_images import _plugin_images

    video = _palette_video(2, 5, 3, 8, 8)
    with tblog.SummaryWriter(tmp_path / "run") as writer:
        writer.add_video("vid", video, 4)
    ((step, mimetype, data),) = _plugin_images(tmp_path, "run", "vid")
    frames, _, _ = _frames(data)
    assert (step, mimetype) == (4, "image/gif")
    np.testing.assert_array_equal(frames, _torch_layout(video))


GOOD = np.zeros((1, 2, 3, 4, 4), np.uint8)

BAD_VIDEOS = [
    ({"vid_tensor": np.zeros((2, 3, 4, 4))}, ValueError, r"vid_tensor must have shape \(N, T, C, H, W\)"),
    ({"vid_tensor": np.zeros((1, 2, 2, 4, 4))}, ValueError, r"channels; got C=2"),
    ({"vid_tensor": np.zeros((1, 2, 5, 4, 4))}, ValueError, r"channels; got C=5"),
    ({"vid_tensor": np.zeros((1, 0, 3, 4, 4))}, ValueError, r"vid_tensor is empty"),
    ({"vid_tensor": np.full((1, 1, 3, 2, 2), "x")}, TypeError, r"vid_tensor must hold numbers"),
    ({"vid_tensor": np.zeros((1, 1, 3, 2, 70000), np.uint8)}, ValueError, r"larger than GIF's 65535"),
    ({"vid_tensor": None}, TypeError, r"vid_tensor must be an array"),
    ({"fps": 0}, ValueError, r"fps must be a positive, finite number"),
    ({"fps": -2}, ValueError, r"fps must be a positive, finite number"),
    ({"fps": float("nan")}, ValueError, r"fps must be a positive, finite number"),
    ({"fps": float("inf")}, ValueError, r"fps must be a positive, finite number"),
    ({"fps": True}, TypeError, r"fps must be a positive number"),
    ({"fps": "4"}, TypeError, r"fps must be a positive number"),
    ({"tag": None}, TypeError, r"tag must be a str"),
]


@pytest.mark.parametrize("kwargs,error,match", BAD_VIDEOS)
def test_bad_video_input(
    tmp_path: Path, event_accumulator: Any, kwargs: dict[str, Any], error: Any, match: str
) -> None:
    """Bad videos or fps raise a clear error naming the argument; nothing is logged; the writer goes on."""
    kwargs = {"tag": "vid", "vid_tensor": GOOD, **kwargs}
    with tblog.SummaryWriter(tmp_path) as writer:
        with pytest.raises(error, match=match):
            writer.add_video(**kwargs)
        writer.add_video("ok", GOOD, fps=np.float32(2.5))
    acc = event_accumulator(tmp_path)
    assert acc.Tags()["images"] == ["ok"]
    assert _frames(acc.Images("ok")[0].encoded_image_string)[1] == [400, 400]


def test_video_grid_function_matches_the_layout() -> None:
    """tblog.summary.image.video_grid lays clips out as torch's grid does (written out here)."""
    for count in range(1, 12):
        video = RNG.integers(0, 256, (count, 2, 3, 3, 2), dtype=np.uint8)
        np.testing.assert_array_equal(image_summary.video_grid(video), _torch_layout(video))


@pytest.mark.framework
def test_video_layout_parity_with_torch(tmp_path: Path, event_accumulator: Any) -> None:
    """torch's own _prepare_video gives the same frames as tblog for a torch uint8 video."""
    torch = pytest.importorskip("torch")
    from torch.utils.tensorboard._utils import _prepare_video

    for count in (1, 3, 6):
        video = torch.from_numpy(_palette_video(count, 3, 3, 6, 5, colours=20))
        with tblog.SummaryWriter(tmp_path / str(count)) as writer:
            writer.add_video("v", video, 1)
        (event,) = event_accumulator(tmp_path / str(count)).Images("v")
        # torch turns uint8 into float in [0, 1] first; x / 255 * 255 rounds back to x.
        expected = np.rint(_prepare_video(video.numpy()) * 255).astype(np.uint8)
        assert (event.height, event.width) == expected.shape[1:3]
        np.testing.assert_array_equal(_frames(event.encoded_image_string)[0], expected)
