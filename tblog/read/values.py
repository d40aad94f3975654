"""What one ``Summary.Value`` holds, for ``tblog.read`` and the ``tblog`` command: a scalar,
histogram buckets, text, images and hparams, from the legacy protos (tblog, torch,
tensorboardX) and from tensor summaries (``tf.summary``, torch's ``new_style``).

Each decoder takes the value and the plugin named by the first metadata of its tag in the
run (TensorBoard keeps that one), and returns what the value holds of its kind: a number
(or None), or rows (none when the value is not of that kind).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from tblog.read.tensors import NUMPY_DTYPES, tensor_to_numpy

_DT_STRING = 7


def scalar(value: Any, plugin: str) -> float | None:
    """The number of a scalar: a legacy ``simple_value``, or a numeric tensor of one element of
    the scalars plugin (torch's ``new_style``, ``tf.summary.scalar``); None for anything else.

    The one rule of ``tblog.read.scalars`` and ``tblog inspect``/``tail``. The tensor's shape is
    checked before any conversion, so a tensor claiming a huge shape costs nothing; one whose
    values do not match its shape raises ``ValueError``.
    """
    kind = value.WhichOneof("value")
    if kind == "simple_value":
        return float(value.simple_value)
    if kind == "tensor" and plugin == "scalars" and _is_one_number(value.tensor):
        return float(tensor_to_numpy(value.tensor).reshape(()))
    return None


def _is_one_number(tensor: Any) -> bool:
    return tensor.dtype in NUMPY_DTYPES and all(dim.size == 1 for dim in tensor.tensor_shape.dim)


class Histogram(NamedTuple):
    min: float
    max: float
    num: float
    sum: float
    sum_squares: float
    bucket_left: np.ndarray
    bucket_right: np.ndarray
    bucket_count: np.ndarray


def histogram(value: Any, plugin: str) -> list[Histogram]:
    """Buckets as TensorBoard shows them (its ``data_compat`` rule for the legacy proto: empty
    buckets at both ends dropped, the outer edges replaced by min and max)."""
    kind = value.WhichOneof("value")
    if kind == "histo":
        histo = value.histo
        counts = np.array(histo.bucket, dtype=np.float64)
        limits = np.array(histo.bucket_limit, dtype=np.float64)
        if len(limits) != len(counts):
            raise ValueError(f"histogram has {len(limits)} bucket limits for {len(counts)} buckets")
        nonempty = np.flatnonzero(counts > 0)
        if len(nonempty):
            start, end = int(nonempty[0]), int(nonempty[-1])
            inner = limits[start:end]
            left = np.concatenate([[histo.min], inner])
            right = np.concatenate([inner, [histo.max]])
            counts = counts[start : end + 1]
        else:
            left = right = counts = np.zeros(0)
        return [Histogram(histo.min, histo.max, histo.num, histo.sum, histo.sum_squares, left, right, counts)]
    if kind == "tensor" and plugin == "histograms":
        array = tensor_to_numpy(value.tensor)
        if array.size == 0:
            array = array.reshape(0, 3)
        if array.ndim != 2 or array.shape[1] != 3:
            raise ValueError(f"histogram tensor has shape {list(array.shape)}; expected [k, 3]")
        array = array.astype(np.float64)
        left, right, counts = array[:, 0].copy(), array[:, 1].copy(), array[:, 2].copy()
        nan = math.nan
        return [Histogram(nan, nan, float(counts.sum()), nan, nan, left, right, counts)]
    return []


def text(value: Any, plugin: str) -> list[str]:
    """The text of a string tensor of the text plugin: its one string, or its strings in
    row-major order joined by newlines; bytes decoded as UTF-8 (bad bytes replaced)."""
    if value.WhichOneof("value") != "tensor" or plugin != "text" or value.tensor.dtype != _DT_STRING:
        return []
    strings = tensor_to_numpy(value.tensor).ravel()
    return ["\n".join(s.decode("utf-8", errors="replace") for s in strings)]


class Image(NamedTuple):
    number: int  # index of the image within its event
    width: int
    height: int
    encoded: bytes


def images(value: Any, plugin: str) -> list[Image]:
    """The legacy ``Image`` (one image), or the images plugin's ``[width, height, image...]``
    string tensor (one row per image)."""
    kind = value.WhichOneof("value")
    if kind == "image":
        image = value.image
        return [Image(0, image.width, image.height, image.encoded_image_string)]
    if kind == "tensor" and plugin == "images" and value.tensor.dtype == _DT_STRING:
        strings = tensor_to_numpy(value.tensor).ravel()
        if len(strings) < 2:
            raise ValueError(f"image tensor holds {len(strings)} strings; expected width, height, images")
        try:
            width, height = int(strings[0]), int(strings[1])
        except ValueError:
            raise ValueError(
                f"image tensor's width/height {strings[0]!r}, {strings[1]!r} are not numbers"
            ) from None
        return [Image(i, width, height, bytes(data)) for i, data in enumerate(strings[2:])]
    return []


HPARAMS_PLUGIN = "hparams"
EXPERIMENT_TAG = "_hparams_/experiment"
SESSION_START_TAG = "_hparams_/session_start_info"


def hparams_content(value: Any) -> Any | None:
    """The ``HParamsPluginData`` of a value of the hparams plugin, or None."""
    plugin_data = value.metadata.plugin_data
    if plugin_data.plugin_name != HPARAMS_PLUGIN:
        return None
    from tblog.proto import hparams_plugin_data_pb2

    return hparams_plugin_data_pb2.HParamsPluginData.FromString(plugin_data.content)


def struct_value(value: Any) -> Any:
    """A ``google.protobuf.Value`` as a Python number, string, bool or None."""
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        return float(value.number_value)
    if kind == "string_value":
        return str(value.string_value)
    if kind == "bool_value":
        return bool(value.bool_value)
    return None
