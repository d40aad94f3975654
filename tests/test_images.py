"""add_image, add_images, add_image_with_boxes, add_figure: PNGs read back through TensorBoard."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import tensorboard_plugin

import tblog
from tblog.summary import image as image_summary

RNG = np.random.default_rng(7)


def _pil() -> Any:
    return pytest.importorskip("PIL.Image")


def _decode(data: bytes) -> np.ndarray:
    """Pixels (H, W, C) of a PNG, decoded by Pillow."""
    array = np.asarray(_pil().open(io.BytesIO(data)))
    return array[:, :, None] if array.ndim == 2 else array


def _logged(event_accumulator: Any, logdir: Path, tag: str) -> list[Any]:
    return list(event_accumulator(logdir).Images(tag))


def _torch_float(array: np.ndarray) -> np.ndarray:
    """torch's rule for non-uint8 pixels: float32 times 255, clipped, truncated."""
    return (array.astype(np.float32) * 255).clip(0, 255).astype(np.uint8)


def _chw_to(array: np.ndarray, dataformats: str) -> np.ndarray:
    """``array`` (C, H, W) laid out as ``dataformats`` (2-letter formats drop C)."""
    letters = dataformats.upper()
    if len(letters) == 2:
        array = array[0]
        return array.transpose(["HW".index(c) for c in letters])
    return array.transpose(["CHW".index(c) for c in letters])


# ----- add_image ----------------------------------------------------------------------------


def test_add_image_round_trips_through_event_accumulator(tmp_path: Path, event_accumulator: Any) -> None:
    """A (3, H, W) uint8 image comes back with its step, wall time, size and exact pixels."""
    pixels = RNG.integers(0, 256, (3, 20, 30), dtype=np.uint8)
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_image("pics/one", pixels, 5, walltime=1.6e9)
    (event,) = _logged(event_accumulator, tmp_path, "pics/one")
    assert (event.step, event.wall_time, event.width, event.height) == (5, 1.6e9, 30, 20)
    np.testing.assert_array_equal(_decode(event.encoded_image_string), pixels.transpose(1, 2, 0))


LAYOUTS = [(f, c) for f in ("CHW", "HWC", "WHC", "CWH", "hwc", "Chw") for c in (1, 3, 4)]


@pytest.mark.parametrize("dataformats,channels", [*LAYOUTS, ("HW", 1), ("WH", 1), ("hw", 1)])
def test_every_dataformats_spelling(
    tmp_path: Path, event_accumulator: Any, dataformats: str, channels: int
) -> None:
    """Each axis order (any case) of HW/CHW gives the same (H, W) image with 1, 3 or 4 channels."""
    chw = RNG.integers(0, 256, (channels, 12, 17), dtype=np.uint8)
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_image("img", _chw_to(chw, dataformats), dataformats=dataformats)
    (event,) = _logged(event_accumulator, tmp_path, "img")
    assert (event.width, event.height) == (17, 12)
    np.testing.assert_array_equal(_decode(event.encoded_image_string), chw.transpose(1, 2, 0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int64, np.bool_])
def test_non_uint8_values_scale_like_torch(tmp_path: Path, event_accumulator: Any, dtype: Any) -> None:
    """Non-uint8 pixels are times 255 in float32, clipped and truncated, as torch does."""
    values = np.linspace(-0.5, 1.5, 3 * 8 * 8).reshape(3, 8, 8)
    values[0, 0, :4] = [0.5, 0.999, 1 / 255, 0.0039]
    chw = (values > 0.5) if dtype is np.bool_ else values.astype(dtype)
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_image("img", chw)
    (event,) = _logged(event_accumulator, tmp_path, "img")
    expected = _torch_float(np.asarray(chw)).transpose(1, 2, 0)
    np.testing.assert_array_equal(_decode(event.encoded_image_string), expected)


