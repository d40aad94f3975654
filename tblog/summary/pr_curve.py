"""PR Curves dashboard: a float32 tensor ``[6, num_thresholds]`` under the ``pr_curves`` plugin.

Rows, in order: true positives, false positives, true negatives, false negatives, precision,
recall; column ``i`` is the threshold ``i / (num_thresholds - 1)``. The metadata carries
``PrCurvePluginData(version=0, num_thresholds)``.

``pr_curve_data`` computes the rows as TensorBoard's own ``pr_curve.summary.pb`` does: each
prediction falls into bucket ``floor(p * (num_thresholds - 1))``; a threshold counts the
(weighted) labels of its bucket and every bucket above it; precision and recall divide by
``max(1e-7, denominator)`` so an empty threshold gives 0, not NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tblog.summary import _wire
from tblog.summary.tensor import DATA_CLASS_TENSOR, real_array, tensor_value

PLUGIN_NAME = "pr_curves"
MINIMUM_COUNT = 1e-7
# The most thresholds one curve may have. The curve is a [6, num_thresholds] tensor (and the
# binning allocates a few more of that length), so num_thresholds=10**9 would take tens of
# gigabytes; 65,536 points is far finer than TensorBoard's chart can show (torch caps it at
# 127) and encodes to about 1.5 MB.
MAX_THRESHOLDS = 1 << 16
RAW_NAMES = (
    "true_positive_counts",
    "false_positive_counts",
    "true_negative_counts",
    "false_negative_counts",
    "precision",
    "recall",
)


def metadata(num_thresholds: int) -> bytes:
    """Encoded ``SummaryMetadata`` for the pr_curves plugin."""
    content = b"\x10" + _wire.varint(num_thresholds)  # PrCurvePluginData.num_thresholds = 2
    return _wire.plugin_metadata(PLUGIN_NAME, content, DATA_CLASS_TENSOR)


def check_num_thresholds(num_thresholds: Any) -> int:
    """An int from 2 to ``MAX_THRESHOLDS``."""
    if isinstance(num_thresholds, (bool, np.bool_)) or not isinstance(num_thresholds, (int, np.integer)):
        raise TypeError(f"num_thresholds must be an int from 2 to {MAX_THRESHOLDS}; got {num_thresholds!r}")
    if not 2 <= num_thresholds <= MAX_THRESHOLDS:
        raise ValueError(
            f"num_thresholds must be an int from 2 to {MAX_THRESHOLDS}; got {int(num_thresholds)}"
        )
    return int(num_thresholds)


def _check_range(array: np.ndarray, name: str, low: float | None, high: float | None) -> None:
    """Finite, and within [low, high] where given; the error tells how many values are not."""
    if array.dtype.kind == "f":
        bad = array.size - int(np.count_nonzero(np.isfinite(array)))
        if bad:
            raise ValueError(f"{name} holds {bad} non-finite value(s) (NaN or ±inf) among {array.size}")
    if array.size == 0:
        return
    lo, hi = array.min(), array.max()
    if (low is not None and lo < low) or (high is not None and hi > high):
        want = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {want}; got values from {lo} to {hi}")


def check_inputs(
    labels: Any, predictions: Any, weights: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | float]:
    """Check and flatten ``add_pr_curve``'s arrays; returns (labels, predictions, weights).

    labels: bool or numbers in [0, 1] (0/1; fractions act as soft labels); predictions: in
    [0, 1], as many as labels; weights: None, a number or an array with as many elements,
    finite and >= 0.
    """
    labels = real_array(labels, "labels").reshape(-1)
    predictions = real_array(predictions, "predictions").reshape(-1)
    if labels.size != predictions.size:
        raise ValueError(
            "labels and predictions must have the same number of elements; "
            f"got {labels.size} and {predictions.size}"
        )
    if labels.size == 0:
        raise ValueError("labels and predictions are empty; a PR curve needs at least one example")
    _check_range(labels, "labels", 0, 1)
    _check_range(predictions, "predictions", 0, 1)
    if weights is None:
        return labels, predictions, 1.0
    weight_array = real_array(weights, "weights")
    if weight_array.size != 1 and weight_array.size != labels.size:
        raise ValueError(
            "weights must be one number or one per label; "
            f"got {weight_array.size} weights for {labels.size} labels"
        )
    _check_range(weight_array, "weights", 0, None)
    if weight_array.size == 1 and weight_array.ndim == 0:
        return labels, predictions, float(weight_array)
    return labels, predictions, weight_array.reshape(-1).astype(np.float64)


def pr_curve_data(
    labels: Any, predictions: Any, num_thresholds: int = 127, weights: Any = None
) -> np.ndarray:
    """The ``[6, num_thresholds]`` float32 rows for these labels and predictions."""
    num_thresholds = check_num_thresholds(num_thresholds)
    labels, predictions, weight = check_inputs(labels, predictions, weights)
    buckets = np.floor(predictions * (num_thresholds - 1)).astype(np.intp)
    positive = labels.astype(np.float64) * weight
    negative = (1.0 - labels.astype(np.float64)) * weight
    if positive.shape != buckets.shape:  # a one-element weights array
        positive = np.broadcast_to(positive, buckets.shape)
        negative = np.broadcast_to(negative, buckets.shape)
    tp = np.cumsum(np.bincount(buckets, positive, num_thresholds)[::-1])[::-1]
    fp = np.cumsum(np.bincount(buckets, negative, num_thresholds)[::-1])[::-1]
    tn = fp[0] - fp
    fn = tp[0] - tp
    precision = tp / np.maximum(MINIMUM_COUNT, tp + fp)
    recall = tp / np.maximum(MINIMUM_COUNT, tp + fn)
    return np.stack([tp, fp, tn, fn, precision, recall]).astype(np.float32)


def check_raw_shapes(shapes: list[tuple[int, ...]]) -> int:
    """The six raw arrays are 1-D and equally long (>= 1); returns the length."""
    for name, shape in zip(RAW_NAMES, shapes, strict=True):
        if len(shape) != 1:
            raise ValueError(f"{name} must be 1-D (one entry per threshold); got shape {shape}")
    lengths = {name: shape[0] for name, shape in zip(RAW_NAMES, shapes, strict=True)}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"the six PR-curve arrays must be equally long; got lengths {lengths}")
    length = shapes[0][0]
    if length < 1:
        raise ValueError("the PR-curve arrays are empty; they need one entry per threshold")
    return length


def pr_curve_raw_data(*arrays: Any) -> np.ndarray:
    """The ``[6, n]`` float32 rows from TP, FP, TN, FN counts, precision and recall.

    Counts must be finite and >= 0; precision and recall finite and in [0, 1].
    """
    if len(arrays) != 6:
        raise TypeError(f"pr_curve_raw_data takes 6 arrays; got {len(arrays)}")
    checked = [real_array(a, name) for name, a in zip(RAW_NAMES, arrays, strict=True)]
    check_raw_shapes([a.shape for a in checked])
    for name, array in zip(RAW_NAMES, checked, strict=True):
        _check_range(array, name, 0, None if name.endswith("counts") else 1)
    return np.stack(checked).astype(np.float32)


def pr_curve_value(tag: str, data: np.ndarray) -> bytes:
    """An encoded ``Summary.Value``: ``data`` ([6, n]) as float32 with pr_curves metadata."""
    data = np.asarray(data, dtype=np.float32)
    if data.ndim != 2 or data.shape[0] != 6:
        raise ValueError(f"PR-curve data must have shape [6, num_thresholds]; got {data.shape}")
    return tensor_value(tag, data, metadata(data.shape[1]))
