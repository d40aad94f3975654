"""Images dashboard: ``add_image(s)``, ``add_image_with_boxes``, ``add_figure``, ``add_video``.

The caller's thread only checks the arguments and takes a snapshot of the pixels (a copy,
or a device-side clone); converting, laying out and PNG/GIF encoding run on the writer
thread. Pixel rules (value scaling, ``dataformats``, grids) are in ``tblog.summary.image``.
"""

from __future__ import annotations

import functools
import math
import numbers
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from tblog import _convert
from tblog.methods._base import WriterBase
from tblog.summary import image as _image

_CHANNELS = (1, 3, 4)
_IMAGE_EXTRA = "pip install 'tblog[image]'"


@functools.lru_cache(maxsize=64)
def _parse(dataformats: str) -> tuple[str, tuple[int, ...]]:
    return dataformats.upper(), _image.parse_dataformats(dataformats)


def _shape(value: Any, name: str) -> tuple[int, ...]:
    if value is None or isinstance(value, (str, bytes)):
        raise TypeError(
            f"{name} must be an array (NumPy, torch, JAX or nested lists); got {_convert.describe(value)}"
        )
    try:
        return _convert.shape_of(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a rectangular array; got {_convert.describe(value)}") from exc


def _check_numeric(value: Any, name: str, expected: str) -> None:
    try:
        kind = _convert.dtype_kind(value)
    except (TypeError, ValueError):
        kind = "?"
    if kind not in "biuf":
        raise TypeError(f"{name} must hold {expected}; got {_convert.describe(value)}")


def _check_image(
    value: Any, dataformats: Any, name: str = "img_tensor"
) -> tuple[tuple[int, ...], dict[str, int]]:
    """(axis order for ``to_hwc``, size of each axis by letter) of a valid image argument."""
    if not isinstance(dataformats, str):
        raise TypeError(
            f"dataformats must be a str such as 'CHW' or 'HWC'; got {_convert.describe(dataformats)}"
        )
    letters, order = _parse(dataformats)
    shape = _shape(value, name)
    if len(shape) != len(letters):
        raise ValueError(
            f"{name} has {len(shape)} dimensions (shape {shape}) but dataformats {dataformats!r} "
            f"describes {len(letters)}"
        )
    sizes = dict(zip(letters, shape, strict=True))
    if 0 in shape:
        raise ValueError(f"{name} is empty: shape {shape} for dataformats {dataformats!r}")
    channels = sizes.get("C", 1)
    if channels not in _CHANNELS:
        raise ValueError(
            f"{name} must have 1 (gray), 3 (RGB) or 4 (RGBA) channels; got C={channels} "
            f"(shape {shape}, dataformats {dataformats!r})"
        )
    _check_numeric(value, name, "numbers: uint8 in [0, 255], or floats in [0, 1]")
    return order, sizes


def _out_size(sizes: dict[str, int]) -> tuple[int, int]:
    """(height, width) of the image ``to_hwc`` makes, grids included."""
    count = sizes.get("N", 1)
    columns = min(count, _image.GRID_COLUMNS)
    return -(-count // columns) * sizes["H"], columns * sizes["W"]


def _has_pillow() -> bool:
    try:
        import PIL.ImageDraw  # noqa: F401
    except ImportError:
        return False
    return True


def _nbytes(snap: Any) -> int:
    return int(getattr(snap, "nbytes", 0) or 64)


class ImageMethods(WriterBase):
    """Images, image grids, images with boxes, matplotlib figures and videos (GIF)."""

    def add_image(
        self,
        tag: str,
        img_tensor: Any,
        global_step: Any = None,
        walltime: float | None = None,
        dataformats: str = "CHW",
    ) -> None:
        """Log one image (Images dashboard) as a PNG.

        ``img_tensor``: NumPy, torch (any device) or JAX, laid out as ``dataformats`` says:
        ``CHW`` (default), ``HWC``, ``HW``, any order of those letters, or ``NCHW``/``NHWC``
        for a grid. 1 (gray), 3 (RGB) or 4 (RGBA) channels. uint8 is taken as [0, 255];
        any other dtype as [0, 1] (scaled by 255 and clipped, as torch does).
        """
        _convert.tag(tag)
        order, _ = _check_image(img_tensor, dataformats)
        self._queue_image(tag, img_tensor, order, global_step, walltime)

    def add_images(
        self,
        tag: str,
        img_tensor: Any,
        global_step: Any = None,
        walltime: float | None = None,
        dataformats: str = "NCHW",
    ) -> None:
        """Log a batch of images as one grid image (at most 8 per row, as torch lays it out).

        ``dataformats``: ``NCHW`` (default), ``NHWC`` or any order of those letters; values
        as in ``add_image``.
        """
        _convert.tag(tag)
        order, _ = _check_image(img_tensor, dataformats)
        self._queue_image(tag, img_tensor, order, global_step, walltime)

    def _queue_image(
        self, tag: str, img_tensor: Any, order: tuple[int, ...], global_step: Any, walltime: Any
    ) -> None:
        step, wall = self._step_and_wall(global_step, walltime)
        if not self.is_writing:
            return
        snap = _convert.snapshot(img_tensor, "img_tensor")

        def encode() -> bytes:
            pixels = _image.to_hwc(_image.to_uint8(_convert.array(snap, "img_tensor")), order)
            return _image.image_event(wall, step, tag, pixels)

        self._put_deferred(encode, _nbytes(snap))

    def add_image_with_boxes(
        self,
        tag: str,
        img_tensor: Any,
        box_tensor: Any,
        global_step: Any = None,
        walltime: float | None = None,
        rescale: float = 1,
        dataformats: str = "CHW",
        labels: Sequence[str] | None = None,
    ) -> None:
        """Log an image with red rectangles drawn on it (2 px wide, as torch draws them).

        ``box_tensor``: shape (K, 4), one ``x_min, y_min, x_max, y_max`` row per box, in
        pixels of the image. ``labels``: K strings drawn in the boxes (needs Pillow; without
        it the labels are left out with a warning). ``rescale``: the image (boxes drawn) is
        resized by this factor, nearest-neighbour (torch uses Lanczos); the result may have at
        most ``tblog.summary.image.MAX_DRAWN_PIXELS`` (2**26) pixels, or as many as the
        image itself if that is more (a larger ``rescale`` raises ValueError).
        """
        _convert.tag(tag)
        order, sizes = _check_image(img_tensor, dataformats)
        box_shape = _shape(box_tensor, "box_tensor")
        if len(box_shape) != 2 or box_shape[1] != 4:
            raise ValueError(
                "box_tensor must have shape (K, 4): one x_min, y_min, x_max, y_max row per box; "
                f"got {_convert.describe(box_tensor)}"
            )
        _check_numeric(box_tensor, "box_tensor", "pixel coordinates (numbers)")
        if labels is not None:
            if isinstance(labels, (str, bytes)) or not isinstance(labels, Sequence):
                raise TypeError(
                    f"labels must be a list of K strings or None; got {_convert.describe(labels)}"
                )
            if len(labels) != box_shape[0]:
                raise ValueError(f"labels has {len(labels)} entries but box_tensor has {box_shape[0]} boxes")
            labels = [_convert.text(str(label), f"labels[{i}]") for i, label in enumerate(labels)]
            if not _has_pillow():
                warnings.warn(
                    "add_image_with_boxes: labels are drawn with Pillow, which is not installed; "
                    f"the boxes are logged without them ({_IMAGE_EXTRA})",
                    stacklevel=2,
                )
                labels = None
        scale: Any = rescale
        if isinstance(scale, bool) or not isinstance(scale, (numbers.Real, np.generic)):
            raise TypeError(f"rescale must be a positive number; got {_convert.describe(rescale)}")
        height, width = _out_size(sizes)
        factor = float(scale)
        finite = math.isfinite(factor)
        new_height, new_width = (int(height * factor), int(width * factor)) if finite else (0, 0)
        if new_height < 1 or new_width < 1:
            raise ValueError(
                f"rescale must be a positive number that leaves the {height}x{width} image at "
                f"least 1 pixel wide and high; got {rescale!r}"
            )
        if new_height * new_width > max(height * width, _image.MAX_DRAWN_PIXELS):
            raise ValueError(
                f"rescale={rescale!r} would make the {height}x{width} image {new_height}x{new_width} "
                f"pixels; at most {_image.MAX_DRAWN_PIXELS} pixels (MAX_DRAWN_PIXELS) are drawn"
            )
        step, wall = self._step_and_wall(global_step, walltime)
        if not self.is_writing:
            return
        snap = _convert.snapshot(img_tensor, "img_tensor")
        boxes = _convert.snapshot(box_tensor, "box_tensor")

        def encode() -> bytes:
            pixels = _image.to_hwc(_image.to_uint8(_convert.array(snap, "img_tensor")), order)
            pixels = _image.draw_boxes(pixels, _convert.array(boxes, "box_tensor"), labels)
            pixels = _image.resize_nearest(pixels, new_height, new_width)
            return _image.image_event(wall, step, tag, pixels)

        self._put_deferred(encode, _nbytes(snap) + _nbytes(boxes))

    def add_figure(
        self,
        tag: str,
        figure: Any,
        global_step: Any = None,
        close: bool = True,
        walltime: float | None = None,
    ) -> None:
        """Log a matplotlib figure, or a list of them as one grid, as a PNG image.

        The figure is drawn now with matplotlib's Agg renderer, in the caller's thread
        (matplotlib is not thread-safe), without replacing the figure's own canvas; RGBA,
        with the alpha channel dropped when the figure is opaque. ``close`` closes the
        figures through pyplot afterwards. Needs matplotlib (``pip install 'tblog[image]'``).

        Each figure must be at least 1 pixel wide and high (``figsize * dpi``), and the image
        (the grid, for a list) at most ``tblog.summary.image.MAX_DRAWN_PIXELS`` (2**26)
        pixels; otherwise ValueError, before anything is drawn.
        """
        _convert.tag(tag)
        figures = list(figure) if isinstance(figure, (list, tuple)) else [figure]
        if not figures:
            raise ValueError("figure is an empty list; pass a matplotlib Figure or a non-empty list of them")
        try:
            from matplotlib.figure import Figure
        except ImportError as exc:
            raise ImportError(f"add_figure needs matplotlib: {_IMAGE_EXTRA}") from exc
        sizes = []
        for index, fig in enumerate(figures):
            where = f"figure[{index}]" if isinstance(figure, (list, tuple)) else "figure"
            if not isinstance(fig, Figure):
                raise TypeError(f"{where} must be a matplotlib.figure.Figure; got {_convert.describe(fig)}")
            sizes.append(_figure_pixels(fig, where))
        count = len(sizes)
        columns = min(count, _image.GRID_COLUMNS)
        height = -(-count // columns) * max(h for h, _ in sizes)
        width = columns * max(w for _, w in sizes)
        if height * width > _image.MAX_DRAWN_PIXELS:
            raise ValueError(
                f"figure would be drawn as a {height}x{width} image (figsize x dpi"
                f"{', in a grid' if count > 1 else ''}); at most {_image.MAX_DRAWN_PIXELS} pixels "
                "(MAX_DRAWN_PIXELS): use a smaller figsize or dpi"
            )
        step, wall = self._step_and_wall(global_step, walltime)
        rendered = [_render(fig) for fig in figures] if self.is_writing else []
        if close:
            pyplot = sys.modules.get("matplotlib.pyplot")  # a figure pyplot never saw needs no close
            if pyplot is not None:
                for fig in figures:
                    pyplot.close(fig)
        single = not isinstance(figure, (list, tuple))
        if not self.is_writing:
            return

        def encode() -> bytes:
            pixels = rendered[0] if single else _image.grid(rendered)
            if pixels.shape[2] == 4 and pixels[:, :, 3].min() == 255:
                pixels = pixels[:, :, :3]
            return _image.image_event(wall, step, tag, pixels)

        self._put_deferred(encode, sum(image.nbytes for image in rendered))

    def add_video(
        self,
        tag: str,
        vid_tensor: Any,
        global_step: Any = None,
        fps: float = 4,
        walltime: float | None = None,
    ) -> None:
        """Log videos as one animated GIF (looping) that the Images dashboard plays.

        ``vid_tensor``: shape (N, T, C, H, W), C = 1, 3 or 4 (alpha is dropped); the N clips
        play side by side in torch's grid. Values as in ``add_image``. ``fps``: frames per
        second; GIF counts time in 1/100 s and browsers play at most 50 fps.
        No moviepy needed.
        """
        _convert.tag(tag)
        shape = _shape(vid_tensor, "vid_tensor")
        if len(shape) != 5:
            raise ValueError(
                f"vid_tensor must have shape (N, T, C, H, W); got {_convert.describe(vid_tensor)}"
            )
        if 0 in shape:
            raise ValueError(f"vid_tensor is empty: shape {shape} (N, T, C, H, W)")
        if shape[2] not in _CHANNELS:
            raise ValueError(
                f"vid_tensor must have 1 (gray), 3 (RGB) or 4 (RGBA) channels; got C={shape[2]} "
                f"(shape {shape}, read as (N, T, C, H, W))"
            )
        _check_numeric(vid_tensor, "vid_tensor", "numbers: uint8 in [0, 255], or floats in [0, 1]")
        if isinstance(fps, bool) or not isinstance(fps, (numbers.Real, np.generic)):
            raise TypeError(f"fps must be a positive number; got {_convert.describe(fps)}")
        fps_value = float(fps)
        if not (math.isfinite(fps_value) and fps_value > 0):
            raise ValueError(f"fps must be a positive, finite number; got {fps!r}")
        rows = 1 << ((shape[0].bit_length() - 1) // 2)
        width = ((1 << (shape[0] - 1).bit_length()) // rows) * shape[4]
        if rows * shape[3] > 65535 or width > 65535:
            raise ValueError(f"vid_tensor of shape {shape} makes frames larger than GIF's 65535 pixels")
        step, wall = self._step_and_wall(global_step, walltime)
        if not self.is_writing:
            return
        snap = _convert.snapshot(vid_tensor, "vid_tensor")

        def encode() -> bytes:
            frames = _image.video_grid(_image.to_uint8(_convert.array(snap, "vid_tensor")))
            return _image.video_event(wall, step, tag, frames, fps_value)

        self._put_deferred(encode, _nbytes(snap))


def _figure_pixels(figure: Any, name: str) -> tuple[int, int]:
    """(height, width) in pixels that Agg draws ``figure`` at (it truncates figsize * dpi)."""
    width, height = (float(x) for x in figure.bbox.size)
    if not (math.isfinite(width) and math.isfinite(height) and width >= 1 and height >= 1):
        raise ValueError(
            f"{name} must be at least 1 pixel wide and high (figsize x dpi); got "
            f"{width:g}x{height:g} pixels (figsize {figure.get_size_inches().tolist()}, dpi {figure.dpi})"
        )
    return int(height), int(width)


def _render(figure: Any) -> np.ndarray:
    """RGBA pixels (H, W, 4) of a matplotlib figure, drawn with Agg."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = figure.canvas
    if isinstance(canvas, FigureCanvasAgg):
        canvas.draw()
        return np.array(canvas.buffer_rgba(), dtype=np.uint8)
    agg = FigureCanvasAgg(figure)  # attaches itself to the figure: put the original back
    try:
        agg.draw()
        return np.array(agg.buffer_rgba(), dtype=np.uint8)
    finally:
        figure.set_canvas(canvas)
