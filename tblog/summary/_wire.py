"""Hand encoding of the few protobuf shapes on tblog's hot paths.

Building a protobuf object per call costs microseconds; these helpers write the same bytes
directly. Output follows protobuf's canonical serialization (fields in number order, proto3
defaults omitted), and tests compare it byte for byte with protobuf's own serializer.
"""

from __future__ import annotations

import struct

_F64 = struct.Struct("<d")
_ZERO_F64 = bytes(8)

# Tags (field number << 3 | wire type) used below.
EVENT_WALL_TIME = b"\x09"  # 1, fixed64
EVENT_STEP = b"\x10"  # 2, varint
EVENT_FILE_VERSION = b"\x1a"  # 3, length-delimited
EVENT_SUMMARY = b"\x2a"  # 5
EVENT_SESSION_LOG = b"\x3a"  # 7
EVENT_SOURCE_METADATA = b"\x52"  # 10


def varint(value: int) -> bytes:
    """Base-128 varint; negative int64 values take ten bytes, as protobuf writes them."""
    if 0 <= value < 0x80:
        return bytes((value,))
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def field_bytes(key: bytes, payload: bytes) -> bytes:
    """A length-delimited field (string, bytes or sub-message)."""
    return key + varint(len(payload)) + payload


def field_str(key: bytes, text: str) -> bytes:
    return field_bytes(key, text.encode("utf-8"))


def event_head(wall_time: float, step: int) -> bytes:
    """Event fields 1 and 2; proto3 leaves out zeros."""
    packed = _F64.pack(wall_time)
    head = b"" if packed == _ZERO_F64 else EVENT_WALL_TIME + packed
    if step:
        head += EVENT_STEP + varint(step)
    return head


def event(wall_time: float, step: int, summary: bytes) -> bytes:
    """An Event carrying an encoded Summary."""
    return event_head(wall_time, step) + field_bytes(EVENT_SUMMARY, summary)


def summary(values: list[bytes]) -> bytes:
    """A Summary from encoded Summary.Value messages."""
    return b"".join(field_bytes(b"\x0a", value) for value in values)


def file_version_event(wall_time: float, writer_name: str = "tblog") -> bytes:
    """The first record of every event file."""
    source = field_str(b"\x0a", writer_name)  # SourceMetadata.writer
    return (
        event_head(wall_time, 0)
        + field_str(EVENT_FILE_VERSION, "brain.Event:2")
        + field_bytes(EVENT_SOURCE_METADATA, source)
    )


def session_start_event(wall_time: float, step: int) -> bytes:
    """SessionLog(START) at ``step``: TensorBoard then drops older points with step >= it."""
    return event_head(wall_time, step) + field_bytes(EVENT_SESSION_LOG, b"\x08\x01")


def plugin_metadata(plugin_name: str, content: bytes = b"", data_class: int = 0) -> bytes:
    """SummaryMetadata with plugin_data (field 1) and data_class (field 4)."""
    plugin_data = field_str(b"\x0a", plugin_name)
    if content:
        plugin_data += field_bytes(b"\x12", content)
    out = field_bytes(b"\x0a", plugin_data)
    if data_class:
        out += b"\x20" + varint(data_class)
    return out
