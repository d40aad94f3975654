"""Text dashboard: ``add_text``."""

from __future__ import annotations

from typing import Any

from tblog import _convert
from tblog.methods._base import WriterBase
from tblog.summary.text import text_value


class TextMethods(WriterBase):
    """Markdown text over steps."""

    def add_text(
        self,
        tag: str,
        text_string: str,
        global_step: Any = None,
        walltime: float | None = None,
    ) -> None:
        """Log Markdown text (Text dashboard) under ``<tag>/text_summary``, as torch names it."""
        _convert.tag(tag)
        if not isinstance(text_string, str):
            raise TypeError(f"text_string must be a str; got {_convert.describe(text_string)}")
        _convert.text(text_string, "text_string")
        step, wall = self._step_and_wall(global_step, walltime)
        if not self.is_writing:
            return
        self._put_values([text_value(tag + "/text_summary", text_string)], step, wall)
