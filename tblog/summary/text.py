"""Text dashboard: a string tensor under the ``text`` plugin; TensorBoard renders it as Markdown."""

from __future__ import annotations

from tblog.summary import _wire

PLUGIN_NAME = "text"
_DATA_CLASS_TENSOR = 2
_DT_STRING = 7

# TextPluginData(version=0) serializes to nothing, so the metadata is constant.
_METADATA_FIELD = _wire.field_bytes(
    b"\x4a", _wire.plugin_metadata(PLUGIN_NAME, data_class=_DATA_CLASS_TENSOR)
)
# dtype DT_STRING, tensor_shape { dim { size: 1 } }
_TENSOR_HEAD = b"\x08\x07" + _wire.field_bytes(b"\x12", _wire.field_bytes(b"\x12", b"\x08\x01"))


def text_value(tag: str, text: str) -> bytes:
    """An encoded ``Summary.Value`` holding one Markdown string as a shape-[1] string tensor."""
    tensor = _TENSOR_HEAD + _wire.field_str(b"\x42", text)  # string_val
    return _wire.field_str(b"\x0a", tag) + _wire.field_bytes(b"\x42", tensor) + _METADATA_FIELD
