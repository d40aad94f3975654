"""Local event files: naming, the header record, and unbuffered appends.

Writes go straight to the OS with ``os.write`` (the background writer batches them), so a
forked child inherits no half-full Python buffer that could be written twice.

Other writers share run directories with tblog (torch's and tensorboardX's writers, opened
by frameworks beside the user's). They name files ``<prefix><time>.<host>.<pid>.<n><suffix>``
with ``n`` counting from 0 and open them with truncation, so a tblog file named that way would
be emptied by a torch writer of the same process opened in the same second. tblog's ``n`` is
``tblog<n>``, which their names never hold (theirs is all digits), and its files are created
exclusively: on a clash the next number is tried, and an existing file is never opened.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import time

from tblog.events.record import frame
from tblog.summary import _wire

FILE_PREFIX = "events.out.tfevents."
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_HAVE_WRITEV = hasattr(os, "writev")

FILE_MARK = "tblog"  # before tblog's file number: other writers put only digits there
_CREATE_TRIES = 1000  # names tried before a directory full of clashes is reported

# Numbers the files of this process, so two writers opened in one second get different names.
_file_counter = itertools.count()


def event_file_name(wall_time: float, suffix: str = "") -> str:
    """``events.out.tfevents.<10-digit time>.<host>.<pid>.tblog<6-digit n><suffix>``.

    The time comes first, as in every writer's names, so tblog's files sort by creation time
    among theirs (TensorBoard reads a run's files in name order); ``n`` is zero-padded so that
    a process's files of one second sort in the order they were created too."""
    return (
        f"{FILE_PREFIX}{int(wall_time):010d}.{socket.gethostname()}"
        f".{os.getpid()}.{FILE_MARK}{next(_file_counter):06d}{suffix}"
    )


def _name_path(exc: OSError, path: str) -> None:
    """Add the file's path to ``exc``: os.write's errors (EFBIG, ENOSPC, EROFS) name no file."""
    if exc.filename is None:
        exc.filename = path


def _create(directory: str, wall_time: float, suffix: str) -> tuple[str, int]:
    """Create a new event file in ``directory``: its path and an append-only descriptor."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | _O_CLOEXEC
    for _ in range(_CREATE_TRIES):
        path = os.path.join(directory, event_file_name(wall_time, suffix))
        try:
            return path, os.open(path, flags, 0o644)
        except FileExistsError:  # another writer's file, or one left by an earlier process
            continue
    raise FileExistsError(f"tblog: {_CREATE_TRIES} event file names in {directory!r} are all taken")


class EventFile:
    """One event file, created with its ``file_version`` record (and purge marker)."""

    def __init__(self, directory: str, suffix: str = "", purge_step: int | None = None) -> None:
        os.makedirs(directory, exist_ok=True)
        now = time.time()
        self.path, fd = _create(directory, now, suffix)
        self._fd: int | None = fd
        first = frame(_wire.file_version_event(now))
        if purge_step is not None:
            first += frame(_wire.session_start_event(now, purge_step))
        try:
            self.write(first)
        except OSError:  # disk full, say: leave neither a descriptor nor an empty file behind
            self.close()
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            raise

    def write(self, data: bytes | bytearray) -> None:
        """Append ``data``; raises OSError (disk full, file too large, …)."""
        if self._fd is None:
            raise ValueError(f"event file {self.path} is closed")
        view = memoryview(data)
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError as exc:
            _name_path(exc, self.path)
            raise

    def write_parts(self, parts: tuple[bytes, ...]) -> None:
        """Append ``parts`` back to back, in one system call where the OS allows."""
        if self._fd is None:
            raise ValueError(f"event file {self.path} is closed")
        try:
            written = os.writev(self._fd, parts) if _HAVE_WRITEV else 0
        except OSError as exc:
            _name_path(exc, self.path)
            raise
        if written < sum(len(part) for part in parts):  # partial (or no) writev: finish plainly
            self.write(b"".join(parts)[written:])

    def check(self) -> None:
        """Raise if the file was deleted under us: writes would then vanish silently."""
        if self._fd is not None and os.fstat(self._fd).st_nlink == 0:
            raise FileNotFoundError(f"event file {self.path} was deleted while tblog was writing it")

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def abandon(self) -> None:
        """Forget the file without touching it (a forked child's copy belongs to the parent)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
