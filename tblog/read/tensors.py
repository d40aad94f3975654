"""``TensorProto`` to NumPy, refusing shapes the stored values do not back."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# A tensor stored as one value (or none) for a larger shape is expanded up to this many
# elements (128 MiB of float64); beyond it the shape is taken for corruption.
MAX_FILL_ELEMENTS = 1 << 24

NUMPY_DTYPES: dict[int, tuple[str, str]] = {
    # DataType: (NumPy dtype, TensorProto field holding the values when not in tensor_content)
    1: ("<f4", "float_val"),
    2: ("<f8", "double_val"),
    3: ("<i4", "int_val"),
    4: ("u1", "int_val"),
    5: ("<i2", "int_val"),
    6: ("i1", "int_val"),
    9: ("<i8", "int64_val"),
    10: ("?", "bool_val"),
    17: ("<u2", "int_val"),
    19: ("<f2", "half_val"),
    22: ("<u4", "uint32_val"),
    23: ("<u8", "uint64_val"),
}


def tensor_to_numpy(tensor: Any) -> np.ndarray:
    """A ``TensorProto`` (numeric or string) as a NumPy array of its shape.

    Raises ``ValueError`` when the shape does not match the values held (a corrupted or
    hand-made tensor): the array is never allocated at a size the data does not back,
    except for protobuf's one-value-fills-all shorthand, up to ``MAX_FILL_ELEMENTS``.
    """
    shape = tuple(dim.size for dim in tensor.tensor_shape.dim)
    if any(size < 0 for size in shape):
        raise ValueError(f"tensor shape {list(shape)} has a negative (unknown) dimension")
    count = math.prod(shape)  # Python ints: np.prod would wrap around silently
    if tensor.dtype == 7:  # DT_STRING
        if len(tensor.string_val) != count:
            raise ValueError(f"string tensor holds {len(tensor.string_val)} values for shape {list(shape)}")
        return np.array(list(tensor.string_val), dtype=object).reshape(shape)
    if tensor.dtype not in NUMPY_DTYPES:
        raise ValueError(f"tensor dtype {tensor.dtype} is not supported by tblog.read")
    dtype, field = NUMPY_DTYPES[tensor.dtype]
    if tensor.tensor_content:
        need = count * np.dtype(dtype).itemsize
        if len(tensor.tensor_content) != need:
            raise ValueError(
                f"tensor_content holds {len(tensor.tensor_content)} bytes; "
                f"shape {list(shape)} of {np.dtype(dtype)} needs {need}"
            )
        return np.frombuffer(tensor.tensor_content, dtype=dtype).reshape(shape)
    values = getattr(tensor, field)
    # half_val holds the raw 16-bit patterns of float16 values
    raw = np.array(values, dtype=np.int32).astype("<u2").view("<f2") if dtype == "<f2" else None
    if raw is not None:
        array = raw
    elif field == "int_val":  # int32 on the wire for 8- and 16-bit types too: cast, as TensorFlow does
        array = np.array(values, dtype=np.int32).astype(dtype)
    else:
        array = np.array(values, dtype=dtype)
    if array.size == count:
        return array.reshape(shape)
    if array.size > 1:
        raise ValueError(f"tensor holds {array.size} values for shape {list(shape)}")
    if count > MAX_FILL_ELEMENTS:
        raise ValueError(
            f"tensor of shape {list(shape)} ({count} elements) holds {array.size} values; "
            f"refusing to expand it beyond {MAX_FILL_ELEMENTS} elements"
        )
    if array.size == 1:  # protobuf's shorthand: one value fills the tensor
        return np.full(shape, array[0], dtype=dtype)
    return np.zeros(shape, dtype=dtype)
