"""``TensorProto`` encoding of NumPy arrays, shared by every builder that writes a tensor.

Numeric and bool arrays go into ``tensor_content`` (the raw little-endian bytes in C order,
the most compact layout, and what TensorFlow itself writes); strings go into ``string_val``,
one entry per element. TensorBoard's ``tensor_util.make_ndarray`` reads both back.

Pure functions: NumPy in, encoded protobuf bytes out, byte for byte what protobuf's own
serializer writes for the same message (fields in number order, defaults left out).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tblog.summary import _wire

# DataType enum values (tensorflow/core/framework/types.proto).
DT_FLOAT = 1
DT_DOUBLE = 2
DT_INT32 = 3
DT_UINT8 = 4
DT_INT16 = 5
DT_INT8 = 6
DT_STRING = 7
DT_COMPLEX64 = 8
DT_INT64 = 9
DT_BOOL = 10
DT_BFLOAT16 = 14
DT_UINT16 = 17
DT_COMPLEX128 = 18
DT_HALF = 19
DT_UINT32 = 22
DT_UINT64 = 23

DATA_CLASS_TENSOR = 2  # SummaryMetadata.data_class

# (NumPy dtype kind, item size) -> DataType, for arrays stored in tensor_content.
_NUMERIC: dict[tuple[str, int], int] = {
    ("f", 2): DT_HALF,
    ("f", 4): DT_FLOAT,
    ("f", 8): DT_DOUBLE,
    ("i", 1): DT_INT8,
    ("i", 2): DT_INT16,
    ("i", 4): DT_INT32,
    ("i", 8): DT_INT64,
    ("u", 1): DT_UINT8,
    ("u", 2): DT_UINT16,
    ("u", 4): DT_UINT32,
    ("u", 8): DT_UINT64,
    ("b", 1): DT_BOOL,
    ("c", 8): DT_COMPLEX64,
    ("c", 16): DT_COMPLEX128,
}

# A serialized message must stay under protobuf's 2 GiB limit.
_MAX_BYTES = (1 << 31) - 1

# Field keys (field number << 3 | wire type).
_DTYPE = b"\x08"  # TensorProto.dtype = 1, varint
_SHAPE = b"\x12"  # TensorProto.tensor_shape = 2
_CONTENT = b"\x22"  # TensorProto.tensor_content = 4
_STRING_VAL = b"\x42"  # TensorProto.string_val = 8
_DIM = b"\x12"  # TensorShapeProto.dim = 2
_VALUE_TAG = b"\x0a"  # Summary.Value.tag = 1
_VALUE_TENSOR = b"\x42"  # Summary.Value.tensor = 8
_VALUE_METADATA = b"\x4a"  # Summary.Value.metadata = 9


def is_ml_float(dtype: Any) -> bool:
    """ml_dtypes' bfloat16 / float8 types (NumPy dtype kind 'V'), as JAX arrays hand them over."""
    return isinstance(dtype, np.dtype) and dtype.kind == "V" and dtype.name.startswith(("bfloat", "float"))


def real_array(values: Any, name: str = "values") -> np.ndarray:
    """``values`` as a NumPy array of bool, int or float (ml_dtypes floats become float32)."""
    values = np.asarray(values)
    if is_ml_float(values.dtype):
        return values.astype(np.float32)
    if values.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers (bool, int or float); got dtype {values.dtype}")
    return values


def dtype_enum(dtype: Any) -> int:
    """The TensorFlow ``DataType`` of a NumPy dtype; TypeError if it has none.

    Byte order does not matter (the content is written little-endian). Unicode, bytes and
    object (of str/bytes) arrays are ``DT_STRING``; ml_dtypes' ``bfloat16`` is ``DT_BFLOAT16``.
    """
    dtype = np.dtype(dtype)
    if dtype.kind in "USO":
        return DT_STRING
    if dtype.name == "bfloat16":
        return DT_BFLOAT16
    enum = _NUMERIC.get((dtype.kind, dtype.itemsize))
    if enum is None:
        raise TypeError(
            f"dtype {dtype} has no TensorProto equivalent; expected bool, int8-64, uint8-64, "
            "float16/32/64, bfloat16, complex64/128 or strings"
        )
    return enum


def shape_proto(shape: Sequence[int]) -> bytes:
    """An encoded ``TensorShapeProto`` (a rank-0 shape is the empty message)."""
    out = b""
    for size in shape:
        dim = b"\x08" + _wire.varint(int(size)) if size else b""  # Dim.size = 1
        out += _DIM + _wire.varint(len(dim)) + dim
    return out


def tensor_proto(array: np.ndarray) -> bytes:
    """An encoded ``TensorProto`` holding ``array`` (any shape, dtype as ``dtype_enum``)."""
    array = np.asarray(array)
    enum = dtype_enum(array.dtype)
    head = _DTYPE + _wire.varint(enum) + _wire.field_bytes(_SHAPE, shape_proto(array.shape))
    if enum == DT_STRING:
        body = b"".join(_wire.field_bytes(_STRING_VAL, s) for s in _string_items(array))
    elif array.size:
        little = array.dtype.newbyteorder("<")
        body = _wire.field_bytes(_CONTENT, np.ascontiguousarray(array, dtype=little).tobytes())
    else:
        body = b""
    if len(head) + len(body) > _MAX_BYTES:
        raise ValueError(
            f"a tensor of shape {array.shape} and dtype {array.dtype} encodes to "
            f"{len(head) + len(body)} bytes, over protobuf's 2 GiB limit"
        )
    return head + body


def tensor_value(tag: str, array: np.ndarray, metadata: bytes = b"") -> bytes:
    """An encoded ``Summary.Value``: ``tag``, ``array`` as a tensor, and ``metadata``.

    ``metadata`` is an encoded ``SummaryMetadata`` (e.g. from ``_wire.plugin_metadata``);
    empty leaves the field out.
    """
    out = _wire.field_str(_VALUE_TAG, tag) + _wire.field_bytes(_VALUE_TENSOR, tensor_proto(array))
    if metadata:
        out += _wire.field_bytes(_VALUE_METADATA, metadata)
    return out


def _string_items(array: np.ndarray) -> list[bytes]:
    """The elements of a str/bytes/object array as bytes (str as UTF-8), in C order."""
    items: list[bytes] = []
    for item in array.reshape(-1).tolist():
        if isinstance(item, bytes):
            items.append(item)
        elif isinstance(item, str):
            items.append(item.encode("utf-8"))
        else:
            raise TypeError(
                f"a string tensor holds only str or bytes; got an element of type {type(item).__name__}"
            )
    return items


# ----- add_tensor: the layout torch.utils.tensorboard writes ----------------------------------

TENSOR_PLUGIN_NAME = "tensor"
_TENSOR_METADATA = _wire.plugin_metadata(TENSOR_PLUGIN_NAME, data_class=DATA_CLASS_TENSOR)


def raw_tensor_value(tag: str, array: np.ndarray) -> bytes:
    """``add_tensor``'s ``Summary.Value``: the array under plugin ``tensor``, data class TENSOR.

    bfloat16 and float8 (ml_dtypes) are written as float32, which holds them exactly:
    TensorBoard cannot decode ``DT_BFLOAT16`` without TensorFlow.
    """
    array = np.asarray(array)
    if is_ml_float(array.dtype):
        array = array.astype(np.float32)
    return tensor_value(tag, array, _TENSOR_METADATA)
