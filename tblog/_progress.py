"""A one-line progress bar on stderr, with no dependency.

Shown only when the stream is a terminal (a log file or a pipe gets no carriage-return
clutter), unless ``TBLOG_PROGRESS=1`` forces it on (``0`` forces it off). Redraws are
throttled, so updating it on every step of a fast loop costs a clock read, not a write.

    with Progress(total=500, label="training") as bar:
        for step in range(500):
            ...
            bar.advance()
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from types import TracebackType
from typing import TextIO

__all__ = ["Progress", "progress_enabled"]

_FORCE_ENV = "TBLOG_PROGRESS"


def progress_enabled(stream: TextIO, quiet: bool = False) -> bool:
    """Whether a bar belongs on ``stream``: never when quiet, else per TBLOG_PROGRESS or isatty."""
    if quiet:
        return False
    forced = os.environ.get(_FORCE_ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"


def _amount(value: float, unit: str) -> str:
    if unit != "B":
        return f"{value:,.0f}{unit and ' ' + unit}"
    for prefix in ("", "Ki", "Mi", "Gi"):
        if value < 1024 or prefix == "Gi":
            return f"{value:.0f} B" if not prefix else f"{value:.1f} {prefix}B"
        value /= 1024
    raise AssertionError("unreachable")


class Progress:
    """``label [#####-----]  42%  210/500  00:03 < 00:04`` redrawn in place.

    ``total=0`` or ``None`` shows a count without a bar. ``enabled=None`` decides with
    :func:`progress_enabled`; a disabled bar does nothing at all.
    """

    def __init__(
        self,
        total: float | None,
        label: str = "",
        *,
        unit: str = "",
        stream: TextIO | None = None,
        enabled: bool | None = None,
        min_interval: float = 0.1,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = progress_enabled(self.stream) if enabled is None else enabled
        self.total = total or None
        self.label = label
        self.unit = unit
        self.done = 0.0
        self.min_interval = min_interval
        self._started = time.monotonic()
        self._last_draw = float("-inf")
        self._closed = False

    def advance(self, amount: float = 1) -> None:
        """Count ``amount`` more units done; redraws at most every ``min_interval`` seconds."""
        self.done += amount
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last_draw >= self.min_interval:
            self._draw(now)

    def close(self) -> None:
        """Draw the final state and end the line (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self.enabled:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def render(self, now: float, width: int) -> str:
        """The line for ``now``, at most ``width`` characters."""
        elapsed = now - self._started
        label = f"{self.label} " if self.label else ""
        if self.total is None:
            line = f"{label}{_amount(self.done, self.unit)}  {_duration(elapsed)}"
            return line[:width]
        fraction = min(1.0, self.done / self.total)
        if 0 < fraction < 1:
            timing = f"{_duration(elapsed)} < {_duration(elapsed / fraction - elapsed)}"
        else:
            timing = _duration(elapsed)
        done = _amount(self.done, self.unit) if self.unit == "B" else f"{self.done:,.0f}"
        tail = f" {fraction:4.0%}  {done}/{_amount(self.total, self.unit)}  {timing}"
        bar_width = min(30, width - len(label) - len(tail) - 2)
        if bar_width < 5:  # a narrow terminal: numbers only
            return (label + tail.strip())[:width]
        filled = int(fraction * bar_width)
        return f"{label}[{'#' * filled}{'-' * (bar_width - filled)}]{tail}"[:width]

    def _draw(self, now: float) -> None:
        self._last_draw = now
        width = max(20, shutil.get_terminal_size((80, 24)).columns - 1)
        # \r back to the start, the line, then clear whatever a longer previous line left.
        self.stream.write("\r" + self.render(now, width) + "\x1b[K")
        self.stream.flush()
