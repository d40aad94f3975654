"""Scalars dashboard: ``Summary.Value`` and whole ``Event`` encodings for one number.

Two layouts, as torch.utils.tensorboard writes them:

* legacy (default): ``Value(tag, simple_value=float32)``; TensorBoard files it under the
  scalars plugin by itself, and it is the smallest record.
* ``new_style``: ``Value(tag, tensor=TensorProto(DT_FLOAT, shape [], float_val=[v]),
  metadata=scalars plugin)``, or DT_DOUBLE / ``double_val`` with ``double_precision``.
"""

from __future__ import annotations

import struct
from typing import Any, NamedTuple

import numpy as np

from tblog.summary import _wire

PLUGIN_NAME = "scalars"
_DATA_CLASS_SCALAR = 1
_DT_FLOAT = 1
_DT_DOUBLE = 2

_F32 = struct.Struct("<f")
_F64 = struct.Struct("<d")
_WALL = struct.Struct("<Bd")


def pack_float32(value: float) -> bytes:
    """Little-endian float32; out-of-range values become ±inf as a float32 cast does."""
    try:
        return _F32.pack(value)
    except OverflowError:
        with np.errstate(over="ignore"):
            return np.array(value, dtype="<f4").tobytes()


class _Layout(NamedTuple):
    """Constant bytes around the number: ``prefix + pack(value) + suffix``."""

    prefix: bytes
    pack: struct.Struct
    suffix: bytes


def _value_layout(tag: str, new_style: bool, double_precision: bool) -> _Layout:
    """The layout of a ``Summary.Value``."""
    tag_field = _wire.field_str(b"\x0a", tag)
    if not new_style:
        return _Layout(tag_field + b"\x15", _F32, b"")  # simple_value
    if double_precision:
        tensor_head, pack = b"\x08\x02\x12\x00\x32\x08", _F64  # DT_DOUBLE, shape [], double_val
    else:
        tensor_head, pack = b"\x08\x01\x12\x00\x2a\x04", _F32  # DT_FLOAT, shape [], float_val
    metadata = _wire.plugin_metadata(PLUGIN_NAME, data_class=_DATA_CLASS_SCALAR)
    tensor_len = len(tensor_head) + pack.size
    prefix = tag_field + b"\x42" + _wire.varint(tensor_len) + tensor_head
    return _Layout(prefix, pack, _wire.field_bytes(b"\x4a", metadata))


def _event_layout(tag: str, new_style: bool, double_precision: bool) -> _Layout:
    """The layout of ``Event.summary`` holding that one value (wall time and step go before)."""
    value = _value_layout(tag, new_style, double_precision)
    value_len = len(value.prefix) + value.pack.size + len(value.suffix)
    summary_len = 1 + len(_wire.varint(value_len)) + value_len
    headers = _wire.EVENT_SUMMARY + _wire.varint(summary_len) + b"\x0a" + _wire.varint(value_len)
    return _Layout(headers + value.prefix, value.pack, value.suffix)


def _pack(layout: _Layout, value: float) -> bytes:
    return layout.pack.pack(value) if layout.pack is _F64 else pack_float32(value)


def scalar_value(tag: str, value: float, *, new_style: bool = False, double_precision: bool = False) -> bytes:
    """An encoded ``Summary.Value`` holding one scalar."""
    layout = _value_layout(tag, new_style, double_precision)
    return layout.prefix + _pack(layout, value) + layout.suffix


class ScalarEventEncoder:
    """Encodes whole scalar Events, caching each tag's constant bytes.

    Lives on the background writer's thread; one instance per writer, so no locking.
    """

    _MAX_TAGS = 100_000
    _MAX_STEPS = 4096

    def __init__(self) -> None:
        self._layouts: dict[tuple[str, bool, bool], _Layout] = {}
        self._legacy: dict[str, bytes] = {}
        self._steps: dict[int, bytes] = {}
        self._multi: dict[tuple[str, ...], tuple[bytes, list[Any], struct.Struct]] = {}

    def step_field(self, step: int) -> bytes:
        field = self._steps.get(step)
        if field is None:
            field = _wire.EVENT_STEP + _wire.varint(step) if step else b""
            if len(self._steps) >= self._MAX_STEPS:
                self._steps.clear()
            self._steps[step] = field
        return field

    def legacy_events(self, items: list[tuple[str, float, int, float]]) -> list[bytes]:
        """Events for ``(tag, value, step, wall_time)`` items in the default layout."""
        prefixes = self._legacy
        steps = self._steps
        pack_wall = _WALL.pack
        pack_f32 = _F32.pack
        out: list[bytes] = []
        append = out.append
        for tag, value, step, wall_time in items:
            prefix = prefixes.get(tag)
            if prefix is None:
                prefix = self.legacy_prefix(tag)
            step_field = steps.get(step)
            if step_field is None:
                step_field = self.step_field(step)
            try:
                number = pack_f32(value)
            except OverflowError:
                number = pack_float32(value)
            head = pack_wall(9, wall_time) if wall_time else b""
            append(head + step_field + prefix + number)
        return out

    def legacy_prefix(self, tag: str) -> bytes:
        """Everything of a legacy scalar Event after wall time and step, but the float32."""
        prefix = self._legacy.get(tag)
        if prefix is None:
            if len(self._legacy) >= self._MAX_TAGS:
                self._legacy.clear()
            prefix = self._legacy[tag] = _event_layout(tag, False, False).prefix
        return prefix

    def event(
        self,
        tag: str,
        value: float,
        step: int,
        wall_time: float,
        new_style: bool = False,
        double_precision: bool = False,
    ) -> bytes:
        """One scalar Event in any layout."""
        key = (tag, new_style, double_precision)
        layout = self._layouts.get(key)
        if layout is None:
            if len(self._layouts) >= self._MAX_TAGS:
                self._layouts.clear()
            layout = self._layouts[key] = _event_layout(tag, new_style, double_precision)
        number = _pack(layout, value)
        head = _WALL.pack(9, wall_time) if wall_time else b""
        return head + self.step_field(step) + layout.prefix + number + layout.suffix

    def multi_event(self, tags: tuple[str, ...], values: list[float], step: int, wall_time: float) -> bytes:
        """One Event whose Summary holds a legacy scalar per tag (``writer.log``)."""
        layout = self._multi.get(tags)
        if layout is None:
            layout = self._multi_layout(tags)
        header, prefixes, packer = layout
        arguments = prefixes.copy()  # [p0, None, p1, None, …]: the values go in the gaps
        arguments[1::2] = values
        try:
            body = packer.pack(*arguments)
        except (OverflowError, struct.error):
            body = b"".join(p + pack_float32(v) for p, v in zip(prefixes[::2], values, strict=True))
        head = _WALL.pack(9, wall_time) if wall_time else b""
        return head + self.step_field(step) + header + body

    def _multi_layout(self, tags: tuple[str, ...]) -> tuple[bytes, list[Any], struct.Struct]:
        prefixes = []
        for tag in tags:
            value = _value_layout(tag, False, False).prefix
            prefixes.append(b"\x0a" + _wire.varint(len(value) + 4) + value)
        summary_len = sum(len(p) + 4 for p in prefixes)
        header = _wire.EVENT_SUMMARY + _wire.varint(summary_len)
        packer = struct.Struct("<" + "".join(f"{len(p)}sf" for p in prefixes))
        slots: list[Any] = [slot for prefix in prefixes for slot in (prefix, None)]
        if len(self._multi) >= 1024:
            self._multi.clear()
        layout = self._multi[tags] = (header, slots, packer)
        return layout
