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
    """A corrupted record was skipped while reading an event file."""


OnCorrupt = Literal["warn", "raise", "skip"]

# Where the stream's size is unknown (a pipe, a decompressing stream), a payload is read in
# pieces of this size, so a huge length with a valid CRC costs no more memory than the bytes
# that really follow it.
_CHUNK = 1 << 20


def read_records(stream: BinaryIO, name: str = "<stream>", on_corrupt: OnCorrupt = "warn") -> Iterator[bytes]:
    """Yield the payloads of the records in ``stream``, checking both CRCs.

    A truncated final record (a file still being written, or cut by a crash) ends the
    iteration quietly. A corrupted record is reported according to ``on_corrupt``: a bad
    payload CRC skips that one record; a bad length CRC ends the file, since nothing after
    it can be trusted. A length is never used before its CRC checks out, and never to
    allocate more than the bytes left in the stream (a length with a valid CRC but larger
    than the rest of the file reads as a truncated tail), so a damaged or malicious file
    cannot make the reader allocate unbounded memory.
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


def report_corrupt(on_corrupt: OnCorrupt, message: str, stacklevel: int = 3) -> None:
    """Raise ``CorruptRecordError``, warn with ``CorruptRecordWarning``, or do nothing."""
    if on_corrupt == "raise":
        raise CorruptRecordError(message)
    if on_corrupt == "warn":
        warnings.warn(message, CorruptRecordWarning, stacklevel=stacklevel)
