"""The scalars of a run's event files: plain ones read in bulk by NumPy
(``tblog.read.scalar_templates``), all other records parsed by protobuf, as
``tblog.read.events`` does, with the one scalar rule (``tblog.read.values.scalar``). The rows
are the same as parsing every record with protobuf (tests/test_read_tables.py checks that).

Files are read in pieces of ``_PIECE`` bytes, split into records by ``tblog.read.scan``.
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np
from google.protobuf.message import DecodeError

from tblog.events.record import FOOTER_SIZE, HEADER_SIZE, OnCorrupt, payload_intact, report_corrupt
from tblog.proto import event_pb2
from tblog.read import scan
from tblog.read.files import open_or_report
from tblog.read.scalar_templates import Rows, split_by_template
from tblog.read.values import scalar

_PIECE = 64 << 20  # bytes read at once; a larger record makes the piece grow to hold it
_OVERHEAD = HEADER_SIZE + FOOTER_SIZE
_U64 = struct.Struct("<Q")


class RunScalars(NamedTuple):
    tags: list[str]  # the run's distinct tags
    tag: np.ndarray  # int64 index into ``tags`` of each row
    step: np.ndarray  # int64
    wall_time: np.ndarray  # float64
    value: np.ndarray  # float64


class _Piece(NamedTuple):
    rows: list[Rows]  # of the records templates matched; record numbers are run-wide
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
            rows, rest = split_by_template(buf, records, file, on_corrupt, offset)
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
    storage_options: dict[str, Any] | None = None,
) -> RunScalars:
    """Every scalar of one run's ``files`` (in order), filtered; rows in file order."""
    parts: list[tuple[np.ndarray, ...]] = []
    numbers: dict[str, int] = {}  # tag -> its index in RunScalars.tags
    plugins: dict[str, str] = {}  # tag -> plugin of its first metadata, across pieces
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
            state = (piece.first_fast, numbers, plugins)
            parts.append(_protobuf_rows(piece.events, state, on_corrupt, keep_tag, keep_step))
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
) -> Iterator[tuple[bytes, scan.Records, int, int]]:
    """(bytes, their complete records, index in the file of the first, file offset) for each
    piece of ``file``; payload CRCs are not checked yet.

    A record too big for a piece is read whole only once its CRC, checked in pieces straight
    from the file, proves it is what its header claims: a valid-CRC header claiming gigabytes
    of garbage costs no memory."""
    stream = open_or_report(file, on_corrupt, storage_options)
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
            split = scan.split_records(buf, file, on_corrupt, base=offset)
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


def _protobuf_rows(
    events: list[tuple[int, Any, str]],
    state: tuple[dict[str, int], dict[str, int], dict[str, str]],
    on_corrupt: OnCorrupt,
    keep_tag: Callable[[str], bool],
    keep_step: Callable[[np.ndarray], np.ndarray],
) -> tuple[np.ndarray, ...]:
    """Rows of the events no template matched, by the one scalar rule, in record order."""
    first_fast, numbers, plugins = state
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
            plugin = plugins.get(value.tag)
            if plugin is None:  # TensorBoard keeps the first metadata of each tag
                # first seen, without metadata, in a record a template read: no plugin
                fast = first_fast.get(value.tag, math.inf) < record
                plugin = plugins[value.tag] = "" if fast else value.metadata.plugin_data.plugin_name
            try:
                number = scalar(value, plugin)
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
