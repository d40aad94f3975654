"""Event files on object storage (any fsspec URL): a run written as immutable segments.

Object stores cannot append, and re-uploading a growing file on every flush costs time
quadratic in the data. So a ``SegmentFile`` keeps what is written in memory and ``commit()``
uploads it as the next segment, a new object that is never written again::

    <dir>/events.out.tfevents.<time>.<host>.<pid>.tblog<n>.<segment:08d><suffix>

Segment names sort in write order, and TensorBoard reads a directory's event files in name
order, so the segments read back as one file. Each segment is a valid event file on its own
(it starts with a ``file_version`` record). Segment 0 is uploaded when the file opens, so a
bad URL, a missing bucket or missing credentials fail right away; it alone holds the
``purge_step`` marker (a START marker in a later segment would hide the run's own earlier
points). The background writer decides when to commit (flush, every ``flush_secs``, close);
a buffer that reaches ``SEGMENT_BYTES`` commits itself, which bounds memory.
"""

from __future__ import annotations

import time
from typing import Any

from tblog import _fs
from tblog.events.files import event_file_name
from tblog.events.record import frame
from tblog.summary import _wire

SEGMENT_BYTES = 4 << 20  # a buffer this full is uploaded without waiting for a flush


class SegmentFile:
    """One event file of a run directory at an fsspec URL, written as a series of segments.

    Has ``EventFile``'s interface (``path``, ``write``, ``write_parts``, ``check``, ``close``,
    ``abandon``) plus ``commit()``. Errors of the storage are raised as ``OSError`` naming
    the segment's URL.
    """

    def __init__(
        self,
        directory: str,
        suffix: str = "",
        purge_step: int | None = None,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        self._fs, root = _fs.url_to_fs(directory, storage_options)
        self._directory_url = directory
        self._root = root.rstrip("/")
        self._suffix = suffix
        if _fs.is_local(self._fs):  # a real directory must exist; object stores have none
            self._fs.makedirs(self._root, exist_ok=True)
        self._base = event_file_name(time.time())
        while self._fs.exists(self._inner(0)):  # never overwrite an object tblog did not write
            self._base = event_file_name(time.time())
        self._index = 0
        self._buffer: bytearray | None = bytearray()
        self._header_bytes = 0
        self.uploaded_bytes = 0
        self.segments = 0
        self._start_segment(purge_step)
        self.commit(force=True)

    @property
    def path(self) -> str:
        """The URL of the segment being filled (the next one to be uploaded)."""
        return self._url(self._index)

    def write(self, data: bytes | bytearray) -> None:
        """Add ``data`` to the current segment; uploads it once it holds ``SEGMENT_BYTES``."""
        buffer = self._open_buffer()
        buffer += data
        if len(buffer) >= SEGMENT_BYTES:
            self.commit()

    def write_parts(self, parts: tuple[bytes, ...]) -> None:
        buffer = self._open_buffer()
        for part in parts:
            buffer += part
        if len(buffer) >= SEGMENT_BYTES:
            self.commit()

    def commit(self, force: bool = False) -> None:
        """Upload what was written since the last commit as the next segment (if anything was)."""
        buffer = self._open_buffer()
        if len(buffer) <= self._header_bytes and not force:
            return
        url = self._url(self._index)
        try:
            self._fs.pipe_file(self._inner(self._index), bytes(buffer))
        except Exception as exc:  # fsspec back ends raise their own types; the caller gets OSError
            lost = len(buffer) - self._header_bytes
            self._buffer = None  # a failed file takes no more writes; the writer opens a new one
            raise OSError(f"uploading event segment {url} failed ({lost} bytes of events): {exc}") from exc
        self.uploaded_bytes += len(buffer)
        self.segments += 1
        self._index += 1
        self._start_segment(None)

    def check(self) -> None:
        """Nothing to check: uploaded segments are immutable, the rest is in memory."""

    def close(self) -> None:
        """Upload what is left, then take no more writes. Idempotent."""
        if self._buffer is not None:
            self.commit()
            self._buffer = None

    def abandon(self) -> None:
        """Forget what is buffered (a forked child's copy belongs to the parent)."""
        self._buffer = None

    def _start_segment(self, purge_step: int | None) -> None:
        now = time.time()
        header = frame(_wire.file_version_event(now))
        if purge_step is not None:
            header += frame(_wire.session_start_event(now, purge_step))
        self._buffer = bytearray(header)
        self._header_bytes = len(header)

    def _open_buffer(self) -> bytearray:
        if self._buffer is None:
            raise ValueError(f"event file {self._url(self._index)} is closed")
        return self._buffer

    def _name(self, index: int) -> str:
        return f"{self._base}.{index:08d}{self._suffix}"

    def _url(self, index: int) -> str:
        return _fs.join(self._directory_url, self._name(index))

    def _inner(self, index: int) -> str:
        return f"{self._root}/{self._name(index)}"
