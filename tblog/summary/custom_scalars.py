"""Custom Scalars dashboard: a chart layout as TensorBoard's custom_scalars plugin reads it.

One ``Value`` under the tag ``custom_scalars__config__``: a rank-0 string tensor holding a
serialized ``Layout`` (categories of charts; a multiline chart draws every scalar tag that
matches one of its regular expressions, a margin chart draws a value tag between a lower
and an upper tag), with the plugin ``custom_scalars`` in the metadata.

Layouts come in torch's dict form::

    {category: {chart title: ["Multiline", [tag regex, ...]]
                            | ["Margin", [value tag, lower tag, upper tag]]}}

The plugin reads the *last* layout of each run and merges the runs' layouts by category.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tblog import _convert
from tblog.summary import _wire

PLUGIN_NAME = "custom_scalars"
CONFIG_TAG = "custom_scalars__config__"
MULTILINE, MARGIN = "Multiline", "Margin"
_DATA_CLASS_TENSOR = 2

# chart title -> (chart type, tags); categories and charts keep their insertion order.
Charts = dict[str, tuple[str, tuple[str, ...]]]
Layout = dict[str, Charts]

_METADATA_FIELD = _wire.field_bytes(
    b"\x4a", _wire.plugin_metadata(PLUGIN_NAME, data_class=_DATA_CLASS_TENSOR)
)
# dtype DT_STRING, tensor_shape {} (a scalar)
_TENSOR_HEAD = b"\x08\x07\x12\x00"

_SPEC = '["Multiline", [tags]] or ["Margin", [value, lower, upper]]'


def check_layout(layout: Any, name: str = "layout") -> Layout:
    """Validate torch's dict layout; return it as ``{category: {title: (type, tags)}}``."""
    if not isinstance(layout, Mapping):
        raise TypeError(
            f"{name} must be a dict {{category: {{chart title: {_SPEC}}}}}; got {_convert.describe(layout)}"
        )
    out: Layout = {}
    for category, charts in layout.items():
        _title(category, f"{name} keys (categories)")
        where = f"{name}[{category!r}]"
        if not isinstance(charts, Mapping):
            raise TypeError(
                f"{where} must be a dict {{chart title: {_SPEC}}}; got {_convert.describe(charts)}"
            )
        out[category] = {}
        for title, spec in charts.items():
            _title(title, f"{where} keys (chart titles)")
            out[category][title] = check_chart(spec, f"{where}[{title!r}]")
    return out


def check_chart(spec: Any, name: str) -> tuple[str, tuple[str, ...]]:
    """One chart ``[type, tags]`` → ``(type, tags)``."""
    if isinstance(spec, (str, bytes)) or not isinstance(spec, (list, tuple)) or len(spec) != 2:
        raise TypeError(f"{name} must be {_SPEC}; got {_convert.describe(spec)}")
    kind, tags = spec
    if kind not in (MULTILINE, MARGIN):
        raise ValueError(f"{name}[0] must be the chart type 'Multiline' or 'Margin'; got {kind!r}")
    return kind, check_tags(tags, kind, f"{name}[1]")


def check_tags(tags: Any, kind: str, name: str = "tags") -> tuple[str, ...]:
    """A chart's tags: a list of non-empty str; 3 for a margin chart, regexes for multiline."""
    if isinstance(tags, (str, bytes)) or not isinstance(tags, (list, tuple)):
        raise TypeError(f"{name} must be a list of scalar tags; got {_convert.describe(tags)}")
    for tag in tags:
        if not isinstance(tag, str) or not tag:
            raise TypeError(f"{name} must hold non-empty str tags; got {_convert.describe(tag)}")
        _convert.text(tag, name)
    if kind == MARGIN and len(tags) != 3:
        raise ValueError(
            f"{name} of a Margin chart must be exactly 3 tags [value, lower, upper]; "
            f"got {len(tags)}: {tags!r}"
        )
    if kind == MULTILINE:
        if not tags:
            raise ValueError(f"{name} of a Multiline chart must name at least one tag")
        for tag in tags:
            try:
                re.compile(tag)
            except re.error as exc:
                raise ValueError(
                    f"{name}: Multiline tags are regular expressions; {tag!r} is not one ({exc})"
                ) from None
    return tuple(tags)


def _title(value: Any, name: str) -> None:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name} must be non-empty str; got {_convert.describe(value)}")
    _convert.text(value, name)


def merge(old: Layout, new: Layout) -> Layout:
    """``old`` with ``new``'s categories added; a chart of the same title is replaced in place."""
    out = {category: dict(charts) for category, charts in old.items()}
    for category, charts in new.items():
        out.setdefault(category, {}).update(charts)
    return out


def layout_proto_bytes(layout: Layout) -> bytes:
    """The serialized ``Layout`` message."""
    from tblog.proto import custom_scalar_layout_pb2 as pb

    message = pb.Layout()
    for category, charts in layout.items():
        cat = message.category.add(title=category)
        for title, (kind, tags) in charts.items():
            chart = cat.chart.add(title=title)
            if kind == MARGIN:
                chart.margin.series.add(value=tags[0], lower=tags[1], upper=tags[2])
            else:
                chart.multiline.tag.extend(tags)
    return bytes(message.SerializeToString())


def layout_value(layout: Layout) -> bytes:
    """The encoded ``Summary.Value`` carrying ``layout``."""
    tensor = _TENSOR_HEAD + _wire.field_bytes(b"\x42", layout_proto_bytes(layout))  # string_val
    return _wire.field_str(b"\x0a", CONFIG_TAG) + _wire.field_bytes(b"\x42", tensor) + _METADATA_FIELD
