"""``writer.file_writer`` and ``writer._get_file_writer()``: the lower layer frameworks reach for.

torch's and tensorboardX's ``SummaryWriter`` hold a ``FileWriter`` that takes ready protobuf
messages, and frameworks call it directly: Lightning writes hparams with
``writer._get_file_writer().add_summary(summary)``, Stable-Baselines3 with
``writer.file_writer.add_summary(summary)``. Here it is a thin view of the ``SummaryWriter``:
its events go through the same queue, checks, ordering and error reporting as ``add_*``.

Messages may come from any protobuf package (``tensorboard.compat.proto``, torch's,
tensorboardX's, tblog's own): they are taken by their serialized bytes, which every one of
them gives with ``SerializeToString()``; serialized bytes are taken as they are.
"""

from __future__ import annotations

from typing import Any

from tblog import _convert
from tblog.events.async_writer import BYTES
from tblog.methods._base import WriterBase
from tblog.summary import _wire


class FileWriter:
    """torch's ``FileWriter`` interface over a ``SummaryWriter``'s run (the main event file)."""

    def __init__(self, writer: WriterBase) -> None:
        self._writer = writer

    def get_logdir(self) -> str:
        """The run directory the events go to."""
        return self._writer.log_dir

    def add_event(self, event: Any, step: Any = None, walltime: Any = None) -> None:
        """Write an ``Event`` (a message, or its serialized bytes).

        As in torch, its ``wall_time`` becomes ``walltime`` (None: now) and, if ``step`` is
        given, its ``step`` becomes ``step``; everything else is written as it came."""
        message = _event_message(_serialized(event, "event"))
        wall = self._writer._step_and_wall(None, walltime)[1]
        message.wall_time = wall
        if step is not None:
            message.step = _convert.step(step, "step")
        self._put(message.SerializeToString())

    def add_summary(self, summary: Any, global_step: Any = None, walltime: Any = None) -> None:
        """Write a ``Summary`` (a message, or its serialized bytes) as one event at
        ``global_step`` (None: 0) and ``walltime`` (None: now)."""
        data = _serialized(summary, "summary")
        _check_parses(data, "summary", "Summary")
        step, wall = self._writer._step_and_wall(global_step, walltime)
        self._put(_wire.event(wall, step, data))

    def add_graph(self, graph_profile: Any, walltime: Any = None) -> None:
        """Write torch's ``(GraphDef, RunMetadata)`` pair: the graph, then the run metadata
        under tag ``step1``, as torch's ``FileWriter.add_graph`` does."""
        if not isinstance(graph_profile, (tuple, list)) or len(graph_profile) != 2:
            raise TypeError(
                "graph_profile must be a (GraphDef, RunMetadata) pair, as torch.utils.tensorboard"
                f"._pytorch_graph.graph() returns; got {_convert.describe(graph_profile)}"
            )
        graph = _serialized(graph_profile[0], "graph_profile[0]")
        _check_parses(graph, "graph_profile[0]", "GraphDef")
        run_metadata = _serialized(graph_profile[1], "graph_profile[1]")
        _check_parses(run_metadata, "graph_profile[1]", "RunMetadata")
        wall = self._writer._step_and_wall(None, walltime)[1]
        self._put(_wire.event_head(wall, 0) + _wire.field_bytes(b"\x22", graph))  # graph_def = 4
        tagged = _wire.field_str(b"\x0a", "step1") + _wire.field_bytes(b"\x12", run_metadata)
        self._put(_wire.event_head(wall, 0) + _wire.field_bytes(b"\x42", tagged))  # tagged_run_metadata = 8

    def flush(self) -> None:
        """``SummaryWriter.flush()``."""
        self._writer._events.flush()

    def close(self) -> None:
        """``SummaryWriter.close()``; as there, the next event opens a new file."""
        self._writer._events.close()

    def reopen(self) -> None:
        """Nothing to do: after ``close()`` the next event opens a new file by itself."""

    def _put(self, event: bytes) -> None:
        self._writer._events.put(BYTES, "", event, len(event))


class FileWriterMethods(WriterBase):
    """The ``SummaryWriter`` attributes that give frameworks the ``FileWriter``."""

    @property
    def file_writer(self) -> FileWriter:
        """The writer of this run's events, as torch's ``writer.file_writer``."""
        return FileWriter(self)

    def _get_file_writer(self) -> FileWriter:
        """``file_writer``, under the name torch's writer and Lightning use."""
        return FileWriter(self)

    @property
    def all_writers(self) -> dict[str, FileWriter]:
        """``{log_dir: file_writer}``, as torch's writer has (sub-runs are written by tblog's
        one background writer, so they are not listed)."""
        return {self.log_dir: FileWriter(self)}


def _serialized(message: Any, name: str) -> bytes:
    if isinstance(message, (bytes, bytearray, memoryview)):
        return bytes(message)
    serialize = getattr(message, "SerializeToString", None)
    if serialize is None:
        raise TypeError(
            f"{name} must be a protobuf message (anything with SerializeToString()) or its "
            f"serialized bytes; got {_convert.describe(message)}"
        )
    return bytes(serialize())


def _check_parses(data: bytes, name: str, kind: str) -> None:
    """Refuse bytes that are no ``kind`` message here, not on the writer thread or in TensorBoard."""
    from google.protobuf.message import DecodeError

    from tblog.proto import graph_pb2, run_metadata_pb2, summary_pb2

    message_class: Any = {
        "Summary": summary_pb2.Summary,
        "GraphDef": graph_pb2.GraphDef,
        "RunMetadata": run_metadata_pb2.RunMetadata,
    }[kind]
    try:
        message_class.FromString(data)
    except DecodeError as exc:
        raise ValueError(f"{name} is not a serialized {kind} ({len(data)} bytes): {exc}") from exc


def _event_message(data: bytes) -> Any:
    from google.protobuf.message import DecodeError

    from tblog.proto import event_pb2

    try:
        return event_pb2.Event.FromString(data)
    except DecodeError as exc:
        raise ValueError(f"event is not a serialized Event ({len(data)} bytes): {exc}") from exc
