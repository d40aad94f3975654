"""tblog's hand-encoded events are byte-identical to protobuf's own serialization."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tblog.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2
from tblog.summary import _wire
from tblog.summary.scalar import ScalarEventEncoder, scalar_value
from tblog.summary.text import text_value

tags = st.text(min_size=1, max_size=300)
steps = st.integers(min_value=-(2**63), max_value=2**63 - 1)
walls = st.one_of(st.just(0.0), st.floats(min_value=0, max_value=4e9, allow_nan=False))
numbers = st.floats(allow_nan=True, allow_infinity=True, width=64)


def _scalar_event(tag: str, value: float, step: int, wall: float, style: str) -> bytes:
    """The protobuf-built reference for one scalar event."""
    if style == "legacy":
        summary_value = summary_pb2.Summary.Value(tag=tag, simple_value=value)
    else:
        double = style == "double"
        tensor = tensor_pb2.TensorProto(
            dtype=2 if double else 1, tensor_shape=tensor_shape_pb2.TensorShapeProto()
        )
        (tensor.double_val if double else tensor.float_val).append(value)
        metadata = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
            data_class=summary_pb2.DATA_CLASS_SCALAR,
        )
        summary_value = summary_pb2.Summary.Value(tag=tag, tensor=tensor, metadata=metadata)
    event = event_pb2.Event(wall_time=wall, step=step, summary=summary_pb2.Summary(value=[summary_value]))
    return event.SerializeToString()


def _float32(value: float) -> float:
    with np.errstate(over="ignore"):
        return float(np.float32(value))


@settings(max_examples=300, deadline=None)
@given(tag=tags, value=numbers, step=steps, wall=walls)
def test_legacy_scalar_event_matches_protobuf(tag: str, value: float, step: int, wall: float) -> None:
    """The hot-path encoder writes exactly protobuf's bytes, for any tag, value, step, time."""
    encoder = ScalarEventEncoder()
    expected = _scalar_event(tag, _float32(value), step, wall, "legacy")
    assert encoder.legacy_events([(tag, value, step, wall)]) == [expected]
    assert encoder.event(tag, value, step, wall) == expected


@settings(max_examples=200, deadline=None)
@given(tag=tags, value=numbers, step=steps, wall=walls, double=st.booleans())
def test_new_style_scalar_event_matches_protobuf(
    tag: str, value: float, step: int, wall: float, double: bool
) -> None:
    """new_style scalars (float32 or float64 tensors with scalars metadata) match protobuf."""
    style = "double" if double else "float"
    stored = value if double else _float32(value)
    expected = _scalar_event(tag, stored, step, wall, style)
    assert ScalarEventEncoder().event(tag, value, step, wall, True, double) == expected


@settings(max_examples=100, deadline=None)
@given(
    metrics=st.dictionaries(tags, numbers, min_size=1, max_size=20),
    step=steps,
    wall=walls,
)
def test_multi_scalar_event_matches_protobuf(metrics: dict[str, float], step: int, wall: float) -> None:
    """writer.log's one-event-many-values encoding matches protobuf."""
    values = [summary_pb2.Summary.Value(tag=t, simple_value=_float32(v)) for t, v in metrics.items()]
    expected = event_pb2.Event(
        wall_time=wall, step=step, summary=summary_pb2.Summary(value=values)
    ).SerializeToString()
    encoder = ScalarEventEncoder()
    for _ in range(2):  # the second call goes through the cached layout
        assert encoder.multi_event(tuple(metrics), list(metrics.values()), step, wall) == expected


@settings(max_examples=100, deadline=None)
@given(tag=tags, text=st.text(max_size=2000), step=steps, wall=walls)
def test_text_event_matches_protobuf(tag: str, text: str, step: int, wall: float) -> None:
    """Text summaries (a shape-[1] string tensor under the text plugin) match protobuf."""
    tensor = tensor_pb2.TensorProto(
        dtype=7,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=1)]),
        string_val=[text.encode("utf-8")],
    )
    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="text"),
        data_class=summary_pb2.DATA_CLASS_TENSOR,
    )
    value = summary_pb2.Summary.Value(tag=tag, tensor=tensor, metadata=metadata)
    expected = event_pb2.Event(
        wall_time=wall, step=step, summary=summary_pb2.Summary(value=[value])
    ).SerializeToString()
    assert _wire.event(wall, step, _wire.summary([text_value(tag, text)])) == expected


def test_scalar_value_matches_protobuf() -> None:
    """The standalone Summary.Value builder agrees with protobuf for each layout."""
    legacy = summary_pb2.Summary.Value(tag="a", simple_value=1.5).SerializeToString()
    assert scalar_value("a", 1.5) == legacy
    parsed = summary_pb2.Summary.Value.FromString(
        scalar_value("a", 1.5, new_style=True, double_precision=True)
    )
    assert list(parsed.tensor.double_val) == [1.5]
    assert parsed.metadata.plugin_data.plugin_name == "scalars"


def test_file_header_and_purge_events_match_protobuf() -> None:
    """The file_version header and the purge_step SessionLog match protobuf."""
    header = event_pb2.Event(
        wall_time=123.5,
        file_version="brain.Event:2",
        source_metadata=event_pb2.SourceMetadata(writer="tblog"),
    )
    assert _wire.file_version_event(123.5) == header.SerializeToString()
    start = event_pb2.Event(
        wall_time=5.0, step=40, session_log=event_pb2.SessionLog(status=event_pb2.SessionLog.START)
    )
    assert _wire.session_start_event(5.0, 40) == start.SerializeToString()


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**31, 2**63 - 1, -1, -(2**63)])
def test_varint_matches_protobuf(value: int) -> None:
    """Varints (including 10-byte negatives) match protobuf's int64 encoding."""
    encoded = event_pb2.Event(step=value).SerializeToString()
    expected = encoded[1:] if value else b""
    assert (_wire.varint(value) if value else b"") == expected


def test_float32_overflow_becomes_infinity() -> None:
    """A Python float beyond float32's range is stored as ±inf, as a float32 cast does."""
    event = event_pb2.Event.FromString(ScalarEventEncoder().event("big", -1e300, 1, 1.0))
    assert event.summary.value[0].simple_value == -math.inf
