"""The shared TensorProto encoder and add_tensor: every dtype round-trips through TensorBoard's
tensor_util, bytes equal protobuf's, parity with torch.utils.tensorboard, and bad input."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tblog
from tblog.proto import summary_pb2, tensor_pb2, tensor_shape_pb2
from tblog.summary import tensor as T

ARRAYS = {
    "float32": np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
    "float64": np.array([[1e-300, -2.5], [np.pi, 1e300]]),
    "float16": np.array([0.5, -65504.0, 6e-8], dtype=np.float16),
    "int8": np.array([-128, 0, 127], dtype=np.int8),
    "int16": np.array([-32768, 32767], dtype=np.int16),
    "int32": np.arange(-3, 3, dtype=np.int32).reshape(2, 3, 1),
    "int64": np.array([-(2**63), 2**63 - 1]),
    "uint8": np.array([0, 255], dtype=np.uint8),
    "uint16": np.array([65535], dtype=np.uint16),
    "uint32": np.array([2**32 - 1], dtype=np.uint32),
    "uint64": np.array([2**64 - 1], dtype=np.uint64),
    "bool": np.array([[True, False], [False, True]]),
    "complex64": np.array([1 + 2j, -3j], dtype=np.complex64),
    "complex128": np.array([1e200 + 1j]),
    "scalar": np.float32(2.5),
    "empty": np.zeros((2, 0, 3), dtype=np.float32),
    "big_endian": np.array([1.5, -2.0], dtype=">f8"),
    "strided": np.arange(20, dtype=np.int64).reshape(4, 5)[::2, ::-1],
}
STRINGS = {
    "unicode": np.array([["héllo", ""], ["a", "日本"]]),
    "bytes": np.array([b"\x00\xff", b"ab"]),
    "object": np.array(["x", b"y"], dtype=object),
    "empty_str": np.zeros((0,), dtype=str),
}


def _decoded(encoded: bytes) -> np.ndarray:
    """Decode an encoded TensorProto with TensorBoard's own reader."""
    from tensorboard.compat.proto import tensor_pb2 as tb_tensor_pb2
    from tensorboard.util import tensor_util

    return tensor_util.make_ndarray(tb_tensor_pb2.TensorProto.FromString(encoded))


def _as_stored(array: np.ndarray) -> np.ndarray:
    """What a string array reads back as: an object array of bytes (str as UTF-8)."""
    if array.dtype.kind in "USO":
        items = [x.encode() if isinstance(x, str) else x for x in array.reshape(-1).tolist()]
        return np.array(items, dtype=object).reshape(array.shape)
    return array


@pytest.mark.tensorboard
@pytest.mark.parametrize("name", sorted({**ARRAYS, **STRINGS}))
def test_round_trip_through_tensor_util(name: str) -> None:
    """TensorBoard's make_ndarray gives back the same dtype, shape and values."""
    array = {**ARRAYS, **STRINGS}[name]
    result = _decoded(T.tensor_proto(array))
    assert result.shape == np.shape(array)
    if np.asarray(array).dtype.kind in "USO":
        assert result.dtype == object
        assert result.tolist() == _as_stored(array).tolist()
    else:
        assert result.dtype == np.asarray(array).dtype.newbyteorder("=")
        np.testing.assert_array_equal(result, array)


@pytest.mark.parametrize("name", sorted({**ARRAYS, **STRINGS}))
def test_bytes_equal_protobuf(name: str) -> None:
    """The hand encoding is byte for byte protobuf's serialization of the same TensorProto."""
    array = np.asarray({**ARRAYS, **STRINGS}[name])
    shape = tensor_shape_pb2.TensorShapeProto(
        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=s) for s in array.shape]
    )
    expected = tensor_pb2.TensorProto(dtype=T.dtype_enum(array.dtype), tensor_shape=shape)
    if array.dtype.kind in "USO":
        expected.string_val.extend(_as_stored(array).reshape(-1).tolist())
    else:
        expected.tensor_content = np.ascontiguousarray(array, array.dtype.newbyteorder("<")).tobytes()
    assert T.tensor_proto(array) == expected.SerializeToString()


