"""``SummaryWriter``: the public face of tblog.

A drop-in for ``torch.utils.tensorboard.SummaryWriter`` and ``tensorboardX.SummaryWriter``:
same method names, argument names, positional order and on-disk layout. The ``add_*``
methods live in ``tblog.methods`` (one mixin per dashboard): they validate and convert
arguments in the caller's thread (so bad input fails right there, naming the argument),
then hand the work to the background writer. Nothing here does I/O or encoding.
"""

from __future__ import annotations

import os
import posixpath
import socket
from datetime import datetime
from typing import Any

from tblog import _convert, _rank
from tblog.events.async_writer import AsyncWriter
from tblog.events.null import NullWriter
from tblog.methods.audio import AudioMethods
from tblog.methods.custom_scalars import CustomScalarMethods
from tblog.methods.embeddings import EmbeddingMethods
from tblog.methods.file_writer import FileWriterMethods
from tblog.methods.graphs import GraphMethods
from tblog.methods.histograms import HistogramMethods
from tblog.methods.hparams import HParamsMethods
from tblog.methods.images import ImageMethods
from tblog.methods.mesh import MeshMethods
from tblog.methods.pr_curves import PrCurveMethods
from tblog.methods.scalars import ScalarMethods
from tblog.methods.tensors import TensorMethods
from tblog.methods.text import TextMethods


def default_log_dir(comment: str = "") -> str:
    """``runs/<Mon><DD>_<HH>-<MM>-<SS>_<hostname><comment>``, as torch names runs."""
    stamp = datetime.now().strftime("%b%d_%H-%M-%S")
    return os.path.join("runs", f"{stamp}_{socket.gethostname()}{comment}")


class SummaryWriter(
    ScalarMethods,
    TextMethods,
    HistogramMethods,
    ImageMethods,
    AudioMethods,
    PrCurveMethods,
    HParamsMethods,
    MeshMethods,
    CustomScalarMethods,
    EmbeddingMethods,
    TensorMethods,
    GraphMethods,
    FileWriterMethods,
):
    """Writes TensorBoard event files into ``log_dir``, asynchronously.

    Args:
        log_dir: run directory; default ``runs/<date>_<host><comment>``. ``logdir=`` is
            accepted too, as tensorboardX spells it.
        comment: appended to the default ``log_dir``; ignored when ``log_dir`` is given.
        purge_step: on resuming a crashed run at this step, TensorBoard hides the points
            of earlier files with ``step >= purge_step``.
        max_queue: pending events that wake the background writer before ``flush_secs``.
        flush_secs: the longest an event waits before it is handed to the OS.
        filename_suffix: appended to every event file name: no ``/``, ``os.sep`` or NUL, and
            short enough that the name stays within 255 bytes.
        max_pending_events, max_pending_bytes: the memory bound. A caller that logs faster
            than the disk takes blocks until the background writer catches up.
        rank: this process's global rank in a distributed job; default: detected
            (``torch.distributed`` once initialized, JAX once its multi-process runtime
            is up, else the ``RANK`` variable torchrun sets, else 0).
        per_rank: every rank writes, into its own run ``<log_dir>/rank_<rank>``. By default
            only rank 0 writes.
        storage_options: for a ``log_dir`` that is an fsspec URL (``s3://bucket/run``,
            ``gs://…``, ``memory://…``; needs ``pip install 'tblog[remote]'``), options of its
            file system (``{"endpoint_url": …}``, credentials). Without them fsspec's and the
            storage library's own settings apply (``AWS_*`` variables, ``FSSPEC_S3_*``). A URL
            run is written as immutable segments, one per flush (see ``tblog.events.remote``).
        separate_hparams_runs: torch's layout for ``add_hparams``: each call without
            ``run_name`` writes into its own sub-run ``<log_dir>/<time.time()>``. By default
            the first goes into this writer's own run (see ``add_hparams``).

    On a rank that does not write (``writer.is_writing`` is False) the writer creates no
    directory, file or thread; every ``add_*`` checks its arguments as rank 0 does (so a bug
    fails on every rank) and then returns without copying, converting or encoding anything;
    ``flush()`` and ``close()`` return at once. ``writer.rank`` is the rank it used.

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
        rank: int | None = None,
        per_rank: bool = False,
        storage_options: dict[str, Any] | None = None,
        separate_hparams_runs: bool = False,
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
        _check_filename_suffix(_check_type(filename_suffix, str, "filename_suffix"))
        _check_positive(max_queue, "max_queue")
        _check_positive(flush_secs, "flush_secs")
        _check_positive(max_pending_events, "max_pending_events")
        _check_positive(max_pending_bytes, "max_pending_bytes")
        if max_pending_events < max_queue:
            raise ValueError(
                f"max_pending_events ({max_pending_events}) must be at least max_queue ({max_queue})"
            )
        if not isinstance(per_rank, bool):
            raise TypeError(f"per_rank must be a bool; got {_convert.describe(per_rank)}")
        if not isinstance(separate_hparams_runs, bool):
            raise TypeError(
                f"separate_hparams_runs must be a bool; got {_convert.describe(separate_hparams_runs)}"
            )
        self.separate_hparams_runs = separate_hparams_runs
        storage_options = _check_storage_options(storage_options, os.fspath(log_dir))
        self.rank = _rank.detect_rank() if rank is None else _rank.check_rank(rank)
        self.per_rank = per_rank
        self.is_writing = per_rank or self.rank == 0
        self._root_log_dir = os.fspath(log_dir)
        self.log_dir = _rank_dir(self._root_log_dir, self.rank) if per_rank else self._root_log_dir
        self.purge_step = None if purge_step is None else _convert.step(purge_step, "purge_step")
        if not self.is_writing:
            self._events = NullWriter(self.log_dir)
        else:
            self._events = AsyncWriter(
                self.log_dir,
                filename_suffix=filename_suffix,
                purge_step=self.purge_step,
                max_queue=max_queue,
                flush_secs=float(flush_secs),
                max_pending_events=max_pending_events,
                max_pending_bytes=max_pending_bytes,
                storage_options=storage_options,
            )
        self._next_log_step = 0
        self._options = {
            "max_queue": max_queue,
            "flush_secs": flush_secs,
            "filename_suffix": filename_suffix,
            "max_pending_events": max_pending_events,
            "max_pending_bytes": max_pending_bytes,
            # The rank found here, not None: a data-loader worker of rank 1, say, is not
            # itself in the process group, and must not start writing as rank 0.
            "rank": self.rank,
            "per_rank": per_rank,
            "storage_options": storage_options,
            "separate_hparams_runs": separate_hparams_runs,
        }

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

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle as a new writer on the same log directory and options (for spawned workers,
        say). It writes its own event file; what this writer has pending stays with it."""
        return (_restore_writer, (self._root_log_dir, self._options))

    def __repr__(self) -> str:
        return f"SummaryWriter(log_dir={self.log_dir!r})"


