"""Histograms and Distributions dashboards: a legacy ``HistogramProto`` per value.

TensorBoard's histograms plugin turns each ``Summary.Value.histo`` into a ``[k, 3]`` tensor of
``(left, right, count)`` buckets, and the Distributions dashboard is computed from those same
buckets, so one record feeds both. The layout is the one torch.utils.tensorboard and
tensorboardX write (``min``, ``max``, ``num``, ``sum``, ``sum_squares``, ``bucket_limit`` =
right edges, ``bucket`` = counts, with one empty bucket in front whose right edge is the
left edge of the first non-empty bucket), plus ``histograms`` plugin metadata naming the
dashboard.

Binning (``bins``):

* ``"tensorflow"`` (default): TensorBoard's exponential buckets, the edges torch and
  tensorboardX use: ``0``, ``±1e-12 * 1.1**k`` (built by repeated multiplication) while
  below ``1e20``. Counts equal ``np.histogram`` on those edges, computed in O(n) with a
  lookup table instead of a sort.
* a NumPy method name (``"auto"``, ``"fd"``, ``"sturges"``, …), an int (that many equal-width
  bins), or explicit edges (1-D, non-decreasing, finite): ``np.histogram`` decides.

At most ``MAX_BINS`` bins: an int or edges beyond it are refused by ``check_bins`` (in the
caller, before anything is allocated); a NumPy rule whose data-dependent count would exceed
it (``"fd"`` and ``"scott"`` on a tight cluster plus a far outlier ask for billions) gets
``MAX_BINS`` equal-width bins instead, and ``"auto"`` is recent NumPy's (which keeps the
Freedman-Diaconis width at least half the ``"sqrt"`` one), whatever NumPy is installed.

Values outside the edges (beyond ``±1e20`` with ``"tensorflow"``, or outside explicit edges)
are never dropped: they fall into one extra bucket on that side, reaching the smallest or
largest value, so the bucket counts always add up to ``num``.
"""

from __future__ import annotations

import functools
import math
import struct
import sys
from typing import Any, NamedTuple

import numpy as np

from tblog.summary import _wire
from tblog.summary.tensor import real_array

PLUGIN_NAME = "histograms"
NUMPY_BIN_METHODS = ("auto", "fd", "doane", "scott", "stone", "rice", "sturges", "sqrt")
# The most bins one histogram may have. Binning allocates a few arrays of this many float64s,
# and an argument such as bins=10**9 would otherwise take gigabytes (the process gets
# OOM-killed). 65,536 is far beyond what TensorBoard's charts resolve (they are a few hundred
# pixels wide and torch's own default has ~1,500 edges), and takes a few MB at most.
MAX_BINS = 1 << 16

_F64 = struct.Struct("<d")
_ZERO_F64 = bytes(8)

# HistogramPluginData(version=0) serializes to nothing: the metadata is constant.
_METADATA_FIELD = _wire.field_bytes(b"\x4a", _wire.plugin_metadata(PLUGIN_NAME))
_VALUE_TAG = b"\x0a"  # Summary.Value.tag = 1
_VALUE_HISTO = b"\x2a"  # Summary.Value.histo = 5
# HistogramProto: min=1, max=2, num=3, sum=4, sum_squares=5 (doubles), then the packed
# repeated doubles bucket_limit=6 and bucket=7.
_HISTO_SCALAR_KEYS = (b"\x09", b"\x11", b"\x19", b"\x21", b"\x29")
_HISTO_LIMITS = b"\x32"
_HISTO_COUNTS = b"\x3a"
_LITTLE_ENDIAN = sys.byteorder == "little"


class _TensorflowEdges(NamedTuple):
    edges: np.ndarray  # 2k + 1 edges: -pos[::-1], 0, pos
    right_edges: np.ndarray  # edges, +inf: the right edge of each bin of (-inf, edges, +inf)
    guess: np.ndarray  # 2**16 bin guesses, one per value of a float64's top 16 bits
    k: int  # number of positive edges