def test_dtype_enums() -> None:
    """NumPy dtypes map to TensorFlow's DataType numbers; the unsupported ones are named."""
    assert T.dtype_enum(np.float32) == 1 and T.dtype_enum(np.float64) == 2
    assert T.dtype_enum(np.int32) == 3 and T.dtype_enum(np.uint8) == 4 and T.dtype_enum(np.int64) == 9
    assert T.dtype_enum(np.bool_) == 10 and T.dtype_enum(np.float16) == 19 and T.dtype_enum(str) == 7
    assert T.dtype_enum(">i8") == 9
    for bad in ("datetime64[s]", "V4", np.longdouble if np.dtype(np.longdouble).itemsize > 8 else "m8"):
        with pytest.raises(TypeError, match="no TensorProto equivalent"):
            T.dtype_enum(bad)
    with pytest.raises(TypeError, match="only str or bytes; got an element of type dict"):
        T.tensor_proto(np.array([{}], dtype=object))


def test_add_tensor_layout(tmp_path: Path, event_accumulator: Any) -> None:
    """add_tensor writes torch's layout: the tag as given, plugin 'tensor', the array's dtype/shape."""
    array = np.arange(6, dtype=np.int64).reshape(2, 3)
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_tensor("t/a", array, 3, walltime=12.5)
        writer.add_tensor("t/a", array * 2, 4)
        writer.add_tensor("names", ["a", "bé"], 0)
        writer.add_tensor("list", [[1.5, 2.5]], 0)
    from tensorboard.util import tensor_util

    acc = event_accumulator(tmp_path)
    events = acc.Tensors("t/a")
    assert [(e.step, e.wall_time) for e in events[:1]] == [(3, 12.5)] and events[1].step == 4
    np.testing.assert_array_equal(tensor_util.make_ndarray(events[1].tensor_proto), array * 2)
    assert events[0].tensor_proto.dtype == 9  # DT_INT64
    assert acc.SummaryMetadata("t/a").plugin_data.plugin_name == "tensor"
    assert acc.SummaryMetadata("t/a").data_class == summary_pb2.DATA_CLASS_TENSOR
    assert tensor_util.make_ndarray(acc.Tensors("names")[0].tensor_proto).tolist() == [b"a", "bé".encode()]
    assert tensor_util.make_ndarray(acc.Tensors("list")[0].tensor_proto).tolist() == [[1.5, 2.5]]


