"""The scalars of a run's event files, decoded mostly by NumPy instead of protobuf.

Scalar events as tblog, torch.utils.tensorboard and tensorboardX write them by default are
``Event(wall_time, step, summary=Summary(value=[Value(tag, simple_value), ...]))``, and
protobuf serializes those fields in one order. Records of the same length usually share that
layout byte for byte except for the wall time, the step, the tag text and the value. So the
records are grouped by length; one record of a group is parsed by a strict hand-written
decoder into a *template* (which bytes are fixed, where the step varint, tags and floats
are), and every record of the group is checked against it at once: a record matches only if
all the fixed bytes are equal and its step varint has the same length, in which case the
strict decoder would walk it exactly as it walked the template. Matching records are read
with NumPy gathers; all other records (other layouts, other fields, metadata, tensors,
anything unusual) are parsed by protobuf, as ``tblog.read.events`` does. The results are
the same as parsing every record with protobuf (tests/test_read_tables.py checks that).
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np
from google.protobuf.message import DecodeError

from tblog import _scan
from tblog.events.record import FOOTER_SIZE, HEADER_SIZE, OnCorrupt, payload_intact, report_corrupt
from tblog.proto import event_pb2
from tblog.read import _open_or_report

_PIECE = 64 << 20  # bytes read at once; a larger record makes the piece grow to hold it
_MAX_TEMPLATES = 16  # templates tried per record length before the rest go to protobuf
_MAX_VALUES = 4096  # values per event handled by a template
_MAX_LENGTH = 1 << 16  # longer records always go to protobuf
_SAMPLE = 1024  # rows sampled for the tags of a template slot
_OVERHEAD = HEADER_SIZE + FOOTER_SIZE
_U64 = struct.Struct("<Q")


class RunScalars(NamedTuple):
    tags: list[str]  # the run's distinct tags
    tag: np.ndarray  # int64 index into ``tags`` of each row
    step: np.ndarray  # int64
    wall_time: np.ndarray  # float64
    value: np.ndarray  # float64


class _Template(NamedTuple):
    fixed: np.ndarray  # positions whose byte must equal ``fixed_bytes``
    fixed_bytes: np.ndarray
    step: tuple[int, int] | None  # [start, end) of the step varint
    tags: list[tuple[int, int]]  # (start, length) of each value's tag
    floats: list[int]  # position of each value's float32
    variable: list[int]  # positions of the bytes that may differ between records


class _Piece(NamedTuple):
    rows: list[_Rows]  # of the records templates matched; record numbers are run-wide
    events: list[tuple[int, Any, str]]  # (run-wide record number, Event, file) of the others
    first_fast: dict[str, int]  # tag -> number of the first template-read record it was in, so far


def _walk(
    files: list[str], on_corrupt: OnCorrupt, storage_options: dict[str, Any] | None
) -> Iterator[_Piece]:
    """The records of one run's files, piece by piece: template rows, and the other records
    parsed by protobuf (a record that is no Event is reported as ``read_events`` does)."""
    first_fast: dict[str, int] = {}
    base = 0
    for file in files:
        for buf, records, first_index, offset in _pieces(file, on_corrupt, storage_options):
            rows, rest = _decode(buf, records, file, on_corrupt, offset)
            for found in rows:
                for tag, first in zip(found.tags, (found.record[found.firsts] + base).tolist(), strict=True):
                    if first < first_fast.get(tag, math.inf):
                        first_fast[tag] = first
            rows = [found._replace(record=found.record + base) for found in rows]
            starts, lengths = records
            events = []
            for index in rest.tolist():
                start = int(starts[index])
                payload = buf[start : start + int(lengths[index])]
                try:
                    events.append((base + index, event_pb2.Event.FromString(payload), file))
                except (DecodeError, ValueError, RecursionError) as error:
                    number = first_index + index
                    message = (
                        f"{file}: record {number} ({len(payload)} bytes) is not an Event ({error}); skipped"
                    )
                    report_corrupt(on_corrupt, message)
            base += len(starts)
            yield _Piece(rows, events, first_fast)


def other_events(
    files: list[str], on_corrupt: OnCorrupt, storage_options: dict[str, Any] | None = None
) -> Iterator[tuple[Any, list[str]]]:
    """Every Event of one run's files except plain ``simple_value`` ones, in order, each with
    the tags first seen in such a plain event before it (so a caller that keeps the first
    metadata of each tag knows those tags had none)."""
    seen: set[str] = set()
    for piece in _walk(files, on_corrupt, storage_options):
        for record, event, _ in piece.events:
            before = [] if len(seen) == len(piece.first_fast) else _new_before(piece.first_fast, seen, record)
            yield event, before


def _new_before(first_fast: dict[str, int], seen: set[str], record: int) -> list[str]:
    found = [tag for tag, first in first_fast.items() if first < record and tag not in seen]
    seen.update(found)
    return found


def read_run(
    files: list[str],
    on_corrupt: OnCorrupt,
    keep_tag: Callable[[str], bool],
    keep_step: Callable[[np.ndarray], np.ndarray],
    scalar_of: Callable[[Any, set[str], set[str]], float | None],
    storage_options: dict[str, Any] | None = None,
) -> RunScalars:
    """Every scalar of one run's ``files`` (in order), filtered; rows in file order.

    ``scalar_of(value, scalar_tags, seen_tags)`` is the protobuf path's rule for one
    ``Summary.Value`` (tblog.read's), used for every record no template matches.
    """
    parts: list[tuple[np.ndarray, ...]] = []
    numbers: dict[str, int] = {}  # tag -> its index in RunScalars.tags
    scalar_tags: set[str] = set()  # the protobuf rule's state, across pieces
    seen_tags: set[str] = set()
    for piece in _walk(files, on_corrupt, storage_options):
        for tags, codes, _, record, slot, values in piece.rows:
            keep_codes = np.array([keep_tag(tag) for tag in tags], dtype=bool)
            kept = None if keep_codes.all() else keep_codes[codes]  # None: every row (no copies)
            if kept is not None:
                record, slot, codes = record[kept], slot[kept], codes[kept]
            renumber = np.array([numbers.setdefault(tag, len(numbers)) for tag in tags], dtype=np.int64)
            columns = [record, slot, renumber[codes], *values(kept)]
            chosen = keep_step(columns[3])
            parts.append(tuple(columns) if chosen.all() else tuple(column[chosen] for column in columns))
        if piece.events:
            state = (piece.first_fast, numbers, scalar_tags, seen_tags)
            parts.append(_protobuf_rows(piece.events, state, on_corrupt, keep_tag, keep_step, scalar_of))
    if not parts:
        return RunScalars([], *(np.zeros(0, dtype=t) for t in (np.int64, np.int64, np.float64, np.float64)))
    record = np.concatenate([p[0] for p in parts])
    slot = np.concatenate([p[1] for p in parts])
    columns = [np.concatenate([p[k] for p in parts]) for k in range(2, 6)]
    key = record * (int(slot.max()) + 1 if len(slot) else 1) + slot
    if len(key) > 1 and not (key[1:] > key[:-1]).all():
        order = np.argsort(key, kind="stable")
        columns = [column[order] for column in columns]
    tag, step, wall, value = columns
    return RunScalars(
        list(numbers),
        tag.astype(np.int64, copy=False),
        step.astype(np.int64, copy=False),
        wall.astype(np.float64, copy=False),
        value.astype(np.float64, copy=False),
    )


def _pieces(
    file: str, on_corrupt: OnCorrupt, storage_options: dict[str, Any] | None
) -> Iterator[tuple[bytes, _scan.Records, int, int]]:
    """(bytes, their complete records, index in the file of the first, file offset) for each
    piece of ``file``; payload CRCs are not checked yet.

    A record too big for a piece is read whole only once its CRC, checked in pieces straight
    from the file, proves it is what its header claims: a valid-CRC header claiming gigabytes
    of garbage costs no memory."""
    stream = _open_or_report(file, on_corrupt, storage_options)
    if stream is None:
        return
    with stream:
        buf = b""
        offset = 0  # file offset of buf[0]
        index = 0
        want = _PIECE
        seekable = _seekable(stream)
        while True:
            left = _bytes_left(stream)
            # Asking a local file for no more than it holds saves a large over-allocation.
            more = stream.read(min(want, left) if left else want)
            buf = buf + more if buf else more
            split = _scan.split_records(buf, file, on_corrupt, base=offset)
            count = len(split.records.starts)
            if count:
                yield buf, split.records, index, offset
            index += count
            if split.broken or not more:
                return
            want = _PIECE if split.end else max(_PIECE, 2 * len(buf))  # a record bigger than a piece
            buf = buf[split.end :]
            offset += split.end
            # split_records checked the header at the head of buf (if whole) before finding its record cut.
            length = _U64.unpack_from(buf)[0] if len(buf) >= HEADER_SIZE else 0
            if length + _OVERHEAD > _PIECE and seekable:
                rest = _bytes_left(stream)
                if rest is not None and length + _OVERHEAD > len(buf) + rest:
                    return  # a truncated tail
                buf = b""
                stream.seek(offset + HEADER_SIZE)
                intact = payload_intact(stream, length)
                if intact is None:
                    return  # a truncated tail
                if intact:
                    stream.seek(offset)  # read it whole next
                    want = length + _OVERHEAD
                else:
                    message = f"{file}: corrupted record at byte {offset} ({length} bytes) skipped"
                    report_corrupt(on_corrupt, message)
                    index += 1
                    offset += length + _OVERHEAD
                    want = _PIECE


def _seekable(stream: Any) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _bytes_left(stream: Any) -> int | None:
    """Bytes between the position of a local file and its end (None when unknown)."""
    try:
        return int(os.fstat(stream.fileno()).st_size - stream.tell())
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both of the last two
        return None


class _Rows(NamedTuple):
    """One value slot of a template, over the records it matched."""

    tags: list[str]  # the distinct tags
    codes: np.ndarray  # each row's index into ``tags``
    firsts: np.ndarray  # the row where each tag first appears
    record: np.ndarray  # each row's record number
    slot: np.ndarray  # the slot (index of the value in its event)
    values: Callable[
        [np.ndarray | None], tuple[np.ndarray, ...]
    ]  # kept rows (None: all) -> step, wall, value


def _decode(
    buf: bytes, records: _scan.Records, file: str, on_corrupt: OnCorrupt, base: int
) -> tuple[list[_Rows], np.ndarray]:
    """Rows of the intact records that templates match, and the indices of all other intact
    records; records with a bad payload CRC are reported and left out."""
    starts, lengths = records
    rows: list[_Rows] = []
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
            matrix = _scan.gather_words(buf, starts[members], length + _scan.FOOTER_SIZE)
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
            intact = _scan.matrix_crc_ok(matrix, length, template.variable)
            if not intact.all():
                _scan.report_bad(starts[matched[~intact]], lengths[matched[~intact]], file, on_corrupt, base)
                matched, matrix = matched[intact], matrix[intact]
            slots = _rows(matrix, matched, template) if len(matched) else []
            if slots is None:
                rest.append(matched)  # a tag that is not UTF-8: protobuf reports it
            else:
                rows.extend(slots)
            members = members[:0] if everyone else members[~match]
        rest.append(members)
    fallback = np.sort(np.concatenate(rest))
    intact = _scan.payload_crc_ok(buf, starts[fallback], lengths[fallback])
    if not intact.all():
        _scan.report_bad(starts[fallback[~intact]], lengths[fallback[~intact]], file, on_corrupt, base)
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


def _rows(matrix: np.ndarray, record: np.ndarray, template: _Template) -> list[_Rows] | None:
    """One row set per value slot of ``template`` for the records in the rows of ``matrix``."""
    out: list[_Rows] = []
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

        out.append(_Rows(tags, codes, firsts, record, np.full(len(record), slot, dtype=np.int64), values))
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


def _protobuf_rows(
    events: list[tuple[int, Any, str]],
    state: tuple[dict[str, int], dict[str, int], set[str], set[str]],
    on_corrupt: OnCorrupt,
    keep_tag: Callable[[str], bool],
    keep_step: Callable[[np.ndarray], np.ndarray],
    scalar_of: Callable[[Any, set[str], set[str]], float | None],
) -> tuple[np.ndarray, ...]:
    """Rows of the events no template matched, by the protobuf rule, in record order."""
    first_fast, numbers, scalar_tags, seen_tags = state
    records: list[int] = []
    slots: list[int] = []
    tags: list[int] = []
    steps: list[int] = []
    walls: list[float] = []
    values: list[float] = []
    for record, event, file in events:
        if event.WhichOneof("what") != "summary":
            continue
        for slot, value in enumerate(event.summary.value):
            if value.tag not in seen_tags and first_fast.get(value.tag, math.inf) < record:
                seen_tags.add(value.tag)  # first seen, without metadata, in a record a template read
            try:
                number = scalar_of(value, scalar_tags, seen_tags)
            except ValueError as error:  # a tensor whose bytes do not match its shape
                report_corrupt(on_corrupt, f"{file}: step {event.step}, tag {value.tag!r}: {error}")
                continue
            if number is not None and keep_tag(value.tag):
                records.append(record)
                slots.append(slot)
                tags.append(numbers.setdefault(value.tag, len(numbers)))
                steps.append(event.step)
                walls.append(event.wall_time)
                values.append(number)
    step = np.array(steps, dtype=np.int64)
    chosen = keep_step(step)
    return (
        np.array(records, dtype=np.int64)[chosen],
        np.array(slots, dtype=np.int64)[chosen],
        np.array(tags, dtype=np.int64)[chosen],
        step[chosen],
        np.array(walls, dtype=np.float64)[chosen],
        np.array(values, dtype=np.float64)[chosen],
    )
