"""Custom Scalars dashboard: ``add_custom_scalars`` and its chart helpers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tblog import _convert
from tblog.methods._base import WriterBase
from tblog.summary import custom_scalars as _cs


class CustomScalarMethods(WriterBase):
    """Charts that combine scalar tags: several lines on one chart, or a value with margins.

    Unlike torch, where each call replaces the layout (TensorBoard reads a run's last one),
    the calls of one writer add up: each writes the layout of all calls so far, a chart of
    an existing category and title replacing the earlier one. So several
    ``add_custom_scalars_multilinechart`` calls give several charts.
    """

    _custom_scalar_layout: _cs.Layout = {}  # never mutated: each call assigns a merged copy

    def add_custom_scalars(self, layout: Mapping[str, Any]) -> None:
        """Lay out charts of scalar tags (Custom Scalars dashboard), in torch's dict form.

        ``layout = {category: {chart title: ["Multiline", [tag regex, ...]]}}`` draws every
        scalar tag matching one of the regexes on one chart; ``["Margin", [value, lower,
        upper]]`` draws ``value`` with the band between ``lower`` and ``upper``. Can be
        called before or after the scalars are logged.
        """
        self._write_layout(_cs.check_layout(layout))

    def add_custom_scalars_multilinechart(
        self, tags: list[str], category: str = "default", title: str = "untitled"
    ) -> None:
        """One chart of every scalar tag that matches one of ``tags`` (regular expressions)."""
        charts = {_name(title, "title"): (_cs.MULTILINE, _cs.check_tags(tags, _cs.MULTILINE))}
        self._write_layout({_name(category, "category"): charts})

    def add_custom_scalars_marginchart(
        self, tags: list[str], category: str = "default", title: str = "untitled"
    ) -> None:
        """One chart of ``tags[0]`` drawn between ``tags[1]`` (lower) and ``tags[2]`` (upper)."""
        charts = {_name(title, "title"): (_cs.MARGIN, _cs.check_tags(tags, _cs.MARGIN))}
        self._write_layout({_name(category, "category"): charts})

    def _write_layout(self, layout: _cs.Layout) -> None:
        merged = _cs.merge(self._custom_scalar_layout, layout)
        if self.is_writing:
            step, wall = self._step_and_wall(None, None)
            self._put_values([_cs.layout_value(merged)], step, wall)
        self._custom_scalar_layout = merged


def _name(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name} must be a non-empty str; got {_convert.describe(value)}")
    return _convert.text(value, name)