@pytest.mark.tensorboard
def test_data_provider_lists_the_tensors(tmp_path: Path) -> None:
    """TensorBoard's data provider serves add_tensor's values under plugin 'tensor'."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer

    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_tensor("x", np.eye(2, dtype=np.float32), 1)
    mux = plugin_event_multiplexer.EventMultiplexer()
    mux.AddRunsFromDirectory(os.fspath(tmp_path))
    mux.Reload()
    provider = data_provider.MultiplexerDataProvider(mux, os.fspath(tmp_path))
    ctx = context.RequestContext()
    assert list(provider.list_tensors(ctx, experiment_id="", plugin_name="tensor")["."]) == ["x"]
    [datum] = provider.read_tensors(ctx, experiment_id="", plugin_name="tensor", downsample=10)["."]["x"]
    assert datum.step == 1
    np.testing.assert_array_equal(datum.numpy, np.eye(2))


def test_snapshot_at_call_time(tmp_path: Path, event_accumulator: Any) -> None:
    """Changing the array after add_tensor changes nothing logged."""
    from tensorboard.util import tensor_util

    array = np.zeros(4)
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_tensor("t", array, 0)
        array[:] = 1.0
    logged = tensor_util.make_ndarray(event_accumulator(tmp_path).Tensors("t")[0].tensor_proto)
    np.testing.assert_array_equal(logged, np.zeros(4))


def test_bad_input_is_refused_and_writer_stays_usable(tmp_path: Path, event_accumulator: Any) -> None:
    """Unsupported dtypes and tags raise clear errors in the caller; later calls work."""
    writer = tblog.SummaryWriter(tmp_path)
    with pytest.raises(TypeError, match=r"tensor must be an array of .* got ndarray of shape \(2,\)"):
        writer.add_tensor("t", np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[D]"), 0)
    with pytest.raises(TypeError, match=r"tensor must be an array .*\(.*element of type dict\)"):
        writer.add_tensor("t", np.array([{"a": 1}], dtype=object), 0)
    with pytest.raises(TypeError, match="tensor must be an array"):
        writer.add_tensor("t", None, 0)
    if np.dtype(np.longdouble).itemsize > 8:
        with pytest.raises(TypeError, match="no TensorProto equivalent"):
            writer.add_tensor("t", np.zeros(2, dtype=np.longdouble), 0)
    with pytest.raises(ValueError, match="tag must not be empty"):
        writer.add_tensor("", np.zeros(2), 0)
    with pytest.raises(TypeError, match="global_step must be an int"):
        writer.add_tensor("t", np.zeros(2), "one")
    writer.add_tensor("t", np.ones(2), 5)
    writer.close()
    assert [e.step for e in event_accumulator(tmp_path).Tensors("t")] == [5]


@pytest.mark.framework
def test_torch_and_jax_tensors(tmp_path: Path, event_accumulator: Any) -> None:
    """torch tensors (incl. bfloat16 as float32, grad-tracking) and JAX arrays round-trip."""
    torch = pytest.importorskip("torch")
    jnp = pytest.importorskip("jax.numpy")
    from tensorboard.util import tensor_util

    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_tensor("torch", torch.arange(6, dtype=torch.int32).reshape(2, 3), 0)
        writer.add_tensor("grad", torch.ones(2, requires_grad=True) * 3, 0)
        writer.add_tensor("bf16", torch.tensor([0.5, 1.5], dtype=torch.bfloat16), 0)
        writer.add_tensor("jax", jnp.arange(4.0, dtype=jnp.float32).reshape(2, 2), 0)
        writer.add_tensor("jax_bf16", jnp.asarray([0.25, 3.0], dtype=jnp.bfloat16), 0)
    acc = event_accumulator(tmp_path)

    def read(tag: str) -> np.ndarray:
        return tensor_util.make_ndarray(acc.Tensors(tag)[0].tensor_proto)

    assert read("torch").dtype == np.int32 and read("torch").tolist() == [[0, 1, 2], [3, 4, 5]]
    assert read("grad").tolist() == [3.0, 3.0]
    assert read("bf16").dtype == np.float32 and read("bf16").tolist() == [0.5, 1.5]
    assert read("jax").tolist() == [[0.0, 1.0], [2.0, 3.0]]
    assert read("jax_bf16").dtype == np.float32 and read("jax_bf16").tolist() == [0.25, 3.0]


@pytest.mark.framework
def test_parity_with_torch(tmp_path: Path, event_accumulator: Any) -> None:
    """torch.utils.tensorboard and tblog write the same tags, steps, metadata, dtypes and values."""
    torch = pytest.importorskip("torch")
    from tensorboard.util import tensor_util
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    tensors = {
        "f32": torch.randn(3, 4),
        "f64": torch.randn(5, dtype=torch.float64),
        # float16 left out: torch writes half_val entries TensorBoard cannot decode (tblog
        # writes tensor_content; see test_round_trip_through_tensor_util)
        "i8": torch.tensor([-3, 4], dtype=torch.int8),
        "i16": torch.tensor([300], dtype=torch.int16),
        "i32": torch.arange(6, dtype=torch.int32).reshape(3, 2),
        "i64": torch.tensor([2**40]),
        "bool": torch.tensor([True, False]),
        "scalar": torch.tensor(7.0),
    }
    theirs = TorchWriter(os.fspath(tmp_path / "torch"))
    ours = tblog.SummaryWriter(tmp_path / "tblog")
    for writer in (theirs, ours):
        for step, (tag, tensor) in enumerate(tensors.items()):
            writer.add_tensor(tag, tensor, step, walltime=1.0)
        writer.close()
    acc_theirs = event_accumulator(tmp_path / "torch")
    acc_ours = event_accumulator(tmp_path / "tblog")
    assert acc_ours.Tags()["tensors"] == acc_theirs.Tags()["tensors"]
    for tag in tensors:
        assert acc_ours.SummaryMetadata(tag).plugin_data == acc_theirs.SummaryMetadata(tag).plugin_data
        [a], [b] = acc_theirs.Tensors(tag), acc_ours.Tensors(tag)
        assert a.step == b.step and a.tensor_proto.dtype == b.tensor_proto.dtype
        assert a.tensor_proto.tensor_shape == b.tensor_proto.tensor_shape
        x, y = tensor_util.make_ndarray(a.tensor_proto), tensor_util.make_ndarray(b.tensor_proto)
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(x, y, err_msg=tag)
