"""Splitting a whole event file held in memory into its records, mostly without a Python loop.

Same rules as ``tblog.events.record.read_records`` (both CRCs checked, a truncated tail
skipped quietly, a bad payload CRC skips that record, a bad length CRC ends the file), but
built for reading millions of small records fast:

* The chain of record lengths is sequential, yet logs repeat themselves: the same tags are
  logged step after step, so record lengths come in cycles. After a few records walked in
  Python, the last cycle of lengths is assumed to repeat and checked for thousands of cycles
  at once through strided NumPy views of the buffer (length and its CRC at each predicted
  position). Every record is still located exactly as a sequential walk would: a predicted
  record is accepted only if the bytes there hold that length and its CRC, and the walk
  resumes at the first mismatch.
* Payload CRCs are left to the caller, which checks many at once: ``matrix_crc_ok`` for
  records of one length laid out alike (CRC-32C is affine, so a reference CRC is corrected
  per varying byte column with NumPy), ``payload_crc_ok`` for any others (the ``crc32c``
  package over slices, driven by ``map`` so no Python bytecode runs per record).
"""

from __future__ import annotations

import functools
import struct
from typing import NamedTuple

import numpy as np
from crc32c import crc32c

from tblog.events.record import FOOTER_SIZE, HEADER_SIZE, OnCorrupt, masked_crc32c, report_corrupt

_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
_OVERHEAD = HEADER_SIZE + FOOTER_SIZE
_WALK = 64  # records walked in Python before a cycle is looked for
_MAX_PERIOD = 32
_MASK_DELTA = np.uint32(0xA282EAD8)


class Records(NamedTuple):
    """Payload positions of the intact records of one buffer, in file order."""

    starts: np.ndarray  # int64 offset of each payload
    lengths: np.ndarray  # int64 payload length


class Split(NamedTuple):
    records: Records
    end: int  # offset in the buffer just after the last complete record
    broken: bool  # a bad length CRC at ``end``: nothing after it can be trusted


def split_records(buf: bytes, name: str = "<buffer>", on_corrupt: OnCorrupt = "warn", base: int = 0) -> Split:
    """The complete records of ``buf``, a piece of an event file that starts at file offset ``base``.

    The bytes after ``end`` are an incomplete record: the truncated tail of the file, or the
    start of a record the next piece completes. Length CRCs are checked here; payload CRCs
    are left to the caller (``payload_crc_ok`` or ``matrix_crc_ok``, then ``report_bad``),
    which can check many at once.
    """
    heads, lengths, end, broken = _chain(buf)
    if broken:
        message = f"{name}: corrupted record length at byte {base + end}; the rest of the file is skipped"
        report_corrupt(on_corrupt, message)
    return Split(Records(heads + HEADER_SIZE, lengths), end, broken)


def _chain(buf: bytes) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """Header offsets and payload lengths of the complete records, where they end, and whether
    a bad length CRC stopped them."""
    size = len(buf)
    heads: list[np.ndarray] = []
    lengths: list[np.ndarray] = []
    walked_heads: list[int] = []
    walked_lengths: list[int] = []
    header_crcs: dict[int, int] = {}
    pos = 0
    unpack_u64, unpack_u32 = _U64.unpack_from, _U32.unpack_from
    while True:
        # Walk a few records in Python.
        for _ in range(_WALK):
            if pos + HEADER_SIZE > size:
                break
            (length,) = unpack_u64(buf, pos)
            expected = header_crcs.get(length)
            if expected is None:
                expected = masked_crc32c(buf[pos : pos + 8])
                if len(header_crcs) < 4096:
                    header_crcs[length] = expected
            if unpack_u32(buf, pos + 8)[0] != expected:
                _flush(heads, lengths, walked_heads, walked_lengths)
                return _concat(heads), _concat(lengths), pos, True
            if pos + length + _OVERHEAD > size:
                break  # truncated tail
            walked_heads.append(pos)
            walked_lengths.append(length)
            pos += length + _OVERHEAD
        else:
            period = _period(walked_lengths)
            if period:
                pattern = walked_lengths[-period:]
                crcs = [header_crcs.get(n) or masked_crc32c(_U64.pack(n)) for n in pattern]
                cycles = _repeats(buf, pos, pattern, crcs)
                if cycles:
                    _flush(heads, lengths, walked_heads, walked_lengths)
                    block_heads, block_lengths = _cycle_positions(pos, pattern, cycles)
                    heads.append(block_heads)
                    lengths.append(block_lengths)
                    pos += cycles * (sum(pattern) + period * _OVERHEAD)
            continue
        _flush(heads, lengths, walked_heads, walked_lengths)
        return _concat(heads), _concat(lengths), pos, False


def _flush(heads: list[np.ndarray], lengths: list[np.ndarray], walked: list[int], sizes: list[int]) -> None:
    if walked:
        heads.append(np.array(walked, dtype=np.int64))
        lengths.append(np.array(sizes, dtype=np.int64))
        walked.clear()
        sizes.clear()


