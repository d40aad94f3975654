"""``SummaryWriter``: the public face of tblog.

A drop-in for ``torch.utils.tensorboard.SummaryWriter`` and ``tensorboardX.SummaryWriter``:
same method names, argument names, positional order and on-disk layout. It validates and
converts arguments in the caller's thread (so bad input fails right there, naming the
argument), then hands the work to the background writer; it does no I/O and no encoding
of its own.
"""

from __future__ import annotations

import os
import posixpath
import socket
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tblog import _convert
from tblog.events.async_writer import BYTES, MULTI_SCALAR, SCALAR, AsyncWriter
from tblog.summary import _wire
from tblog.summary.text import text_value

_time = time.time
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def default_log_dir(comment: str = "") -> str:
    """``runs/<Mon><DD>_<HH>-<MM>-<SS>_<hostname><comment>``, as torch names runs."""
    stamp = datetime.now().strftime("%b%d_%H-%M-%S")
    return os.path.join("runs", f"{stamp}_{socket.gethostname()}{comment}")


class SummaryWriter:
    """Writes TensorBoard event files into ``log_dir``, asynchronously.

    Args:
        log_dir: run directory; default ``runs/<date>_<host><comment>``. ``logdir=`` is
            accepted too, as tensorboardX spells it.
        comment: appended to the default ``log_dir``; ignored when ``log_dir`` is given.
        purge_step: on resuming a crashed run at this step, TensorBoard hides the points
            of earlier files with ``step >= purge_step``.
        max_queue: pending events that wake the background writer before ``flush_secs``.
        flush_secs: the longest an event waits before it is handed to the OS.
        filename_suffix: appended to every event file name.
        max_pending_events, max_pending_bytes: the memory bound. A caller that logs faster
            than the disk takes blocks until the background writer catches up.

    Events reach the OS when ``max_queue`` are pending, every ``flush_secs``, on ``flush()``
    (a barrier) and on ``close()``; writers still open at interpreter exit are flushed.
    An error in the background thread is raised, chained, by the next call.
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str] | None = None,
        comment: str = "",
        purge_step: int | None = None,
        max_queue: int = 1024,
        flush_secs: float = 10.0,
        filename_suffix: str = "",
        *,
        logdir: str | os.PathLike[str] | None = None,
        max_pending_events: int = 65536,
        max_pending_bytes: int = 64 << 20,
    ) -> None:
        if logdir is not None:
            if log_dir is not None and os.fspath(log_dir) != os.fspath(logdir):
                raise ValueError(
                    f"log_dir and logdir name the same thing; got both {log_dir!r} and {logdir!r}"
                )
            log_dir = logdir
        if log_dir is None:
            log_dir = default_log_dir(_check_type(comment, str, "comment"))
        elif not isinstance(log_dir, (str, os.PathLike)):
            raise TypeError(f"log_dir must be a str or path; got {_convert.describe(log_dir)}")
        _check_type(filename_suffix, str, "filename_suffix")
        _check_positive(max_queue, "max_queue")
        _check_positive(flush_secs, "flush_secs")
        _check_positive(max_pending_events, "max_pending_events")
        _check_positive(max_pending_bytes, "max_pending_bytes")
        if max_pending_events < max_queue:
            raise ValueError(
                f"max_pending_events ({max_pending_events}) must be at least max_queue ({max_queue})"
            )
        self.log_dir = os.fspath(log_dir)
        self.purge_step = None if purge_step is None else _convert.step(purge_step, "purge_step")
        self._events = AsyncWriter(
            self.log_dir,
            filename_suffix=filename_suffix,
            purge_step=self.purge_step,
            max_queue=max_queue,
            flush_secs=float(flush_secs),
            max_pending_events=max_pending_events,
            max_pending_bytes=max_pending_bytes,
        )
        self._next_log_step = 0

    # ----- scalars -----------------------------------------------------------------------

    def add_scalar(
        self,
        tag: str,
        scalar_value: Any,
        global_step: Any = None,
        walltime: float | None = None,
        new_style: bool = False,
        double_precision: bool = False,
    ) -> None:
        """Log one number (Scalars dashboard).

        ``scalar_value`` may be a Python number or bool, a NumPy scalar or one-element array,
        a torch tensor (any device) or a JAX array. Device values are read on the background
        thread, never in the caller's. NaN and ±inf are logged as they are.
        ``new_style`` writes a tensor summary instead of ``simple_value`` (float64 with
        ``double_precision``), as torch does.
        """
        if type(tag) is not str or not tag:
            _convert.tag(tag)
        if type(scalar_value) is not float:
            scalar_value = _convert.scalar(scalar_value)
        if type(global_step) is int and _INT64_MIN <= global_step <= _INT64_MAX:
            step = global_step
        else:
            step = _convert.step(global_step)
        wall = _time() if walltime is None else _convert.walltime(walltime)
        if new_style:
            payload = (tag, scalar_value, step, wall, True, bool(double_precision))
            self._events.put(SCALAR, "", payload)
        else:
            self._events.put_scalar(tag, scalar_value, step, wall)

    def add_scalars(
        self,
        main_tag: str,
        tag_scalar_dict: Mapping[str, Any],
        global_step: Any = None,
        walltime: float | None = None,
    ) -> None:
        """Log several numbers on one chart: one sub-run per key, as torch lays them out.

        The value for key ``k`` goes to ``<log_dir>/<main_tag with / as _>_<k>/`` under the tag
        ``main_tag``, so TensorBoard overlays the sub-runs on one chart. All sub-runs are
        written by this writer's one background thread.
        """
        _convert.tag(main_tag, "main_tag")
        if not isinstance(tag_scalar_dict, Mapping):
            raise TypeError(
                f"tag_scalar_dict must be a mapping of str to scalar; "
                f"got {_convert.describe(tag_scalar_dict)}"
            )
        step = _convert.step(global_step)
        wall = _time() if walltime is None else _convert.walltime(walltime)
        items = []
        for key, value in tag_scalar_dict.items():
            _convert.tag(key, "tag_scalar_dict key")
            run = _sub_run(main_tag.replace("/", "_") + "_" + key)
            items.append((run, _convert.scalar(value, f"tag_scalar_dict[{key!r}]")))
        for run, value in items:
            self._events.put(SCALAR, run, (main_tag, value, step, wall, False, False))

    def log(
        self,
        metrics: Mapping[str, Any],
        step: Any = None,
        *,
        walltime: float | None = None,
    ) -> None:
        """Log a mapping of scalars as one event; nested mappings become ``a/b`` tags.

        ``step=None`` uses the writer's own counter: one more than the step of the previous
        ``log`` call (0 for the first). Values are checked before anything is queued, so a
        bad value logs nothing of that call.
        """
        if not isinstance(metrics, Mapping):
            raise TypeError(f"metrics must be a mapping of tag to scalar; got {_convert.describe(metrics)}")
        step = self._next_log_step if step is None else _convert.step(step, "step")
        wall = _time() if walltime is None else _convert.walltime(walltime)
        tags: list[str] = []
        values: list[Any] = []
        _flatten(metrics, "", tags, values)
        if len(set(tags)) != len(tags):
            duplicates = sorted({t for t in tags if tags.count(t) > 1})
            raise ValueError(f"metrics flatten to duplicate tags: {duplicates}")
        self._next_log_step = step + 1
        if tags:
            self._events.put(MULTI_SCALAR, "", (tuple(tags), values, step, wall), 16 * len(tags))

    # ----- text --------------------------------------------------------------------------

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
        step = _convert.step(global_step)
        wall = _time() if walltime is None else _convert.walltime(walltime)
        summary = _wire.summary([text_value(tag + "/text_summary", text_string)])
        event = _wire.event(wall, step, summary)
        self._events.put(BYTES, "", event, len(event))

    # ----- lifecycle ---------------------------------------------------------------------

    def get_logdir(self) -> str:
        """The run directory this writer writes to."""
        return self.log_dir

    def flush(self) -> None:
        """Block until every event logged before this call has been handed to the OS."""
        self._events.flush()

    def close(self) -> None:
        """Flush and close the event files. Idempotent.

        As with torch's writer, logging after ``close()`` opens a new event file in the same
        ``log_dir``.
        """
        self._events.close()

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        events = getattr(self, "_events", None)
        if events is not None:
            events.close_soon()

    def __repr__(self) -> str:
        return f"SummaryWriter(log_dir={self.log_dir!r})"


def _flatten(metrics: Mapping[str, Any], prefix: str, tags: list[str], values: list[Any]) -> None:
    for key, value in metrics.items():
        if not isinstance(key, str) or not key:
            raise TypeError(
                f"metrics keys must be non-empty str; got {_convert.describe(key)} under {prefix!r}"
            )
        tag = prefix + key
        if isinstance(value, Mapping):
            _flatten(value, tag + "/", tags, values)
        else:
            values.append(value if type(value) is float else _convert.scalar(value, f"metrics[{tag!r}]"))
            tags.append(tag)


def _sub_run(name: str) -> str:
    """A sub-run directory name that cannot leave the log directory."""
    parts = name.replace("\\", "/").split("/")
    if name.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise ValueError(
            f"add_scalars: sub-run {name!r} (main_tag + '_' + key) must be a relative path "
            "without empty, '.' or '..' parts"
        )
    return posixpath.join(*parts)


def _check_type(value: Any, expected: type, name: str) -> Any:
    if not isinstance(value, expected):
        raise TypeError(f"{name} must be a {expected.__name__}; got {_convert.describe(value)}")
    return value


def _check_positive(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number; got {_convert.describe(value)}")