@functools.cache
def _tensorflow() -> _TensorflowEdges:
    positive = []
    edge = 1e-12
    while edge < 1e20:
        positive.append(edge)
        edge *= 1.1
    pos = np.array(positive)
    edges = np.concatenate([-pos[::-1], [0.0], pos])
    right_edges = np.concatenate([edges, [np.inf]])
    # The top 16 bits of a float64 (sign, exponent, 4 mantissa bits) split the line into
    # cells at most 1/16 wide relative to their values; the edges are 1.1x apart, so a cell
    # holds at most one edge. ``guess`` is the bin of (-inf, edges, +inf) that holds the
    # cell's lowest value: each value's bin is that or the next one.
    top = np.arange(1 << 16, dtype=np.uint64) << np.uint64(48)
    negative = top >= np.uint64(1 << 63)
    lowest = np.where(negative, top | np.uint64((1 << 48) - 1), top).view(np.float64)
    with np.errstate(invalid="ignore"):
        guess = np.searchsorted(edges, lowest, side="right").astype(np.intp)
    for array in (edges, right_edges, guess):
        array.flags.writeable = False
    return _TensorflowEdges(edges, right_edges, guess, len(pos))


def tensorflow_edges() -> np.ndarray:
    """TensorBoard's default bucket edges (read-only; the same as torch's ``default_bins``)."""
    return _tensorflow().edges


# ----- checks (cheap; run in the caller) -----------------------------------------------------


def check_bins(bins: Any) -> str | int | np.ndarray:
    """``bins`` as add_histogram accepts it: a method name, a bin count (1 to ``MAX_BINS``), or
    explicit edges (at most ``MAX_BINS + 1``)."""
    if isinstance(bins, str):
        if bins == "tensorflow" or bins in NUMPY_BIN_METHODS:
            return bins
        raise ValueError(
            f"bins must be 'tensorflow', one of NumPy's methods {NUMPY_BIN_METHODS}, an int or "
            f"a sequence of edges; got {bins!r}"
        )
    if isinstance(bins, (bool, np.bool_)):
        raise TypeError(f"bins must be a str, an int or a sequence of edges; got {bins!r}")
    if isinstance(bins, (int, np.integer)):
        if not 1 <= bins <= MAX_BINS:
            raise ValueError(f"bins must be a number of bins from 1 to {MAX_BINS}; got {int(bins)}")
        return int(bins)
    try:
        edges = np.asarray(bins)
    except (TypeError, ValueError):
        edges = np.asarray(None)
    if edges.dtype.kind not in "iuf" or edges.ndim != 1:
        raise TypeError(
            "bins must be a str, an int or a 1-D sequence of edges; "
            f"got {type(bins).__name__} of shape {edges.shape} and dtype {edges.dtype}"
        )
    edges = edges.astype(np.float64)
    if edges.size < 2:
        raise ValueError(f"bins as edges needs at least 2 edges; got {edges.size}")
    if edges.size > MAX_BINS + 1:
        raise ValueError(
            f"bins as edges may hold at most {MAX_BINS + 1} edges ({MAX_BINS} bins); got {edges.size}"
        )
    if not np.isfinite(edges).all():
        raise ValueError(f"bins edges must be finite; got {edges.tolist()[:8]}")
    if np.any(edges[1:] < edges[:-1]):
        raise ValueError("bins edges must be non-decreasing")
    edges.flags.writeable = False
    return edges


def check_max_bins(max_bins: Any) -> int | None:
    """``max_bins``: None or a positive int."""
    if max_bins is None:
        return None
    if isinstance(max_bins, (bool, np.bool_)) or not isinstance(max_bins, (int, np.integer)):
        raise TypeError(f"max_bins must be a positive int or None; got {max_bins!r}")
    if max_bins < 1:
        raise ValueError(f"max_bins must be a positive int or None; got {int(max_bins)}")
    return int(max_bins)


def check_span(values: np.ndarray, bins: str | int | np.ndarray, name: str = "values") -> None:
    """Equal-width bins (an int, a NumPy rule) need ``max - min`` finite in float64: values
    near +-1.8e308 on both sides overflow it, and NumPy's binning then fails."""
    if values.dtype.kind != "f" or values.dtype.itemsize < 8 or values.size == 0:
        return  # float16/32 and ints never span beyond float64
    if isinstance(bins, np.ndarray) or bins == "tensorflow":
        return
    low, high = float(values.min()), float(values.max())
    if not math.isfinite(high - low):
        raise ValueError(
            f"{name} spans {low} to {high}, wider than float64 holds, so bins={bins!r} cannot be "
            "equal-width; use bins='tensorflow' (the default) or explicit edges"
        )


