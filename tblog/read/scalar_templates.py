"""Plain scalar records read by NumPy instead of protobuf, matched against *templates*.

Scalar events as tblog, torch.utils.tensorboard and tensorboardX write them by default are
``Event(wall_time, step, summary=Summary(value=[Value(tag, simple_value), ...]))``, and
protobuf serializes those fields in one order. Records of the same length usually share that
layout byte for byte except for the wall time, the step, the tag text and the value. So the
records are grouped by length; one record of a group is parsed by a strict hand-written
decoder into a template (which bytes are fixed, where the step varint, tags and floats
are), and every record of the group is checked against it at once: a record matches only if
all the fixed bytes are equal and its step varint has the same length, in which case the
strict decoder would walk it exactly as it walked the template. Matching records are read
with NumPy gathers; all other records (other layouts, other fields, metadata, tensors,
anything unusual) are left to protobuf (``tblog.read.fast_scalars``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from tblog.events.record import OnCorrupt
from tblog.read import scan

_MAX_TEMPLATES = 16  # templates tried per record length before the rest go to protobuf
_MAX_VALUES = 4096  # values per event handled by a template
_MAX_LENGTH = 1 << 16  # longer records always go to protobuf
_SAMPLE = 1024  # rows sampled for the tags of a template slot


class Rows(NamedTuple):
    """One value slot of a template, over the records it matched."""

    tags: list[str]  # the distinct tags
    codes: np.ndarray  # each row's index into ``tags``
    firsts: np.ndarray  # the row where each tag first appears
    record: np.ndarray  # each row's record number
    slot: np.ndarray  # the slot (index of the value in its event)
    values: Callable[
        [np.ndarray | None], tuple[np.ndarray, ...]
    ]  # kept rows (None: all) -> step, wall, value


class _Template(NamedTuple):
    fixed: np.ndarray  # positions whose byte must equal ``fixed_bytes``
    fixed_bytes: np.ndarray
    step: tuple[int, int] | None  # [start, end) of the step varint
    tags: list[tuple[int, int]]  # (start, length) of each value's tag
    floats: list[int]  # position of each value's float32
    variable: list[int]  # positions of the bytes that may differ between records


def split_by_template(
    buf: bytes, records: scan.Records, file: str, on_corrupt: OnCorrupt, base: int
) -> tuple[list[Rows], np.ndarray]:
    """Rows of the intact records that templates match, and the indices of all other intact
    records; records with a bad payload CRC are reported and left out."""
    starts, lengths = records
    rows: list[Rows] = []
    rest: list[np.ndarray] = []
    short = lengths < _MAX_LENGTH
    rest.append(np.flatnonzero(~short))
    # Group the records by length: a counting sort (NumPy's stable sort of uint16 is a radix sort).
    counts = np.bincount(lengths[short], minlength=1)
    present = np.flatnonzero(counts)
    number = np.zeros(len(counts), dtype=np.uint16)
    number[present] = np.arange(len(present))
    index = np.flatnonzero(short)
    by_length = index[np.argsort(number[lengths[short]], kind="stable")]
    bounds = np.concatenate([[0], np.cumsum(counts[present])])
    for which, length in enumerate(present.tolist()):
        members = by_length[bounds[which] : bounds[which + 1]]
        for _ in range(_MAX_TEMPLATES):
            if not len(members):
                break
            first = int(starts[members[0]])
            template = _template(buf[first : first + length])
            if template is None:
                rest.append(members[:1])
                members = members[1:]
                continue
            # The group's records with their CRC, one per row.
            matrix = scan.gather_words(buf, starts[members], length + scan.FOOTER_SIZE)
            words = matrix.view("<u8")
            mask, expected = _masks(template, matrix.shape[1])
            wrong = np.zeros(len(words), dtype=np.uint64)
            for word in np.flatnonzero(mask).tolist():
                wrong |= (words[:, word] ^ expected[word]) & mask[word]
            match = wrong == 0
            everyone = bool(match.all())
            matched = members
            if not everyone:  # (no copy of the matrix in the common case)
                matched, matrix = members[match], matrix[match]
            intact = scan.matrix_crc_ok(matrix, length, template.variable)
            if not intact.all():
                scan.report_bad(starts[matched[~intact]], lengths[matched[~intact]], file, on_corrupt, base)
                matched, matrix = matched[intact], matrix[intact]
            slots = _rows(matrix, matched, template) if len(matched) else []
            if slots is None:
                rest.append(matched)  # a tag that is not UTF-8: protobuf reports it
            else:
                rows.extend(slots)
            members = members[:0] if everyone else members[~match]
        rest.append(members)
    fallback = np.sort(np.concatenate(rest))
    intact = scan.payload_crc_ok(buf, starts[fallback], lengths[fallback])
    if not intact.all():
        scan.report_bad(starts[fallback[~intact]], lengths[fallback[~intact]], file, on_corrupt, base)
    return rows, fallback[intact]


def _masks(template: _Template, width: int) -> tuple[np.ndarray, np.ndarray]:
    """uint64 words of the bits a matching record must have, and their values: every bit of
    the fixed bytes, and the continuation bit of each byte of the step varint."""
    mask = np.zeros(width, dtype=np.uint8)
    expected = np.zeros(width, dtype=np.uint8)
    mask[template.fixed] = 0xFF
    expected[template.fixed] = template.fixed_bytes
    if template.step is not None:
        start, end = template.step
        mask[start:end] = 0x80
        expected[start : end - 1] = 0x80
    return mask.view("<u8"), expected.view("<u8")


def _rows(matrix: np.ndarray, record: np.ndarray, template: _Template) -> list[Rows] | None:
    """One row set per value slot of ``template`` for the records in the rows of ``matrix``."""
    out: list[Rows] = []
    for slot, ((tag_start, tag_length), float_at) in enumerate(
        zip(template.tags, template.floats, strict=True)
    ):
        tags, codes, firsts = _unique_tags(matrix[:, tag_start : tag_start + tag_length])
        if tags is None:
            return None

        def values(kept: np.ndarray | None, float_at: int = float_at) -> tuple[np.ndarray, ...]:
            chosen = matrix if kept is None else matrix[kept]
            if template.step is None:
                step = np.zeros(len(chosen), dtype=np.int64)
            else:
                step = _varints(chosen[:, template.step[0] : template.step[1]])
            wall = np.ascontiguousarray(chosen[:, 1:9]).view("<f8").ravel()
            value = np.ascontiguousarray(chosen[:, float_at : float_at + 4]).view("<f4").ravel()
            return step, wall, value.astype(np.float64)

        out.append(Rows(tags, codes, firsts, record, np.full(len(record), slot, dtype=np.int64), values))
    return out


def _unique_tags(matrix: np.ndarray) -> tuple[list[str] | None, np.ndarray, np.ndarray]:
    """The distinct rows of ``matrix`` (tag bytes) as text, each row's index into them, and
    the first row of each."""
    count, length = matrix.shape
    if count == 0:
        return [], np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if length == 0:
        return [""], np.zeros(count, dtype=np.int64), np.zeros(1, dtype=np.int64)
    words = -(-length // 8)
    padded = np.zeros((count, 8 * words), dtype=np.uint8)
    padded[:, :length] = matrix
    keys = padded.view("<u8")
    # One uint64 per row (the tag itself when it fits in 8 bytes), looked up among the keys
    # of a sample of rows; rows whose tag is not in the sample, or whose key collides, are
    # grouped exactly by np.unique.
    hashed = keys[:, 0].copy()
    for word in range(1, words):
        hashed *= np.uint64(0x9E3779B97F4A7C15)
        hashed ^= keys[:, word]
    sample = np.unique(np.concatenate([np.arange(min(count, _SAMPLE)), np.linspace(0, count - 1, _SAMPLE)]))
    sample = sample.astype(np.int64)
    known, where = np.unique(hashed[sample], return_index=True)
    representatives = sample[where]
    codes = np.searchsorted(known, hashed)
    codes[codes == len(known)] = 0
    hit = known[codes] == hashed
    if words > 1:
        hit &= (keys == keys[representatives[codes]]).all(axis=1)
    found = [padded[row, :length] for row in representatives.tolist()]
    missed = np.flatnonzero(~hit)
    if len(missed):
        rest = np.ascontiguousarray(padded[missed]).view(np.dtype((np.void, 8 * words))).ravel()
        unique_rest, inverse = np.unique(rest, return_inverse=True)
        codes[missed] = len(found) + inverse.reshape(-1)
        found.extend(unique_rest.view(np.uint8).reshape(-1, 8 * words)[:, :length])
    try:
        names = [row.tobytes().decode("utf-8") for row in found]
    except UnicodeDecodeError:
        return None, codes, np.zeros(0, dtype=np.int64)
    if len(found) <= 64:
        firsts = np.array([np.argmax(codes == code) for code in range(len(found))], dtype=np.int64)
    else:
        firsts = np.full(len(found), count, dtype=np.int64)
        np.minimum.at(firsts, codes, np.arange(count))
    return names, codes, firsts


def _varints(columns: np.ndarray) -> np.ndarray:
    """The int64 values of the varints in the rows of ``columns`` (all of that many bytes)."""
    total = np.zeros(len(columns), dtype=np.uint64)
    for k in range(columns.shape[1]):
        total |= (columns[:, k] & np.uint8(0x7F)).astype(np.uint64) << np.uint64(7 * k)
    return total.view(np.int64)


def _varint(payload: bytes, position: int) -> tuple[int, int]:
    """(value, position after it); raises IndexError/ValueError on a bad varint."""
    value = shift = 0
    while True:
        byte = payload[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7
        if shift >= 70:
            raise ValueError("varint too long")


def _template(payload: bytes) -> _Template | None:
    """The layout of ``payload`` if it is a plain legacy scalar event, else None."""
    try:
        return _parse_template(payload)
    except (IndexError, ValueError):
        return None


def _parse_template(payload: bytes) -> _Template | None:
    size = len(payload)
    if size < 9 or payload[0] != 0x09:  # wall_time, fixed64
        return None
    variable = [(1, 9)]
    position = 9
    step = None
    if payload[position] == 0x10:  # step, varint
        _, end = _varint(payload, position + 1)
        if end - position - 1 > 10:
            return None
        step = (position + 1, end)
        variable.append(step)
        position = end
    if payload[position] != 0x2A:  # summary
        return None
    summary_length, position = _varint(payload, position + 1)
    if position + summary_length != size:
        return None
    tags: list[tuple[int, int]] = []
    floats: list[int] = []
    while position < size:
        if payload[position] != 0x0A or len(tags) >= _MAX_VALUES:  # Summary.value
            return None
        value_length, position = _varint(payload, position + 1)
        value_end = position + value_length
        if payload[position] != 0x0A:  # Value.tag
            return None
        tag_length, position = _varint(payload, position + 1)
        tags.append((position, tag_length))
        variable.append((position, position + tag_length))
        position += tag_length
        if payload[position] != 0x15 or position + 5 != value_end:  # Value.simple_value, and nothing else
            return None
        floats.append(position + 1)
        variable.append((position + 1, position + 5))
        position = value_end
    if not tags or position != size:
        return None
    is_fixed = np.ones(size, dtype=bool)
    for start, end in variable:
        is_fixed[start:end] = False
    fixed = np.flatnonzero(is_fixed)
    fixed_bytes = np.frombuffer(payload, dtype=np.uint8)[fixed]
    return _Template(fixed, fixed_bytes, step, tags, floats, np.flatnonzero(~is_fixed).tolist())
