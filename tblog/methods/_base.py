"""What every group of ``add_*`` methods shares: the queue, and step/time conversion."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tblog import _convert
from tblog.events.async_writer import BYTES, DEFERRED, AsyncWriter
from tblog.events.null import NullWriter
from tblog.summary import _wire

_time = time.time


class WriterBase:
    """State the method mixins use; ``SummaryWriter.__init__`` sets it up."""

    log_dir: str
    _events: AsyncWriter | NullWriter  # NullWriter on a rank that does not write
    rank: int = 0
    per_rank: bool = False
    # False on a rank that does not write: the add_* methods return once their arguments
    # are checked, before copying or encoding anything.
    is_writing: bool = True

    @staticmethod
    def _step_and_wall(global_step: Any, walltime: Any) -> tuple[int, float]:
        """``global_step`` as an int64 (None: 0) and ``walltime`` as seconds (None: now)."""
        step = _convert.step(global_step)
        return step, _time() if walltime is None else _convert.walltime(walltime)

    def _put_values(self, values: list[bytes], step: int, wall: float, run: str = "") -> None:
        """Queue one Event holding these encoded ``Summary.Value`` messages."""
        event = _wire.event(wall, step, _wire.summary(values))
        self._events.put(BYTES, run, event, len(event))

    def _put_deferred(self, encode: Callable[[], bytes], nbytes: int, run: str = "") -> None:
        """Queue ``encode()``, which returns Event bytes, to run on the writer thread.

        For heavy encodings (PNG, GIF, WAV, binning): the caller pays only for its checks
        and a copy of the data; ``nbytes`` is what the queued data weighs in memory.
        """
        self._events.put(DEFERRED, run, encode, nbytes)
