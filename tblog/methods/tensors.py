"""Raw tensors: ``add_tensor``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tblog import _convert
from tblog.methods._base import WriterBase
from tblog.summary import _wire
from tblog.summary.tensor import dtype_enum, is_ml_float, raw_tensor_value

_NUMERIC_KINDS = "biufc"
_STRING_KINDS = "USO"
_EXPECTED = "tensor must be an array of bool, int, float, complex or str/bytes"


class TensorMethods(WriterBase):
    """Whole tensors over steps (no dashboard of their own; read back with ``tensor_util``)."""

    def add_tensor(
        self,
        tag: str,
        tensor: Any,
        global_step: Any = None,
        walltime: float | None = None,
    ) -> None:
        """Log a whole tensor as a ``TensorProto`` under plugin ``tensor``, as torch does.

        ``tensor``: a NumPy array (or anything ``np.asarray`` takes), torch tensor (any device)
        or JAX array, any shape, of bool, (u)int8-64, float16/32/64, complex or strings
        (str/bytes). bfloat16 is written as float32 (TensorBoard cannot decode bfloat16
        without TensorFlow). Numbers are stored in ``tensor_content``; device values are read
        and encoded on the background thread. TensorBoard's ``tensor_util.make_ndarray``
        gives the array back.
        """
        _convert.tag(tag)
        kind = _convert.dtype_kind(tensor, "tensor")
        low_precision = is_ml_float(getattr(tensor, "dtype", None))
        if kind in _STRING_KINDS:
            try:
                value = raw_tensor_value(tag, np.asarray(tensor))
            except TypeError as exc:
                raise TypeError(f"{_EXPECTED}; got {_convert.describe(tensor)} ({exc})") from None
            except UnicodeEncodeError as exc:
                raise ValueError(
                    f"tensor holds a str that does not encode as UTF-8 (a lone surrogate "
                    f"{exc.object[exc.start : exc.end]!r}); got {_convert.describe(tensor)}"
                ) from None
            step, wall = self._step_and_wall(global_step, walltime)
            self._put_values([value], step, wall)
            return
        if kind not in _NUMERIC_KINDS and not low_precision:
            raise TypeError(f"{_EXPECTED}; got {_convert.describe(tensor)}")
        if isinstance(tensor, np.ndarray) and not low_precision:
            dtype_enum(tensor.dtype)  # float128 and the like: fail here, not in the background
        step, wall = self._step_and_wall(global_step, walltime)
        if not self.is_writing:
            return
        snap = _convert.snapshot(tensor, "tensor")

        def encode() -> bytes:
            return _wire.event(wall, step, _wire.summary([raw_tensor_value(tag, _convert.array(snap))]))

        nbytes = int(getattr(snap, "nbytes", 0)) or 8 * math.prod(_convert.shape_of(tensor, "tensor"))
        self._put_deferred(encode, nbytes)