def count_nonfinite(values: np.ndarray) -> int:
    """How many NaN/±inf values a real array holds (0 for ints and bools), cheaply."""
    if values.dtype.kind != "f" or values.size == 0:
        return 0
    with np.errstate(over="ignore", invalid="ignore"):
        if math.isfinite(np.add.reduce(values, axis=None)):
            return 0  # NaN and inf propagate through a sum
    return int(values.size - np.count_nonzero(np.isfinite(values)))


def nonfinite_error(name: str, bad: int, size: int) -> ValueError:
    return ValueError(
        f"{name} holds {bad} non-finite value(s) (NaN or ±inf) among {size}; a histogram "
        f"needs finite values. Drop them first, e.g. {name}[np.isfinite({name})] "
        f"(or {name}[{name}.isfinite()] for a torch tensor)"
    )


# ----- binning -----------------------------------------------------------------------------


def _tensorflow_counts(values: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Counts on the default edges, plus the number of values below and above them.

    ``values``: finite, 1-D, contiguous native float64. The same counts as
    ``np.histogram(values, tensorflow_edges())`` (bins ``[e_i, e_i+1)``, the last one
    closed), in O(n) instead of a sort: a table lookup on each value's top 16 bits gives
    its bin or the one below, and one comparison with that bin's right edge settles it.
    """
    table = _tensorflow()
    # the top 16 bits: on little-endian machines, the last of each float64's four uint16s
    top = values.view(np.uint16)[3::4] if _LITTLE_ENDIAN else values.view(np.uint64) >> np.uint64(48)
    index = table.guess.take(top)
    index += values >= table.right_edges.take(index)
    padded_counts = np.bincount(index, minlength=2 * table.k + 2)
    counts = padded_counts[1:-1]
    below, above = int(padded_counts[0]), int(padded_counts[-1])
    if above:  # np.histogram's last bin is closed: values equal to the last edge belong to it
        on_edge = int(np.count_nonzero(values == table.edges[-1]))
        counts[-1] += on_edge
        above -= on_edge
    return counts, below, above


def bin_values(
    values: np.ndarray, bins: str | int | np.ndarray = "tensorflow"
) -> tuple[np.ndarray, np.ndarray]:
    """``(counts, edges)`` of finite float64 ``values`` (1-D), as described in the module doc."""
    if isinstance(bins, str) and bins == "tensorflow":
        counts, below, above = _tensorflow_counts(values)
        edges = tensorflow_edges()
    elif isinstance(bins, np.ndarray):
        edges = bins
        counts, _ = np.histogram(values, edges)
        below = int(np.count_nonzero(values < edges[0]))
        above = int(np.count_nonzero(values > edges[-1]))
    else:
        counts, edges = np.histogram(values, bins=_numpy_rule_count(values, bins))
        below = above = 0
    if below or above:
        lo = [below] if below else []
        hi = [above] if above else []
        counts = np.concatenate([lo, counts, hi]).astype(np.int64)
        lo_edge = [values.min()] if below else []
        hi_edge = [values.max()] if above else []
        edges = np.concatenate([lo_edge, edges, hi_edge])
    return counts, edges


def _numpy_rule_count(values: np.ndarray, bins: str | int) -> str | int:
    """``bins``, or for the rules whose count depends on the spread of the data (``"fd"``,
    ``"scott"``, ``"auto"``) the count recent NumPy computes, at most ``MAX_BINS``.

    The same expressions as NumPy's selectors, so the same count below the cap; ``"auto"`` is
    recent NumPy's everywhere (older NumPy's, without the ``"sqrt"`` floor, could ask for
    billions of bins). The other rules count
    from ``values.size`` alone (``"sqrt"``: 65,536 bins take 4 billion values) and go to NumPy.
    """
    if isinstance(bins, int) or bins not in ("fd", "scott", "auto") or values.size == 0:
        return bins
    size = values.size
    first, last = float(values.min()), float(values.max())
    span = last - first
    if span == 0:  # NumPy widens the range to +-0.5, and every rule gives width 0: one bin
        return 1
    if bins == "scott":
        width = (24.0 * np.pi**0.5 / size) ** (1.0 / 3.0) * float(np.std(values))
    else:
        iqr = float(np.subtract(*np.percentile(values, [75, 25])))
        width = 2.0 * iqr * size ** (-1.0 / 3.0)  # Freedman-Diaconis
        if bins == "auto":
            sqrt_width = span / np.sqrt(size)
            sturges_width = span / (np.log2(size) + 1.0)
            width = min(max(width, sqrt_width / 2), sturges_width)
    if not width:
        return 1
    count = np.ceil(span / width)
    return int(count) if count <= MAX_BINS else MAX_BINS


def _limit_bins(counts: np.ndarray, edges: np.ndarray, max_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """torch's and tensorboardX's ``max_bins``: merge groups of ``len // max_bins`` bins.

    The group size rounds down, as theirs does, so up to ``2 * max_bins - 1`` bins remain.
    """
    size = len(counts) // max_bins
    short = -len(counts) % size
    if short:
        counts = np.concatenate([counts, np.zeros(short, counts.dtype)])
    counts = counts.reshape(-1, size).sum(axis=1)
    edges = np.concatenate([edges[:-1:size], edges[-1:]])
    return counts, edges


def _support(counts: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the bins from the first to the last non-empty one, with one empty bin in front.

    HistogramProto stores right edges only; the empty bin in front carries the left edge of
    the first non-empty bin.
    """
    nonzero = np.flatnonzero(counts)
    if nonzero.size == 0:
        raise ValueError("the histogram has no values in any bin")
    start, end = int(nonzero[0]), int(nonzero[-1]) + 1
    kept = counts[start - 1 : end] if start else np.concatenate([np.zeros(1, counts.dtype), counts[:end]])
    return kept, edges[start : end + 1]