def test_nan_and_inf_pixels(tmp_path: Path, event_accumulator: Any) -> None:
    """NaN becomes 0, +inf 255 and -inf 0; nothing is rejected."""
    pixels = np.array([[np.nan, np.inf, -np.inf, 0.5]], np.float32)
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_image("img", pixels, dataformats="HW")
    (event,) = _logged(event_accumulator, tmp_path, "img")
    assert _decode(event.encoded_image_string).ravel().tolist() == [0, 255, 0, 127]


def test_gray_stays_gray_and_rgba_keeps_alpha(tmp_path: Path, event_accumulator: Any) -> None:
    """1-channel images are 1-channel PNGs (colorspace 1); 4-channel ones RGBA (colorspace 4)."""
    gray = RNG.integers(0, 256, (1, 6, 7), dtype=np.uint8)
    rgba = RNG.integers(0, 256, (6, 7, 4), dtype=np.uint8)
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_image("gray", gray)
        writer.add_image("rgba", rgba, dataformats="HWC")
    acc = event_accumulator(tmp_path)
    image_module = _pil()
    gray_png = image_module.open(io.BytesIO(acc.Images("gray")[0].encoded_image_string))
    rgba_png = image_module.open(io.BytesIO(acc.Images("rgba")[0].encoded_image_string))
    assert (gray_png.mode, rgba_png.mode) == ("L", "RGBA")
    np.testing.assert_array_equal(np.asarray(rgba_png), rgba)


def test_logged_pixels_are_a_snapshot(tmp_path: Path, event_accumulator: Any) -> None:
    """Changing the array right after add_image does not change what was logged."""
    pixels = np.zeros((3, 4, 4), np.uint8)
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_image("img", pixels, 0)
        pixels[:] = 255
        writer.add_image("img", pixels, 1)
    first, second = _logged(event_accumulator, tmp_path, "img")
    assert _decode(first.encoded_image_string).max() == 0
    assert _decode(second.encoded_image_string).min() == 255


def test_summary_value_bytes_match_protobuf() -> None:
    """The hand-encoded Summary.Value equals protobuf's serialization of the same message."""
    from tblog.proto import summary_pb2

    encoded = image_summary.image_proto_value("a/b", 300, 5, 3, b"\x89PNG...")
    expected = summary_pb2.Summary.Value(
        tag="a/b",
        image=summary_pb2.Summary.Image(
            height=300, width=5, colorspace=3, encoded_image_string=b"\x89PNG..."
        ),
    ).SerializeToString()
    assert encoded == expected


@pytest.mark.parametrize("wall,step", [(0.0, 0), (1.7e9, 3), (12.5, -4), (1.0, 2**40)])
def test_whole_event_bytes_match_the_nested_encoding(wall: float, step: int) -> None:
    """image_event/video_event (joined in one go) equal Event(Summary([Value])) built level by level."""
    from tblog.summary import _wire

    pixels = RNG.integers(0, 256, (5, 300, 3), dtype=np.uint8)
    nested = _wire.event(wall, step, _wire.summary([image_summary.image_value("t/a", pixels)]))
    assert image_summary.image_event(wall, step, "t/a", pixels) == nested
    frames = RNG.integers(0, 256, (2, 40, 50, 1), dtype=np.uint8)
    nested = _wire.event(wall, step, _wire.summary([image_summary.video_value("v", frames, 4)]))
    assert image_summary.video_event(wall, step, "v", frames, 4) == nested


# ----- add_images ---------------------------------------------------------------------------


