"""Event files that may still be growing, read incrementally by the ``tblog`` command.

``GrowingFile`` remembers how far it has read, so ``tblog tail`` reads only what was
appended since its last look, and stops in front of a record that is not completely
written yet instead of calling it corrupt.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from typing import Any

from tblog import _fs
from tblog.events.record import (
    FOOTER_SIZE,
    HEADER_SIZE,
    STREAM_CRC_ABOVE,
    NotRegularFileError,
    masked_crc32c,
    payload_intact,
)
from tblog.proto import event_pb2
from tblog.read.files import open_event_file

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


class GrowingFile:
    """An event file (a local path or an fsspec URL) read incrementally: each :meth:`records`
    call yields the complete records appended since the previous one.

    A record cut short at the end of the file is left for the next call (the writer is
    probably still writing it); ``incomplete_bytes`` says how many such bytes wait. A CRC
    mismatch is reported only when it is still there on the next call, or at once with
    ``final=True`` (a file nobody writes any more): a reader can see a record's bytes before
    the writer has finished writing them.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.offset = 0
        self.size = 0
        self.records_read = 0
        self.corrupt: list[str] = []  # one message per corrupted record
        self.dead = False  # a corrupted length: nothing after it can be trusted
        self._suspect: int | None = None  # offset of a CRC mismatch seen once

    @property
    def incomplete_bytes(self) -> int:
        """Bytes after the last complete record (a record still being written, or cut off)."""
        return 0 if self.dead else max(0, self.size - self.offset)

    def records(self, final: bool = False) -> Iterator[bytes]:
        """The payloads of the complete records added since the last call.

        A file that cannot be opened (no regular file, no permission) is reported once in
        ``corrupt`` and not looked at again; a file that no longer exists raises
        ``FileNotFoundError`` (``tblog tail`` waits for it to come back)."""
        if self.dead:
            return
        try:
            stream = open_event_file(self.path)
        except FileNotFoundError:
            raise
        except OSError as error:
            self.dead = True
            reason = (
                str(error) if isinstance(error, NotRegularFileError) else f"{self.path}: {error.strerror}"
            )
            self.corrupt.append(f"{reason}; skipped")
            return
        with stream:
            self.size = stream.seek(0, os.SEEK_END)
            if self.size < self.offset:  # truncated or replaced: start again
                self.offset = 0
            stream.seek(self.offset)
            while self.size - self.offset >= HEADER_SIZE:
                header = stream.read(HEADER_SIZE)
                (length,) = _U64.unpack_from(header)
                if masked_crc32c(header[:8]) != _U32.unpack_from(header, 8)[0]:
                    if self._confirmed(final):
                        self.dead = True
                        self.corrupt.append(
                            f"{self.path}: corrupted record length at byte {self.offset}; "
                            "the rest of the file is skipped"
                        )
                    return
                end = self.offset + HEADER_SIZE + length + FOOTER_SIZE
                if end > self.size:
                    return  # the rest of this record is not written yet
                intact: bool | None = True
                if length > STREAM_CRC_ABOVE:  # checked in pieces first: it may claim gigabytes of garbage
                    intact = payload_intact(stream, length)
                    if intact is None:
                        return  # the file shrank meanwhile
                    if intact:
                        stream.seek(self.offset + HEADER_SIZE)
                if intact:
                    payload = stream.read(length)
                    footer = stream.read(FOOTER_SIZE)
                    intact = masked_crc32c(payload) == _U32.unpack(footer)[0]
                if not intact:
                    if not self._confirmed(final):
                        return
                    self.corrupt.append(
                        f"{self.path}: corrupted record at byte {self.offset} ({length} bytes) skipped"
                    )
                else:
                    self.records_read += 1
                    yield payload
                self._suspect = None
                self.offset = end

    def events(self, final: bool = False) -> Iterator[Any]:
        """The ``Event`` messages of :meth:`records`; a payload that is no Event counts as corrupt."""
        for payload in self.records(final):
            try:
                yield event_pb2.Event.FromString(payload)
            except Exception as error:  # protobuf's DecodeError, without importing its module path
                self.corrupt.append(f"{self.path}: a record is not an Event ({error})")

    def _confirmed(self, final: bool) -> bool:
        if final or self._suspect == self.offset:
            self._suspect = None
            return True
        self._suspect = self.offset
        return False


def file_size(path: str) -> int:
    """Bytes in a local file or at an fsspec URL."""
    if not _fs.is_url(path):
        return os.path.getsize(path)
    fs, inner = _fs.url_to_fs(path)
    return int(fs.size(inner))