# ----- encoding ----------------------------------------------------------------------------


def _histo_scalars(vmin: float, vmax: float, num: float, total: float, sum_squares: float) -> bytes:
    """HistogramProto fields 1-5 (proto3 leaves out +0.0)."""
    out = b""
    for key, number in zip(_HISTO_SCALAR_KEYS, (vmin, vmax, num, total, sum_squares), strict=True):
        packed = _F64.pack(number)
        if packed != _ZERO_F64:
            out += key + packed
    return out


def _packed_doubles(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, dtype="<f8")


def _assemble(
    tag: str, scalars: bytes, limits: np.ndarray, counts: np.ndarray, event_head: bytes | None = None
) -> bytes:
    """A Summary.Value of this histogram, or with ``event_head`` (an Event's wall time and
    step) a whole Event holding it; one buffer, every length known up front."""
    tag_field = _wire.field_str(_VALUE_TAG, tag)
    arrays = [(key, _packed_doubles(a)) for key, a in ((_HISTO_LIMITS, limits), (_HISTO_COUNTS, counts))]
    array_heads = [key + _wire.varint(a.nbytes) if a.size else b"" for key, a in arrays]
    histo_len = len(scalars) + sum(len(h) + a.nbytes for h, (_, a) in zip(array_heads, arrays, strict=True))
    value_head = tag_field + _VALUE_HISTO + _wire.varint(histo_len)
    value_len = len(value_head) + histo_len + len(_METADATA_FIELD)
    out = bytearray()
    if event_head is not None:
        out += event_head
        out += _wire.EVENT_SUMMARY + _wire.varint(1 + len(_wire.varint(value_len)) + value_len)
        out += b"\x0a" + _wire.varint(value_len)  # Summary.value
    out += value_head
    out += scalars
    for array_head, (_, array) in zip(array_heads, arrays, strict=True):
        if array.size:
            out += array_head
            out += array.data
    out += _METADATA_FIELD
    return bytes(out)