@pytest.mark.parametrize("count,rows,columns", [(1, 1, 1), (3, 1, 3), (8, 1, 8), (10, 2, 8), (17, 3, 8)])
@pytest.mark.parametrize("dataformats", ["NCHW", "NHWC"])
def test_add_images_grid(
    tmp_path: Path, event_accumulator: Any, count: int, rows: int, columns: int, dataformats: str
) -> None:
    """A batch becomes one grid of at most 8 columns, row by row, empty cells black (torch's layout)."""
    nchw = RNG.integers(0, 256, (count, 3, 5, 6), dtype=np.uint8)
    batch = nchw if dataformats == "NCHW" else nchw.transpose(0, 2, 3, 1)
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_images("batch", batch, 2, dataformats=dataformats)
    (event,) = _logged(event_accumulator, tmp_path, "batch")
    assert (event.step, event.height, event.width) == (2, rows * 5, columns * 6)
    grid = _decode(event.encoded_image_string)
    for index in range(rows * columns):
        cell = grid[(index // columns) * 5 : (index // columns + 1) * 5, (index % columns) * 6 :][:, :6]
        expected = nchw[index].transpose(1, 2, 0) if index < count else np.zeros((5, 6, 3), np.uint8)
        np.testing.assert_array_equal(cell, expected)


def test_add_images_float_gray_batch(tmp_path: Path, event_accumulator: Any) -> None:
    """A float (N, 1, H, W) batch is scaled like torch and stays gray."""
    batch = RNG.random((4, 1, 3, 3)).astype(np.float32)
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_images("batch", batch)
    (event,) = _logged(event_accumulator, tmp_path, "batch")
    expected = np.concatenate(list(_torch_float(batch)[:, 0]), axis=1)
    np.testing.assert_array_equal(_decode(event.encoded_image_string)[:, :, 0], expected)


def test_add_image_accepts_a_batch_and_add_images_a_single_image(
    tmp_path: Path, event_accumulator: Any
) -> None:
    """As in torch, the dataformats (not the method) decides between one image and a grid."""
    batch = RNG.integers(0, 256, (2, 3, 4, 4), dtype=np.uint8)
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_image("grid", batch, dataformats="NCHW")
        writer.add_images("single", batch[0], dataformats="CHW")
    acc = event_accumulator(tmp_path)
    assert (acc.Images("grid")[0].width, acc.Images("single")[0].width) == (8, 4)


# ----- the images plugin --------------------------------------------------------------------


def _plugin_images(logdir: Path, run: str, tag: str) -> list[tuple[int, str, bytes]]:
    """(step, MIME type, bytes) of each image as TensorBoard's images plugin serves them (HTTP)."""
    from tensorboard.plugins.image import images_plugin

    plugin = tensorboard_plugin(images_plugin.ImagesPlugin, logdir)
    tags = json.loads(plugin.request("/tags").get_data(as_text=True))
    assert tag in tags[run], tags
    response = plugin.request("/images", run=run, tag=tag)
    assert response.status_code == 200, response.get_data(as_text=True)
    out = []
    for item in json.loads(response.get_data(as_text=True)):
        blob = plugin.request("/individualImage", item["query"])
        assert blob.status_code == 200
        out.append((item["step"], blob.mimetype, blob.get_data()))
    return out


@pytest.mark.tensorboard
def test_images_plugin_serves_the_png(tmp_path: Path) -> None:
    """TensorBoard's images plugin lists the tag and serves PNGs that decode to the input."""
    first = RNG.integers(0, 256, (3, 9, 11), dtype=np.uint8)
    second = RNG.random((9, 11, 4))
    with tblog.SummaryWriter(tmp_path / "run") as writer:
        writer.add_image("pics", first, 1)
        writer.add_image("pics", second, 2, dataformats="HWC")
    (step1, type1, png1), (step2, type2, png2) = _plugin_images(tmp_path, "run", "pics")
    assert (step1, step2, type1, type2) == (1, 2, "image/png", "image/png")
    np.testing.assert_array_equal(_decode(png1), first.transpose(1, 2, 0))
    np.testing.assert_array_equal(_decode(png2), _torch_float(second))


# ----- add_image_with_boxes -----------------------------------------------------------------

RED = [255, 0, 0]


def test_boxes_are_red_outlines(tmp_path: Path, event_accumulator: Any) -> None:
    """Each box is a 2-px red outline through its corners; the rest of the image is unchanged."""
    base = np.full((3, 40, 50), 0.5)
    boxes = np.array([[5, 6, 20, 30], [30.4, 2.6, 45, 12]])
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_image_with_boxes("boxes", base, boxes, 3)
    (event,) = _logged(event_accumulator, tmp_path, "boxes")
    assert (event.step, event.width, event.height) == (3, 50, 40)
    pixels = _decode(event.encoded_image_string)
    red = np.all(pixels == RED, axis=-1)
    expected = np.zeros((40, 50), bool)
    for x0, y0, x1, y1 in ((5, 6, 20, 30), (30, 3, 45, 12)):
        expected[y0 : y1 + 1, x0 : x1 + 1] = True
        expected[y0 + 2 : y1 - 1, x0 + 2 : x1 - 1] = False
    np.testing.assert_array_equal(red, expected)
    assert np.all(pixels[~red] == 127)


def test_boxes_on_gray_clipped_skipped_and_none(tmp_path: Path, event_accumulator: Any) -> None:
    """Gray images turn RGB for red boxes; boxes past the edge are clipped, NaN boxes and K=0 skipped."""
    gray = np.zeros((1, 10, 10), np.uint8)
    boxes = np.array([[-5, -5, 4, 4], [np.nan, 0, 3, 3], [20, 20, 30, 30]])
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_image_with_boxes("clip", gray, boxes)
        writer.add_image_with_boxes("none", gray, np.zeros((0, 4)))
    acc = event_accumulator(tmp_path)
    pixels = _decode(acc.Images("clip")[0].encoded_image_string)
    red = np.all(pixels == RED, axis=-1)
    expected = np.zeros((10, 10), bool)
    expected[:5, :5] = True
    expected[:3, :3] = False  # the inside of a box whose top-left corner is outside
    np.testing.assert_array_equal(red, expected)
    assert _decode(acc.Images("none")[0].encoded_image_string).max() == 0


def test_boxes_rescale_and_labels(tmp_path: Path, event_accumulator: Any) -> None:
    """rescale resizes the boxed image; labels (Pillow) are drawn inside the box's bottom left."""
    _pil()
    base = np.full((30, 40, 3), 255, np.uint8)
    box = np.array([[2, 2, 37, 27]])
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_image_with_boxes("plain", base, box, dataformats="HWC")
        writer.add_image_with_boxes("label", base, box, dataformats="HWC", labels=["cat"])
        writer.add_image_with_boxes("big", base, box, dataformats="HWC", rescale=2)
    acc = event_accumulator(tmp_path)
    plain, label, big = (_decode(acc.Images(t)[0].encoded_image_string) for t in ("plain", "label", "big"))
    changed = np.argwhere(np.any(plain != label, axis=-1))
    assert len(changed) > 10
    assert changed[:, 0].max() <= 27 and changed[:, 1].min() >= 2 and changed[:, 0].min() > 10
    assert big.shape == (60, 80, 3) and (acc.Images("big")[0].width, acc.Images("big")[0].height) == (80, 60)
    np.testing.assert_array_equal(big[::2, ::2], plain)


def test_box_labels_without_pillow_are_skipped_with_a_warning(
    tmp_path: Path, event_accumulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without Pillow the boxes are still drawn; the labels are left out with a warning."""
    base = np.zeros((3, 10, 10), np.uint8)
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.warns(UserWarning, match="Pillow"), tblog.SummaryWriter(tmp_path) as writer:
        writer.add_image_with_boxes("boxes", base, [[1, 1, 8, 8]], labels=["dog"])
    monkeypatch.undo()
    pixels = _decode(_logged(event_accumulator, tmp_path, "boxes")[0].encoded_image_string)
    assert np.all(pixels, axis=-1).sum() == 0 and np.all(pixels[1, 1:9] == RED)


# ----- add_figure ---------------------------------------------------------------------------


def _figure(plt: Any, title: str = "t") -> Any:
    figure = plt.figure(figsize=(2, 1.5), dpi=50)
    plt.plot([0, 1, 2], [2, 0, 1])
    plt.title(title)
    return figure


def _agg_rgba(figure: Any) -> np.ndarray:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


@pytest.fixture
def plt() -> Any:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    yield pyplot
    pyplot.close("all")


def test_add_figure_pixels_and_close(tmp_path: Path, event_accumulator: Any, plt: Any) -> None:
    """An opaque figure is logged as its Agg RGB pixels; close=True closes it, close=False keeps it."""
    kept, closed = _figure(plt, "kept"), _figure(plt, "closed")
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_figure("fig/kept", kept, 1, close=False)
        writer.add_figure("fig/closed", closed, 2)
    assert plt.fignum_exists(kept.number) and not plt.fignum_exists(closed.number)
    acc = event_accumulator(tmp_path)
    for tag, figure in (("fig/kept", kept), ("fig/closed", closed)):
        (event,) = acc.Images(tag)
        assert (event.width, event.height) == (100, 75)
        np.testing.assert_array_equal(_decode(event.encoded_image_string), _agg_rgba(figure)[:, :, :3])


def test_add_figure_transparent_keeps_alpha_and_canvas(
    tmp_path: Path, event_accumulator: Any, plt: Any
) -> None:
    """A see-through figure is logged RGBA; a figure's own (non-Agg) canvas is left in place."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(1, 1), dpi=40)
    figure.patch.set_alpha(0.0)
    figure.add_subplot().plot([0, 1])
    canvas = figure.canvas
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_figure("fig", figure)
    assert figure.canvas is canvas
    pixels = _decode(_logged(event_accumulator, tmp_path, "fig")[0].encoded_image_string)
    assert pixels.shape == (40, 40, 4) and pixels[:, :, 3].min() == 0
    np.testing.assert_array_equal(pixels, _agg_rgba(figure))


def test_add_figure_list_is_a_grid(tmp_path: Path, event_accumulator: Any, plt: Any) -> None:
    """A list of figures becomes one grid image, side by side, as torch logs it."""
    figures = [_figure(plt, "a"), _figure(plt, "b"), _figure(plt, "c")]
    expected = np.concatenate([_agg_rgba(f)[:, :, :3] for f in figures], axis=1)
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_figure("figs", figures, 4)
    (event,) = _logged(event_accumulator, tmp_path, "figs")
    assert (event.step, event.width, event.height) == (4, 300, 75)
    np.testing.assert_array_equal(_decode(event.encoded_image_string), expected)


def test_add_figure_bad_input(tmp_path: Path, plt: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Non-figures, empty lists and a missing matplotlib are clear errors; the writer stays usable."""
    with tblog.SummaryWriter(tmp_path) as writer:
        with pytest.raises(TypeError, match=r"figure must be a matplotlib.figure.Figure; got ndarray"):
            writer.add_figure("f", np.zeros((3, 4, 4)))
        with pytest.raises(TypeError, match=r"figure\[1\] must be a matplotlib"):
            writer.add_figure("f", [_figure(plt), "not a figure"])
        with pytest.raises(ValueError, match="figure is an empty list"):
            writer.add_figure("f", [])
        with monkeypatch.context() as patch:
            patch.setitem(sys.modules, "matplotlib.figure", None)
            with pytest.raises(ImportError, match=r"tblog\[image\]"):
                writer.add_figure("f", object())
        writer.add_figure("f", _figure(plt))


# ----- bad input ----------------------------------------------------------------------------

GOOD = np.zeros((3, 4, 4), np.uint8)

BAD_IMAGES = [
    ({"img_tensor": np.zeros((4, 4), np.uint8)}, ValueError, r"img_tensor has 2 dimensions .* 'CHW'"),
    ({"img_tensor": GOOD, "dataformats": "NCHW"}, ValueError, r"img_tensor has 3 dimensions .* 'NCHW'"),
    ({"img_tensor": GOOD, "dataformats": "CHWX"}, ValueError, r"dataformats must name each axis once"),
    ({"img_tensor": GOOD, "dataformats": "CCW"}, ValueError, r"dataformats must name each axis once"),
    ({"img_tensor": GOOD, "dataformats": "NHW"}, ValueError, r"dataformats must name each axis once"),
    ({"img_tensor": GOOD, "dataformats": 3}, TypeError, r"dataformats must be a str"),
    (
        {"img_tensor": np.zeros((2, 4, 4))},
        ValueError,
        r"1 \(gray\), 3 \(RGB\) or 4 \(RGBA\) channels; got C=2",
    ),
    ({"img_tensor": np.zeros((4, 4, 5)), "dataformats": "HWC"}, ValueError, r"channels; got C=5"),
    ({"img_tensor": np.zeros((3, 0, 4))}, ValueError, r"img_tensor is empty"),
    ({"img_tensor": np.full((3, 2, 2), "a")}, TypeError, r"img_tensor must hold numbers"),
    ({"img_tensor": np.zeros((3, 2, 2), complex)}, TypeError, r"img_tensor must hold numbers"),
    ({"img_tensor": "cat.png"}, TypeError, r"img_tensor must be an array"),
    ({"img_tensor": None}, TypeError, r"img_tensor must be an array"),
    ({"img_tensor": [[[1, 2], [3]]]}, TypeError, r"img_tensor must be a rectangular array"),
    ({"img_tensor": GOOD, "tag": ""}, ValueError, r"tag must not be empty"),
    ({"img_tensor": GOOD, "tag": 5}, TypeError, r"tag must be a str"),
    ({"img_tensor": GOOD, "global_step": "x"}, TypeError, r"global_step must be an int"),
]


@pytest.mark.parametrize("method", ["add_image", "add_images"])
@pytest.mark.parametrize("kwargs,error,match", BAD_IMAGES)
def test_bad_image_input(
    tmp_path: Path, event_accumulator: Any, method: str, kwargs: dict[str, Any], error: Any, match: str
) -> None:
    """Bad images raise a clear error naming the argument; nothing is logged; the writer goes on."""
    kwargs = {"tag": "img", **kwargs}
    if method == "add_images" and "dataformats" not in kwargs:
        kwargs["dataformats"] = "CHW"
    with tblog.SummaryWriter(tmp_path) as writer:
        with pytest.raises(error, match=match):
            getattr(writer, method)(**kwargs)
        writer.add_image("ok", GOOD, 1)
    acc = event_accumulator(tmp_path)
    assert acc.Tags()["images"] == ["ok"]


BAD_BOXES = [
    ({"box_tensor": np.zeros((4,))}, ValueError, r"box_tensor must have shape \(K, 4\)"),
    ({"box_tensor": np.zeros((2, 5))}, ValueError, r"box_tensor must have shape \(K, 4\)"),
    ({"box_tensor": np.array([["a"] * 4])}, TypeError, r"box_tensor must hold pixel coordinates"),
    ({"box_tensor": None}, TypeError, r"box_tensor must be an array"),
    ({"labels": ["a", "b"]}, ValueError, r"labels has 2 entries but box_tensor has 1 boxes"),
    ({"labels": "a"}, TypeError, r"labels must be a list of K strings"),
    ({"rescale": 0}, ValueError, r"rescale must be a positive number"),
    ({"rescale": -1}, ValueError, r"rescale must be a positive number"),
    ({"rescale": float("nan")}, ValueError, r"rescale must be a positive number"),
    ({"rescale": 0.1}, ValueError, r"at least 1 pixel"),
    ({"rescale": "2"}, TypeError, r"rescale must be a positive number"),
    ({"img_tensor": np.zeros((5, 4, 4))}, ValueError, r"img_tensor must have 1 \(gray\)"),
]


@pytest.mark.parametrize("kwargs,error,match", BAD_BOXES)
def test_bad_box_input(
    tmp_path: Path, event_accumulator: Any, kwargs: dict[str, Any], error: Any, match: str
) -> None:
    """Bad boxes, labels or rescale raise a clear error naming the argument; the writer goes on."""
    kwargs = {"tag": "img", "img_tensor": GOOD, "box_tensor": np.zeros((1, 4)), **kwargs}
    with tblog.SummaryWriter(tmp_path) as writer:
        with pytest.raises(error, match=match):
            writer.add_image_with_boxes(**kwargs)
        writer.add_image_with_boxes("ok", GOOD, [[0, 0, 2, 2]])
    assert event_accumulator(tmp_path).Tags()["images"] == ["ok"]


# ----- torch and JAX ------------------------------------------------------------------------


@pytest.mark.framework
def test_torch_and_jax_inputs(tmp_path: Path, event_accumulator: Any) -> None:
    """torch tensors (float CHW, uint8 batch) and JAX arrays (HWC) give the same pixels as NumPy."""
    torch = pytest.importorskip("torch")
    jnp = pytest.importorskip("jax.numpy")
    chw = RNG.random((3, 6, 5)).astype(np.float32)
    batch = RNG.integers(0, 256, (3, 1, 4, 4), dtype=np.uint8)
    hwc = RNG.integers(0, 256, (6, 5, 4), dtype=np.uint8)
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_image("torch", torch.from_numpy(chw))
        writer.add_images("torch_batch", torch.from_numpy(batch))
        writer.add_image("jax", jnp.asarray(hwc), dataformats="HWC")
        writer.add_image_with_boxes(
            "torch_boxes", torch.from_numpy(chw), torch.tensor([[1.0, 1.0, 3.0, 4.0]])
        )
    acc = event_accumulator(tmp_path)
    np.testing.assert_array_equal(
        _decode(acc.Images("torch")[0].encoded_image_string), _torch_float(chw).transpose(1, 2, 0)
    )
    np.testing.assert_array_equal(
        _decode(acc.Images("torch_batch")[0].encoded_image_string)[:, :, 0],
        np.concatenate(list(batch[:, 0]), 1),
    )
    np.testing.assert_array_equal(_decode(acc.Images("jax")[0].encoded_image_string), hwc)
    assert np.all(_decode(acc.Images("torch_boxes")[0].encoded_image_string)[1, 1:4] == RED)


def _as_rgb(pixels: np.ndarray) -> np.ndarray:
    return np.repeat(pixels, 3, axis=-1) if pixels.shape[-1] == 1 else pixels


@pytest.mark.framework
@pytest.mark.tensorboard
def test_parity_with_torch(tmp_path: Path, event_accumulator: Any) -> None:
    """torch.utils.tensorboard and tblog log the same tags, steps, sizes and pixels."""
    torch = pytest.importorskip("torch")
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
        ("add_image", ("chw_float", torch.rand(3, 10, 12), 1), {}),
        (
            "add_image",
            ("hwc_uint8", RNG.integers(0, 256, (10, 12, 3), dtype=np.uint8), 2),
            {"dataformats": "HWC"},
        ),
        ("add_image", ("hw", RNG.random((7, 9)), 3), {"dataformats": "HW"}),
        ("add_image", ("gray", RNG.integers(0, 256, (1, 7, 9), dtype=np.uint8), 4), {}),
        ("add_images", ("nchw", torch.rand(11, 3, 5, 4), 5), {}),
        (
            "add_images",
            ("nhwc_gray", RNG.integers(0, 256, (3, 5, 4, 1), dtype=np.uint8), 6),
            {"dataformats": "NHWC"},
        ),
    ]
    for method, args, kwargs in calls:
        for name, cls in (("torch", TorchWriter), ("tblog", tblog.SummaryWriter)):
            writer = cls(str(tmp_path / name))
            getattr(writer, method)(*args, **kwargs)
            writer.close()
    figures = {name: _figure(pyplot, "parity") for name in ("torch", "tblog")}
    for name, cls in (("torch", TorchWriter), ("tblog", tblog.SummaryWriter)):
        writer = cls(str(tmp_path / name))
        writer.add_figure("figure", figures[name], 7)
        writer.add_figure("figures", [_figure(pyplot, "a"), _figure(pyplot, "b")], 8)
        writer.close()
    ours, theirs = event_accumulator(tmp_path / "tblog"), event_accumulator(tmp_path / "torch")
    assert sorted(ours.Tags()["images"]) == sorted(theirs.Tags()["images"])
    for tag in theirs.Tags()["images"]:
        (mine,), (torchs,) = ours.Images(tag), theirs.Images(tag)
        assert (mine.step, mine.width, mine.height) == (torchs.step, torchs.width, torchs.height), tag
        np.testing.assert_array_equal(
            _as_rgb(_decode(mine.encoded_image_string)), _decode(torchs.encoded_image_string), err_msg=tag
        )
    pyplot.close("all")