def _check_type(value: Any, expected: type, name: str) -> Any:
    if not isinstance(value, expected):
        raise TypeError(f"{name} must be a {expected.__name__}; got {_convert.describe(value)}")
    return value


# Characters no file name may hold: the separators, NUL, and on Windows its reserved ones.
_NOT_IN_FILE_NAMES = ("/", os.sep, os.altsep or "/", "\0") + (tuple('<>:"|?*') if os.name == "nt" else ())


def _check_filename_suffix(suffix: str) -> None:
    """A suffix the OS takes at the end of an event file's name, checked before any file is
    created (the writer thread creates new files later, e.g. after close())."""
    for char in _NOT_IN_FILE_NAMES:
        if char in suffix:
            raise ValueError(
                f"filename_suffix is appended to the event file's name, so it must not hold "
                f"{char!r}; got {_convert.describe(suffix)}"
            )
    _convert.text(suffix, "filename_suffix")
    # events.out.tfevents.<10-digit time>.<host>.<pid, up to 7 digits>.tblog<n>: what is left
    # of the 255 bytes one file name may take.
    head = f"events.out.tfevents.0000000000.{socket.gethostname()}.0000000.tblog000000"
    room = _convert.MAX_NAME_BYTES - len(head.encode("utf-8", "surrogatepass"))
    size = len(suffix.encode("utf-8"))
    if size > room:
        raise ValueError(
            f"filename_suffix is {size} bytes (UTF-8); with the rest of the event file's name "
            f"({len(head)} bytes on this host) at most {room} fit in a file name"
        )


def _check_positive(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number; got {_convert.describe(value)}")


def _rank_dir(log_dir: str, rank: int) -> str:
    """``<log_dir>/rank_<rank>``; with ``/`` for a URL (``s3://bucket/run``)."""
    join = posixpath.join if "://" in log_dir else os.path.join
    return join(log_dir, f"rank_{rank}")


def _check_storage_options(options: Any, log_dir: str) -> dict[str, Any] | None:
    if options is not None and not isinstance(options, dict):
        raise TypeError(f"storage_options must be a dict or None; got {_convert.describe(options)}")
    if options and "://" not in log_dir:
        raise ValueError(f"storage_options apply to a log_dir that is an fsspec URL; got {log_dir!r}")
    return options


def _restore_writer(log_dir: str, options: dict[str, Any]) -> SummaryWriter:
    return SummaryWriter(log_dir, **options)