def _histogram_parts(
    values: Any, bins: str | int | np.ndarray, max_bins: int | None, name: str
) -> tuple[bytes, np.ndarray, np.ndarray]:
    """(encoded fields 1-5, bucket limits, bucket counts) of ``values``; see histogram_value."""
    flat = real_array(values, name).astype(np.float64).reshape(-1)
    if flat.size == 0:
        raise ValueError(f"{name} is empty (shape {np.shape(values)}); a histogram needs values")
    with np.errstate(over="ignore", invalid="ignore"):  # beyond ~1e154, sum_squares is inf
        total, sum_squares = float(flat.sum()), float(flat.dot(flat))
    if not math.isfinite(total):  # NaN and inf propagate; or a finite sum overflowed
        bad = flat.size - int(np.count_nonzero(np.isfinite(flat)))
        if bad:
            raise nonfinite_error(name, bad, flat.size)
    counts, edges = bin_values(flat, bins)
    if max_bins is not None and len(counts) > max_bins:
        counts, edges = _limit_bins(counts, edges, max_bins)
    counts, limits = _support(counts, edges)
    scalars = _histo_scalars(float(flat.min()), float(flat.max()), float(flat.size), total, sum_squares)
    return scalars, limits, counts


def histogram_value(
    tag: str,
    values: Any,
    bins: str | int | np.ndarray = "tensorflow",
    max_bins: int | None = None,
    name: str = "values",
) -> bytes:
    """An encoded ``Summary.Value`` with the histogram of ``values`` (real, any shape).

    ``bins`` and ``max_bins`` as ``check_bins`` / ``check_max_bins`` return them. Raises
    ValueError for an empty array or non-finite values (``name`` names the argument).
    """
    return _assemble(tag, *_histogram_parts(values, bins, max_bins, name))


def histogram_event(
    wall_time: float,
    step: int,
    tag: str,
    values: Any,
    bins: str | int | np.ndarray = "tensorflow",
    max_bins: int | None = None,
    name: str = "values",
) -> bytes:
    """A whole encoded ``Event`` holding ``histogram_value(tag, values, ...)``, in one buffer."""
    parts = _histogram_parts(values, bins, max_bins, name)
    return _assemble(tag, *parts, event_head=_wire.event_head(wall_time, step))


def histogram_raw_value(
    tag: str,
    vmin: float,
    vmax: float,
    num: float,
    total: float,
    sum_squares: float,
    bucket_limits: np.ndarray,
    bucket_counts: np.ndarray,
) -> bytes:
    """An encoded ``Summary.Value`` from precomputed statistics, after checking them.

    ``bucket_limits`` (right edges, non-decreasing, no NaN) and ``bucket_counts`` (finite,
    non-negative) are 1-D and equally long; ``min <= max``; the statistics are finite and
    ``num >= 0``.
    """
    numbers = {"min": vmin, "max": vmax, "num": num, "sum": total, "sum_squares": sum_squares}
    for name, number in numbers.items():
        if not math.isfinite(number):
            raise ValueError(f"{name} must be finite; got {number}")
    if vmin > vmax:
        raise ValueError(f"min must be <= max; got min={vmin}, max={vmax}")
    if num < 0:
        raise ValueError(f"num must be >= 0; got {num}")
    limits = _raw_array(bucket_limits, "bucket_limits")
    counts = _raw_array(bucket_counts, "bucket_counts")
    if limits.size != counts.size:
        raise ValueError(
            f"bucket_limits and bucket_counts must have the same length; got {limits.size} and {counts.size}"
        )
    if limits.size == 0:
        raise ValueError("bucket_limits and bucket_counts must not be empty")
    if np.isnan(limits).any():
        raise ValueError("bucket_limits must not hold NaN")
    if np.any(limits[1:] < limits[:-1]):
        raise ValueError("bucket_limits must be non-decreasing (right edges, left to right)")
    if not np.isfinite(counts).all() or np.any(counts < 0):
        raise ValueError("bucket_counts must be finite and >= 0")
    scalars = _histo_scalars(vmin, vmax, num, total, sum_squares)
    return _assemble(tag, scalars, limits, counts)


def _raw_array(array: Any, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers; got dtype {array.dtype}")
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {array.shape}")
    return array.astype(np.float64)
