"""TFRecord framing of event files.

Each record on disk is, little-endian::

    uint64  length of the payload
    uint32  masked CRC-32C of those 8 length bytes
    bytes   payload (a serialized Event)
    uint32  masked CRC-32C of the payload

The mask makes a CRC of data that itself contains CRCs less likely to collide.
"""

from __future__ import annotations

import os
import stat
import struct
import warnings
from collections.abc import Iterable, Iterator
from typing import BinaryIO, Literal

from crc32c import crc32c

_MASK_DELTA = 0xA282EAD8
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")

HEADER_SIZE = 12  # uint64 length + uint32 crc
FOOTER_SIZE = 4


def masked_crc32c(data: bytes | bytearray | memoryview) -> int:
    """The masked CRC-32C that TFRecord stores next to the length and the payload."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


# Headers depend only on the payload length, and event sizes repeat a lot.
_header_cache: dict[int, bytes] = {}


def record_header(length: int) -> bytes:
    """The 12 bytes that precede a payload of ``length`` bytes."""
    header = _header_cache.get(length)
    if header is None:
        size = _U64.pack(length)
        header = size + _U32.pack(masked_crc32c(size))
        if len(_header_cache) < 65536:
            _header_cache[length] = header
    return header


def frame(payload: bytes) -> bytes:
    """One complete record around ``payload``."""
    return record_header(len(payload)) + payload + _U32.pack(masked_crc32c(payload))


def frame_parts(payload: bytes) -> tuple[bytes, bytes, bytes]:
    """A record as (header, payload, footer), for writing a large payload without a copy."""
    return record_header(len(payload)), payload, _U32.pack(masked_crc32c(payload))


def frame_into(out: bytearray, payloads: Iterable[bytes]) -> None:
    """Append the records of all ``payloads`` to ``out`` (the background writer's hot loop)."""
    header_cache = _header_cache
    pack_u32 = _U32.pack
    for payload in payloads:
        header = header_cache.get(len(payload)) or record_header(len(payload))
        crc = crc32c(payload)
        out += header
        out += payload
        out += pack_u32((((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF)


class CorruptRecordError(ValueError):
    """A record whose CRC does not match its bytes, or whose payload is not an Event."""


class CorruptRecordWarning(UserWarning):
    """Something was skipped while reading event files: a corrupted record, or an entry of a log
    directory that could not be read (a FIFO or device named like an event file, a file or
    directory without read permission)."""


class NotRegularFileError(OSError):
    """A path named like an event file that is no regular file (a FIFO, socket or device).

    Event files are never opened as such: a FIFO's ``open`` blocks until a writer appears."""


OnCorrupt = Literal["warn", "raise", "skip"]

# Where the stream's size is unknown (a pipe, a decompressing stream), a payload is read in
# pieces of this size, so a huge length with a valid CRC costs no more memory than the bytes
# that really follow it.
_CHUNK = 1 << 20

# A payload longer than this, in a stream that can seek back, has its CRC checked in _CHUNK
# pieces before it is read whole: a damaged length, or a hostile file, that claims gigabytes
# over gigabytes of garbage then costs one piece of memory, not the claim.
STREAM_CRC_ABOVE = 16 << 20


def read_records(stream: BinaryIO, name: str = "<stream>", on_corrupt: OnCorrupt = "warn") -> Iterator[bytes]:
    """Yield the payloads of the records in ``stream``, checking both CRCs.

    A truncated final record (a file still being written, or cut by a crash) ends the
    iteration quietly. A corrupted record is reported according to ``on_corrupt``: a bad
    payload CRC skips that one record; a bad length CRC ends the file, since nothing after
    it can be trusted. A length is never used before its CRC checks out, and never to
    allocate more than the bytes left in the stream (a length with a valid CRC but larger
    than the rest of the file reads as a truncated tail); in a seekable stream a payload over
    ``STREAM_CRC_ABOVE`` bytes is held only once its CRC, checked piece by piece, is right. So
    a damaged or malicious file cannot make the reader allocate what a record merely claims.
    """
    source = _Source(stream)
    while True:
        offset = source.offset
        header = source.read(HEADER_SIZE)
        if len(header) < HEADER_SIZE:
            return  # end of file, or a truncated header
        (length,) = _U64.unpack_from(header)
        (length_crc,) = _U32.unpack_from(header, 8)
        if masked_crc32c(header[:8]) != length_crc:
            report_corrupt(
                on_corrupt,
                f"{name}: corrupted record length at byte {offset}; the rest of the file is skipped",
            )
            return
        if not source.has(length + FOOTER_SIZE):
            return  # truncated payload
        if length > STREAM_CRC_ABOVE and source.can_seek:
            intact = source.payload_intact(length)
            if intact is None:
                return  # truncated payload
            if not intact:
                report_corrupt(
                    on_corrupt, f"{name}: corrupted record at byte {offset} ({length} bytes) skipped"
                )
                continue
            source.seek(offset + HEADER_SIZE)  # intact: now read it whole
        payload = source.read(length)
        footer = source.read(FOOTER_SIZE)
        if len(payload) < length or len(footer) < FOOTER_SIZE:
            return
        if masked_crc32c(payload) != _U32.unpack(footer)[0]:
            report_corrupt(on_corrupt, f"{name}: corrupted record at byte {offset} ({length} bytes) skipped")
        else:
            yield payload


class _Source:
    """A binary stream read in exact amounts, that knows how many bytes it has left."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._start = _position(stream)
        self._size = _stream_size(stream)
        self._read = 0

    @property
    def offset(self) -> int:
        """Byte offset in the stream of the next byte to read."""
        return (self._start or 0) + self._read

    @property
    def can_seek(self) -> bool:
        return self._start is not None

    def seek(self, offset: int) -> None:
        """Go back (or on) to ``offset`` (only where ``can_seek``)."""
        self._stream.seek(offset)
        self._read = offset - (self._start or 0)

    def payload_intact(self, length: int) -> bool | None:
        """``payload_intact`` of the stream, keeping count of the bytes read."""
        intact = payload_intact(self._stream, length)
        self._read += length + FOOTER_SIZE
        return intact

    def has(self, n: int) -> bool:
        """False when fewer than ``n`` bytes are left (unknown sizes always say True)."""
        if self._size is None or self._start is None:
            return True
        if self.offset + n <= self._size:
            return True
        self._size = _stream_size(self._stream)  # a file being written may have grown since
        return self._size is None or self.offset + n <= self._size

    def read(self, n: int) -> bytes:
        """Exactly ``n`` bytes, or fewer at the end of the stream."""
        known = self._size is not None and self.offset + n <= self._size
        first = self._stream.read(n if known else min(n, _CHUNK))
        if not first or len(first) == n:
            self._read += len(first or b"")
            return first or b""
        parts = [first]
        got = len(first)
        while got < n:
            # A short read is not the end of a pipe or socket; only an empty one is.
            part = self._stream.read(n - got if known else min(n - got, _CHUNK))
            if not part:
                break
            parts.append(part)
            got += len(part)
        self._read += got
        return parts[0] if len(parts) == 1 else b"".join(parts)


def payload_intact(stream: BinaryIO, length: int) -> bool | None:
    """Whether the next ``length`` bytes of ``stream`` and the 4 after them are a payload and its
    masked CRC-32C, read in 1 MiB pieces, so checking a record that claims gigabytes costs one
    piece of memory; None when the stream ends first. The stream is left after the footer."""
    crc = 0
    left = length
    while left:
        piece = stream.read(min(left, _CHUNK))
        if not piece:
            return None
        crc = crc32c(piece, crc)
        left -= len(piece)
    footer = stream.read(FOOTER_SIZE)
    if len(footer) < FOOTER_SIZE:
        return None
    masked = (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF
    return masked == _U32.unpack(footer)[0]


# What ``stat`` says a path is, for the messages about paths that are no regular file.
_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a directory"),
)


def file_kind(mode: int) -> str:
    """What a ``st_mode`` that is no regular file's says the path is: "a FIFO", "a socket", ..."""
    return next((name for test, name in _KINDS if test(mode)), "no regular file")


def not_regular(path: str, mode: int) -> NotRegularFileError:
    """The error for ``path``, whose ``st_mode`` is ``mode`` and is no regular file."""
    return NotRegularFileError(f"{path} is {file_kind(mode)}, not an event file")


_OPEN_FLAGS = (
    os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
)


def open_regular(path: str) -> BinaryIO:
    """A local file opened for reading, or ``NotRegularFileError`` if it is no regular file.

    Never blocks: the file is opened non-blocking (a FIFO's ``open`` returns at once instead of
    waiting for a writer), checked with ``fstat``, and only a regular file is kept, switched
    back to blocking reads."""
    fd = os.open(path, _OPEN_FLAGS)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise not_regular(path, mode)
        if _OPEN_FLAGS & getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)
        stream = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    return stream


def _position(stream: BinaryIO) -> int | None:
    try:
        return stream.tell() if stream.seekable() else None
    except (AttributeError, OSError, ValueError):
        return None


def _stream_size(stream: BinaryIO) -> int | None:
    """The stream's total size, from seeking to its end (not fstat: a wrapper such as
    GzipFile has the fileno of the compressed file, whose size is not the stream's)."""
    try:
        if not stream.seekable():
            return None
        position = stream.tell()
        end = stream.seek(0, os.SEEK_END)
        stream.seek(position)
        return end
    except (AttributeError, OSError, ValueError):
        return None


def report_corrupt(
    on_corrupt: OnCorrupt, message: str, stacklevel: int = 3, cause: BaseException | None = None
) -> None:
    """Raise ``CorruptRecordError`` (chained to ``cause``), warn with ``CorruptRecordWarning``,
    or do nothing."""
    if on_corrupt == "raise":
        raise CorruptRecordError(message) from cause
    if on_corrupt == "warn":
        warnings.warn(message, CorruptRecordWarning, stacklevel=stacklevel)
