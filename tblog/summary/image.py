"""Images dashboard: pixels in, an encoded ``Summary.Value`` holding a PNG or GIF out.

The value is the legacy ``Summary.Image`` (height, width, colorspace, encoded_image_string)
with no metadata, byte for byte what torch.utils.tensorboard writes; TensorBoard files it
under the ``images`` plugin itself (``data_compat`` turns it into the plugin's
``[width, height, png]`` string tensor when it loads the run).

Pixel facts, shared with torch where torch's are sound:

* **Values** (``to_uint8``): uint8 is kept; every other dtype (float, int, bool) is taken
  as [0, 1], scaled by 255 in float32, clipped to [0, 255] and truncated, as torch does.
  NaN becomes 0, +inf 255.
* **Layouts** (``to_hwc``): ``dataformats`` names each axis, any order, any case: rank 2
  ``HW``, rank 3 a permutation of ``CHW``, rank 4 a permutation of ``NCHW`` (a grid of at
  most 8 columns, as torch's ``make_grid``; empty cells are zeros).
* Unlike torch, gray images stay gray (one channel, ``colorspace`` 1) instead of being
  copied to RGB, and RGBA grids work.
* **Videos** (``video_grid``): (N, T, C, H, W) → T frames of torch's grid: N padded with
  blank clips to a power of two, ``2 ** ((N.bit_length() - 1) // 2)`` rows.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np

from tblog.summary import _wire
from tblog.summary.gif import delay_centiseconds, encode_gif
from tblog.summary.png import encode_png, png_parts

PLUGIN_NAME = "images"
GRID_COLUMNS = 8
# The most pixels an image may have when one argument, not the caller's data, decides its
# size: add_image_with_boxes' ``rescale`` and add_figure's figure size (and grid of figures).
# 2**26 pixels is 8192 x 8192 (256 MiB as RGBA), beyond any screen and any figure saved for
# a paper; without a bound, rescale=1e5 or a figure 10**5 inches wide asks for terabytes and
# the process is OOM-killed. Images of the caller's own arrays are not capped (their size is
# the caller's data).
MAX_DRAWN_PIXELS = 1 << 26
BOX_COLOR = (255, 0, 0)
BOX_THICKNESS = 2

_AXES = {2: "HW", 3: "HWC", 4: "NHWC"}


# ----- Summary.Value ------------------------------------------------------------------------


def _image_heads(tag: str, height: int, width: int, colorspace: int, size: int) -> tuple[bytes, int]:
    """(bytes of a ``Summary.Value`` up to its encoded image of ``size`` bytes, whole length)."""
    image_head = (
        b"\x08"
        + _wire.varint(height)
        + b"\x10"
        + _wire.varint(width)
        + b"\x18"
        + _wire.varint(colorspace)
        + b"\x22"
        + _wire.varint(size)
    )
    image_length = len(image_head) + size
    value_head = _wire.field_str(b"\x0a", tag) + b"\x22" + _wire.varint(image_length) + image_head
    return value_head, len(value_head) + size


def image_proto_value(tag: str, height: int, width: int, colorspace: int, encoded: bytes) -> bytes:
    """An encoded ``Summary.Value(tag, image=Summary.Image(...))``."""
    return _image_heads(tag, height, width, colorspace, len(encoded))[0] + encoded


def _event(wall_time: float, step: int, tag: str, shape: tuple[int, int, int], parts: list[bytes]) -> bytes:
    """``Event(summary=Summary([Value(tag, image=...)]))`` joined in one copy of ``parts``."""
    value_head, value_length = _image_heads(tag, *shape, sum(map(len, parts)))
    summary_head = b"\x0a" + _wire.varint(value_length)
    head = (
        _wire.event_head(wall_time, step)
        + _wire.EVENT_SUMMARY
        + _wire.varint(len(summary_head) + value_length)
        + summary_head
        + value_head
    )
    return b"".join([head, *parts])


def image_value(tag: str, pixels: np.ndarray) -> bytes:
    """A PNG ``Summary.Value`` of uint8 ``pixels`` of shape (H, W, C), C = 1, 3 or 4."""
    height, width, channels = pixels.shape
    return image_proto_value(tag, height, width, channels, encode_png(pixels))


def image_event(wall_time: float, step: int, tag: str, pixels: np.ndarray) -> bytes:
    """A whole ``Event`` holding ``image_value(tag, pixels)``."""
    return _event(wall_time, step, tag, pixels.shape, png_parts(pixels))


def _video_colorspace(channels: int) -> int:
    return 1 if channels == 1 else 3  # GIF keeps no alpha


def video_value(tag: str, frames: np.ndarray, fps: float) -> bytes:
    """An animated-GIF ``Summary.Value`` of uint8 ``frames`` (T, H, W, C), looping forever."""
    _, height, width, channels = frames.shape
    encoded = encode_gif(frames, delay_centiseconds(fps))
    return image_proto_value(tag, height, width, _video_colorspace(channels), encoded)


def video_event(wall_time: float, step: int, tag: str, frames: np.ndarray, fps: float) -> bytes:
    """A whole ``Event`` holding ``video_value(tag, frames, fps)``."""
    _, height, width, channels = frames.shape
    encoded = encode_gif(frames, delay_centiseconds(fps))
    return _event(wall_time, step, tag, (height, width, _video_colorspace(channels)), [encoded])


# ----- pixels -------------------------------------------------------------------------------


def to_uint8(array: np.ndarray) -> np.ndarray:
    """uint8 pixels: uint8 kept; anything else read as [0, 1], scaled by 255 and clipped."""
    if array.dtype == np.uint8:
        return array
    scaled = array.astype(np.float32) * np.float32(255)
    np.nan_to_num(scaled, copy=False, nan=0.0, posinf=255.0, neginf=0.0)
    return np.clip(scaled, 0, 255, out=scaled).astype(np.uint8)


def parse_dataformats(dataformats: str, rank: int | None = None) -> tuple[int, ...]:
    """The axis order that turns an array laid out as ``dataformats`` into HW / HWC / NHWC.

    Raises ValueError for anything that is not a permutation of HW, CHW or NCHW.
    """
    letters = dataformats.upper()
    target = _AXES.get(len(letters))
    if target is None or sorted(letters) != sorted(target):
        raise ValueError(
            "dataformats must name each axis once: HW, or any order of CHW or NCHW "
            f"(e.g. 'CHW', 'HWC', 'NCHW', 'NHWC'); got {dataformats!r}"
        )
    return tuple(letters.index(axis) for axis in target)


def grid(images: Sequence[np.ndarray], columns: int = GRID_COLUMNS) -> np.ndarray:
    """Images (H, W, C) tiled row by row, ``min(n, columns)`` per row, on a zero canvas.

    Cells are as large as the largest image; smaller ones sit in their cell's top left.
    """
    count = len(images)
    columns = min(count, columns)
    rows = -(-count // columns)
    height = max(image.shape[0] for image in images)
    width = max(image.shape[1] for image in images)
    channels = images[0].shape[2]
    canvas = np.zeros((rows * height, columns * width, channels), images[0].dtype)
    for index, image in enumerate(images):
        top, left = (index // columns) * height, (index % columns) * width
        canvas[top : top + image.shape[0], left : left + image.shape[1]] = image
    return canvas


def to_hwc(array: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
    """uint8 (H, W, C) pixels of an array whose axes ``parse_dataformats`` ordered."""
    array = array.transpose(order)
    if array.ndim == 2:
        return array[:, :, None]
    if array.ndim == 4:
        return grid(list(array))
    return array


def video_grid(video: np.ndarray) -> np.ndarray:
    """(T, H', W', C) frames of an (N, T, C, H, W) video: the N clips side by side, as torch.

    N is padded with blank clips to a power of two; the grid has ``2 ** ((N.bit_length() -
    1) // 2)`` rows.
    """
    count, frames, channels, height, width = video.shape
    padded = 1 << (count - 1).bit_length()
    if padded != count:
        blank = np.zeros((padded - count, frames, channels, height, width), video.dtype)
        video = np.concatenate([video, blank])
    rows = 1 << ((count.bit_length() - 1) // 2)
    columns = padded // rows
    tiles = video.reshape(rows, columns, frames, channels, height, width)
    return tiles.transpose(2, 0, 4, 1, 5, 3).reshape(frames, rows * height, columns * width, channels)


def resize_nearest(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of (H, W, C) pixels (each output pixel samples its centre)."""
    old_height, old_width = pixels.shape[:2]
    if (height, width) == (old_height, old_width):
        return pixels
    rows = ((np.arange(height) + 0.5) * (old_height / height)).astype(np.intp)
    cols = ((np.arange(width) + 0.5) * (old_width / width)).astype(np.intp)
    return pixels[np.minimum(rows, old_height - 1)][:, np.minimum(cols, old_width - 1)]


def draw_boxes(pixels: np.ndarray, boxes: np.ndarray, labels: Sequence[str] | None = None) -> np.ndarray:
    """(H, W, 3 or 4) pixels with red rectangles around ``boxes`` (K, 4) ``x0, y0, x1, y1``.

    Boxes are in pixels, corners included, as torch draws them; gray images become RGB;
    boxes with NaN or inf coordinates are skipped, the rest clipped to the image. Labels
    are drawn inside each box's bottom-left corner, black on red as torch does, when Pillow
    is installed; without Pillow they are left out, with a warning.
    """
    pixels = np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels.copy()
    height, width, channels = pixels.shape
    color = np.array(BOX_COLOR + (255,) * (channels - 3), np.uint8)
    drawn: list[tuple[int, int, int, int, str]] = []
    for index, box in enumerate(np.asarray(boxes, np.float64)):
        if not np.isfinite(box).all():
            continue
        x0, x1 = sorted((int(round(box[0])), int(round(box[2]))))
        y0, y1 = sorted((int(round(box[1])), int(round(box[3]))))
        if x1 < 0 or y1 < 0 or x0 >= width or y0 >= height:
            continue
        t = BOX_THICKNESS
        left, right = max(x0, 0), min(x1, width - 1)
        top, bottom = max(y0, 0), min(y1, height - 1)
        for y in (y0, y1 - t + 1):  # top and bottom edges
            start, stop = max(y, top), min(y + t, bottom + 1)
            if start < stop:
                pixels[start:stop, left : right + 1] = color
        for x in (x0, x1 - t + 1):  # left and right edges
            start, stop = max(x, left), min(x + t, right + 1)
            if start < stop:
                pixels[top : bottom + 1, start:stop] = color
        if labels is not None and labels[index]:
            drawn.append((left, top, right, bottom, str(labels[index])))
    if drawn:
        pixels = _draw_labels(pixels, drawn)
    return pixels


def _draw_labels(pixels: np.ndarray, drawn: list[tuple[int, int, int, int, str]]) -> np.ndarray:
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError:
        warnings.warn(
            "add_image_with_boxes: labels are drawn with Pillow, which is not installed; "
            "the boxes are drawn without them (pip install 'tblog[image]')",
            stacklevel=2,
        )
        return pixels
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    fill = BOX_COLOR + (255,) * (pixels.shape[2] - 3)
    text_color = (0, 0, 0) + (255,) * (pixels.shape[2] - 3)
    for left, _top, _right, bottom, text in drawn:
        x0, y0, x1, y1 = font.getbbox(text)
        margin = math.ceil(0.05 * (y1 - y0))
        draw.rectangle([left, bottom - (y1 - y0) - 2 * margin, left + (x1 - x0), bottom], fill=fill)
        draw.text((left + margin, bottom - (y1 - y0) - margin - y0), text, fill=text_color, font=font)
    return np.asarray(image)
