"""PR Curves dashboard: ``add_pr_curve``, ``add_pr_curve_raw``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tblog import _convert
from tblog.methods._base import WriterBase
from tblog.summary import _wire
from tblog.summary import pr_curve as _pr
from tblog.summary.tensor import is_ml_float

_REAL_KINDS = "biuf"


class PrCurveMethods(WriterBase):
    """Precision-recall curves over steps."""

    def add_pr_curve(
        self,
        tag: str,
        labels: Any,
        predictions: Any,
        global_step: Any = None,
        num_thresholds: int = 127,
        weights: Any = None,
        walltime: float | None = None,
    ) -> None:
        """Log a precision-recall curve computed as TensorBoard's ``pr_curve`` summary does.

        ``labels``: ground truth, bool or 0/1 (any shape, flattened; fractions in [0, 1] act as
        soft labels); ``predictions``: probabilities in [0, 1], as many as ``labels``;
        ``weights``: None, one number, or one per label (>= 0). NumPy arrays, torch tensors
        (any device) and JAX arrays are accepted; device values are read and checked on the
        background thread. ``num_thresholds`` (2 to
        ``tblog.summary.pr_curve.MAX_THRESHOLDS``, 65,536) is written as given (torch silently
        caps it at 127; tblog does not); a larger one raises ValueError.
        """
        _convert.tag(tag)
        num_thresholds = _pr.check_num_thresholds(num_thresholds)
        _check_real(labels, "labels")
        _check_real(predictions, "predictions")
        size = math.prod(_convert.shape_of(labels, "labels"))
        other = math.prod(_convert.shape_of(predictions, "predictions"))
        if size != other:
            raise ValueError(
                "labels and predictions must have the same number of elements; got "
                f"{size} ({_convert.describe(labels)}) and {other} ({_convert.describe(predictions)})"
            )
        if size == 0:
            raise ValueError("labels and predictions are empty; a PR curve needs at least one example")
        if weights is not None:
            _check_real(weights, "weights")
            count = math.prod(_convert.shape_of(weights, "weights"))
            if count not in (1, size):
                raise ValueError(
                    f"weights must be one number or one per label; got {_convert.describe(weights)} "
                    f"for {size} labels"
                )
        step, wall = self._step_and_wall(global_step, walltime)
        if not self.is_writing:
            return
        snaps = [
            None if value is None else _convert.snapshot(value, name)
            for name, value in (("labels", labels), ("predictions", predictions), ("weights", weights))
        ]
        if all(s is None or isinstance(s, np.ndarray) for s in snaps):
            _pr.check_inputs(*snaps)  # on the host: check the values now

        def encode() -> bytes:
            arrays = [None if s is None else _convert.array(s) for s in snaps]
            data = _pr.pr_curve_data(arrays[0], arrays[1], num_thresholds, arrays[2])
            return _wire.event(wall, step, _wire.summary([_pr.pr_curve_value(tag, data)]))

        self._put_deferred(encode, sum(int(getattr(s, "nbytes", 0)) for s in snaps) + 24 * num_thresholds)

    def add_pr_curve_raw(
        self,
        tag: str,
        true_positive_counts: Any,
        false_positive_counts: Any,
        true_negative_counts: Any,
        false_negative_counts: Any,
        precision: Any,
        recall: Any,
        global_step: Any = None,
        num_thresholds: int = 127,
        weights: Any = None,
        walltime: float | None = None,
    ) -> None:
        """Log a precision-recall curve from precomputed per-threshold arrays.

        The six arrays are 1-D with one entry per threshold (thresholds evenly spaced from 0
        to 1), equally long; counts finite and >= 0, precision and recall in [0, 1]. The curve
        has as many thresholds as the arrays have entries, and that is what the metadata
        records: ``num_thresholds`` is accepted for torch compatibility (an int from 2 to
        ``MAX_THRESHOLDS``) but, as
        in TensorBoard's viewer, the arrays decide. ``weights`` is ignored, as in torch (the
        counts already include them).
        """
        _convert.tag(tag)
        _pr.check_num_thresholds(num_thresholds)
        values = (
            true_positive_counts,
            false_positive_counts,
            true_negative_counts,
            false_negative_counts,
            precision,
            recall,
        )
        for name, value in zip(_pr.RAW_NAMES, values, strict=True):
            _check_real(value, name)
        length = _pr.check_raw_shapes(
            [_convert.shape_of(v, n) for n, v in zip(_pr.RAW_NAMES, values, strict=True)]
        )
        step, wall = self._step_and_wall(global_step, walltime)
        if not self.is_writing:
            return
        snaps = [_convert.snapshot(v, name) for name, v in zip(_pr.RAW_NAMES, values, strict=True)]

        def raw_value() -> bytes:
            data = _pr.pr_curve_raw_data(*(_convert.array(s) for s in snaps))
            return _pr.pr_curve_value(tag, data)

        if all(isinstance(s, np.ndarray) for s in snaps):
            self._put_values([raw_value()], step, wall)  # on the host: check and encode now
        else:
            self._put_deferred(lambda: _wire.event(wall, step, _wire.summary([raw_value()])), 48 * length)


def _check_real(value: Any, name: str) -> None:
    kind = _convert.dtype_kind(value, name)
    if kind not in _REAL_KINDS and not is_ml_float(getattr(value, "dtype", None)):
        raise TypeError(
            f"{name} must be an array of real numbers (bool, int or float); got {_convert.describe(value)}"
        )
