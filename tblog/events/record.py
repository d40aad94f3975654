"""TFRecord framing of event files.

Each record on disk is, little-endian::

    uint64  length of the payload
    uint32  masked CRC-32C of those 8 length bytes
    bytes   payload (a serialized Event)
    uint32  masked CRC-32C of the payload

The mask makes a CRC of data that itself contains CRCs less likely to collide.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

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