def _concat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _period(lengths: list[int]) -> int:
    """The shortest p such that the last 2p lengths are one cycle of p repeated (0: none)."""
    for period in range(1, min(_MAX_PERIOD, len(lengths) // 2) + 1):
        if lengths[-period:] == lengths[-2 * period : -period]:
            return period
    return 0


def _repeats(buf: bytes, pos: int, pattern: list[int], crcs: list[int]) -> int:
    """How many whole cycles of ``pattern`` (lengths with their header CRCs) start at ``pos``."""
    cycle = sum(pattern) + len(pattern) * _OVERHEAD
    count = (len(buf) - pos) // cycle
    if count == 0:
        return 0
    matches = np.ones(count, dtype=bool)
    offset = pos
    for length, crc in zip(pattern, crcs, strict=True):
        at_length = np.ndarray((count,), dtype="<u8", buffer=buf, offset=offset, strides=(cycle,))
        at_crc = np.ndarray((count,), dtype="<u4", buffer=buf, offset=offset + 8, strides=(cycle,))
        matches &= (at_length == length) & (at_crc == crc)
        offset += length + _OVERHEAD
    return count if matches.all() else int(np.argmin(matches))


def _cycle_positions(pos: int, pattern: list[int], cycles: int) -> tuple[np.ndarray, np.ndarray]:
    sizes = np.array(pattern, dtype=np.int64)
    within = np.concatenate([[0], np.cumsum(sizes + _OVERHEAD)[:-1]])
    cycle = int(sizes.sum()) + len(pattern) * _OVERHEAD
    heads = (pos + np.arange(cycles, dtype=np.int64)[:, None] * cycle + within).ravel()
    return heads, np.tile(sizes, cycles)


def report_bad(starts: np.ndarray, lengths: np.ndarray, name: str, on_corrupt: OnCorrupt, base: int) -> None:
    """Report records whose payload CRC is wrong, as ``read_records`` does."""
    for start, length in zip(starts.tolist(), lengths.tolist(), strict=True):
        message = f"{name}: corrupted record at byte {base + start - HEADER_SIZE} ({length} bytes) skipped"
        report_corrupt(on_corrupt, message)


def payload_crc_ok(buf: bytes, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    ends = starts + lengths
    # Slicing bytes copies, but small copies cost less than making memoryview objects.
    crcs = np.fromiter(
        map(crc32c, map(buf.__getitem__, map(slice, starts.tolist(), ends.tolist()))),
        dtype=np.uint32,
        count=len(starts),
    )
    masked = ((crcs >> np.uint32(15)) | (crcs << np.uint32(17))) + _MASK_DELTA
    return masked == u32_at(buf, ends)


def matrix_crc_ok(matrix: np.ndarray, length: int, columns: list[int]) -> np.ndarray:
    """Whether each row of ``matrix`` (a payload of ``length`` bytes, then its 4-byte CRC,
    then anything) is intact, where the payloads differ from the first row's at most in
    ``columns``.

    CRC-32C is affine: for messages of one length, crc(a) ^ crc(b) is a linear function of
    a ^ b, the XOR of one table entry per byte position. So each row's CRC is the first
    row's, corrected column by column with NumPy, with no per-row call.
    """
    first = matrix[0, :length]
    if len(matrix) > 1 and columns and matrix.shape[1] % 8 == 0:
        # Only the bytes that really vary need a table lookup per row: OR together every
        # row's difference from the first row, a uint64 word at a time.
        words = matrix.view("<u8")
        differs = np.zeros(words.shape[1], dtype="<u8")
        for word in sorted({column // 8 for column in columns}):
            differs[word] = np.bitwise_or.reduce(words[:, word] ^ words[0, word])
        changed = differs.view(np.uint8)
        columns = [column for column in columns if changed[column]]
    constant = crc32c(first.tobytes())
    for column in columns:  # the first row's own entries, folded into one constant
        constant ^= int(_crc_table(length, column)[first[column]])
    crc = np.full(len(matrix), constant, dtype=np.uint32)
    for column in columns:
        crc ^= np.take(_crc_table(length, column), matrix[:, column])
    masked = ((crc >> np.uint32(15)) | (crc << np.uint32(17))) + _MASK_DELTA
    return masked == np.ascontiguousarray(matrix[:, length : length + 4]).view("<u4").ravel()


@functools.lru_cache(maxsize=1024)
def _crc_table(length: int, column: int) -> np.ndarray:
    """CRC-32C difference made by each byte value at ``column`` of a ``length``-byte message."""
    zeros = crc32c(bytes(length))
    basis = np.array(
        [crc32c(bytes(column) + bytes([1 << bit]) + bytes(length - column - 1)) ^ zeros for bit in range(8)],
        dtype=np.uint32,
    )
    bits = (np.arange(256)[:, None] >> np.arange(8)) & 1
    return np.bitwise_xor.reduce(np.where(bits == 1, basis, np.uint32(0)), axis=1).astype(np.uint32)


def gather_words(buf: bytes, offsets: np.ndarray, width: int) -> np.ndarray:
    """Like ``gather``, but at least ``width`` bytes per row, rounded up to whole uint64 words
    (bytes past ``width`` are whatever follows in ``buf``, or zeros at its end)."""
    padded = -(-width // 8) * 8
    if not len(offsets) or int(offsets.max()) + padded <= len(buf):
        return gather(buf, offsets, padded)
    inside = offsets + padded <= len(buf)
    tail = np.zeros((int((~inside).sum()), padded), dtype=np.uint8)
    tail[:, :width] = gather(buf, offsets[~inside], width)
    out = np.empty((len(offsets), padded), dtype=np.uint8)
    out[inside] = gather(buf, offsets[inside], padded)  # only the last few rows reach the end
    out[~inside] = tail
    return out


def u32_at(buf: bytes, offsets: np.ndarray) -> np.ndarray:
    """The little-endian uint32 at each of ``offsets``."""
    return gather(buf, offsets, 4).view("<u4").ravel()


def gather(buf: bytes, offsets: np.ndarray, width: int) -> np.ndarray:
    """A (len(offsets), width) uint8 array of the bytes at each offset."""
    # Rows of a zero-copy sliding window: one fancy index copies ``width`` bytes per offset.
    windows = np.lib.stride_tricks.sliding_window_view(np.frombuffer(buf, dtype=np.uint8), width)
    return windows[offsets]
