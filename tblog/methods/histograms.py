"""Histograms and Distributions dashboards: ``add_histogram``, ``add_histogram_raw``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tblog import _convert
from tblog.methods._base import WriterBase
from tblog.summary import _wire
from tblog.summary import histogram as _histogram
from tblog.summary.tensor import is_ml_float

_REAL_KINDS = "biuf"


class HistogramMethods(WriterBase):
    """Distributions of values over steps (both the Histograms and Distributions dashboards)."""

    def add_histogram(
        self,
        tag: str,
        values: Any,
        global_step: Any = None,
        bins: Any = "tensorflow",
        walltime: float | None = None,
        max_bins: int | None = None,
    ) -> None:
        """Log the histogram of ``values`` (Histograms and Distributions dashboards).

        ``values``: a NumPy array, torch tensor (any device) or JAX array of bools, ints or
        floats, any shape (flattened); device values are read on the background thread.
        ``bins``: ``"tensorflow"`` (TensorBoard's exponential buckets, as torch uses), a NumPy
        method (``"auto"``, ``"fd"``, ``"sturges"``, …), an int, or explicit edges. At most
        ``tblog.summary.histogram.MAX_BINS`` (65,536) bins: a larger int, or more edges, raises
        ValueError; a NumPy method that would pick more (``"fd"`` on a tight cluster with a
        far outlier) gets that many equal-width bins; ``"auto"`` is recent NumPy's.
        ``max_bins``: merge neighbouring bins as torch does (groups of ``len // max_bins``).

        Values outside the edges are counted in one extra bucket on that side, never dropped.
        NaN and ±inf raise ValueError (naming ``values`` and how many there are) instead of
        corrupting the histogram: drop them first, e.g. ``values[np.isfinite(values)]``. For a
        device value that check runs on the background thread, so the error comes from the
        next call. An empty ``values`` raises ValueError. Binning runs on the background thread.
        """
        _convert.tag(tag)
        kind = _convert.dtype_kind(values, "values")
        if kind not in _REAL_KINDS and not is_ml_float(getattr(values, "dtype", None)):
            raise TypeError(
                f"values must be an array of real numbers (bool, int or float); "
                f"got {_convert.describe(values)}"
            )
        shape = _convert.shape_of(values, "values")
        if math.prod(shape) == 0:
            raise ValueError(f"values is empty ({_convert.describe(values)}); a histogram needs values")
        bins = _histogram.check_bins(bins)  # at most MAX_BINS: nothing sized by it yet
        max_bins = _histogram.check_max_bins(max_bins)
        step, wall = self._step_and_wall(global_step, walltime)
        if not self.is_writing:
            return
        snap = _convert.snapshot(values, "values")
        if isinstance(snap, np.ndarray):
            bad = _histogram.count_nonfinite(snap)
            if bad:
                raise _histogram.nonfinite_error("values", bad, snap.size)
            _histogram.check_span(snap, bins)

        def encode() -> bytes:
            return _histogram.histogram_event(wall, step, tag, _convert.array(snap, "values"), bins, max_bins)

        self._put_deferred(encode, int(getattr(snap, "nbytes", 0)) or 8 * math.prod(shape))

    def add_histogram_raw(
        self,
        tag: str,
        min: Any,  # torch's argument names shadow builtins here
        max: Any,
        num: Any,
        sum: Any,
        sum_squares: Any,
        bucket_limits: Any,
        bucket_counts: Any,
        global_step: Any = None,
        walltime: float | None = None,
    ) -> None:
        """Log a histogram from precomputed statistics, as torch's ``add_histogram_raw``.

        ``bucket_limits`` are the right edges of the buckets (1-D, non-decreasing) and
        ``bucket_counts`` their counts (1-D, >= 0), equally long and not empty; ``min``,
        ``max``, ``num``, ``sum`` and ``sum_squares`` are finite numbers with ``min <= max``.
        TensorBoard draws the first non-empty bucket from ``min`` and the last one to ``max``.
        """
        _convert.tag(tag)
        stats = [
            _convert.scalar(value, name)
            for name, value in (
                ("min", min),
                ("max", max),
                ("num", num),
                ("sum", sum),
                ("sum_squares", sum_squares),
            )
        ]
        shapes = []
        for name, value in (("bucket_limits", bucket_limits), ("bucket_counts", bucket_counts)):
            kind = _convert.dtype_kind(value, name)
            shape = _convert.shape_of(value, name)
            if kind not in _REAL_KINDS or len(shape) != 1:
                raise TypeError(f"{name} must be a 1-D array of real numbers; got {_convert.describe(value)}")
            shapes.append(shape)
        limits_shape, counts_shape = shapes
        if limits_shape != counts_shape:
            raise ValueError(
                "bucket_limits and bucket_counts must have the same length; "
                f"got {limits_shape[0]} and {counts_shape[0]}"
            )
        if limits_shape[0] == 0:
            raise ValueError("bucket_limits and bucket_counts must not be empty")
        step, wall = self._step_and_wall(global_step, walltime)
        if not self.is_writing:
            return
        arrays = [
            _convert.snapshot(bucket_limits, "bucket_limits"),
            _convert.snapshot(bucket_counts, "bucket_counts"),
        ]

        def raw_value() -> bytes:
            vmin, vmax, count, total, squares = (float(x) for x in stats)
            limits, counts = (_convert.array(a) for a in arrays)
            return _histogram.histogram_raw_value(tag, vmin, vmax, count, total, squares, limits, counts)

        if all(type(x) is float for x in stats) and all(isinstance(a, np.ndarray) for a in arrays):
            self._put_values([raw_value()], step, wall)  # on the host: check now
        else:
            nbytes = 16 * limits_shape[0]
            self._put_deferred(lambda: _wire.event(wall, step, _wire.summary([raw_value()])), nbytes)
