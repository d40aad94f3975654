"""The sink of a writer on a rank that does not write: ``AsyncWriter``'s interface, doing nothing.

It owns no directory, file, thread or queue, so ``add_scalar`` on such a rank costs the
argument checks and one call that returns at once, with no ``if`` on the hot path of the
ranks that do write.
"""

from __future__ import annotations

from typing import Any


class NullWriter:
    """Takes events and drops them; ``flush()`` and ``close()`` have nothing to wait for."""

    ready = True

    def __init__(self, log_dir: str) -> None:
        self.log_dir = log_dir

    def put_scalar(self, tag: str, value: Any, step: int, wall_time: float) -> None:
        """Drop a hot-path scalar."""

    def put(self, kind: int, run: str, payload: Any, nbytes: int = 64) -> None:
        """Drop any other item."""

    def flush(self) -> None:
        """Nothing is pending."""

    def close(self, timeout: float | None = None) -> None:
        """Nothing to release."""

    def close_soon(self) -> None:
        """Nothing to release."""
