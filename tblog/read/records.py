"""The ``Event`` messages of event files, one protobuf parse per record."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, BinaryIO

from google.protobuf.message import DecodeError

from tblog.events.record import OnCorrupt, read_records, report_corrupt
from tblog.proto import event_pb2
from tblog.read.files import event_files, open_or_report

Event = event_pb2.Event


def events(
    path: str | os.PathLike[str],
    *,
    on_corrupt: OnCorrupt = "warn",
    storage_options: dict[str, Any] | None = None,
) -> Iterator[Any]:
    """Every ``Event`` (tblog.proto.event_pb2.Event) of a file, or of all files under a directory.

    ``path`` may be an fsspec URL, as in ``event_files``; what cannot be read is reported
    per ``on_corrupt`` like a corrupted record."""
    for file in event_files(path, on_corrupt=on_corrupt, storage_options=storage_options):
        stream = open_or_report(file, on_corrupt, storage_options)
        if stream is None:
            continue
        with stream:
            yield from read_events(stream, file, on_corrupt)


def read_events(stream: BinaryIO, name: str = "<stream>", on_corrupt: OnCorrupt = "warn") -> Iterator[Any]:
    """Every ``Event`` of one open binary stream; a record that is no Event counts as corrupt."""
    for index, payload in enumerate(read_records(stream, name, on_corrupt)):
        try:
            event = Event.FromString(payload)
        except (DecodeError, ValueError, RecursionError) as error:
            # CRCs only prove the bytes are as written; a malicious or buggy writer can frame garbage.
            message = f"{name}: record {index} ({len(payload)} bytes) is not an Event ({error}); skipped"
            report_corrupt(on_corrupt, message)
            continue
        yield event
