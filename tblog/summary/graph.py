"""Graphs dashboard: ``GraphDef`` and ``RunMetadata`` encoding, framework-free.

Tracers (``tblog._torch_graph``) describe a graph as a list of :class:`Node` records; this
module turns them into TensorBoard's protos (tblog's own copies, same field numbers) and
into the two Events the Graphs dashboard reads: ``Event.graph_def`` (a serialized
``GraphDef``) and ``Event.tagged_run_metadata`` (a ``RunMetadata`` whose ``StepStats``
name the device the graph ran on).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

# TensorFlow ``DataType`` numbers (tblog/proto/types.proto), by short dtype name.
DTYPES: dict[str, int] = {
    "float32": 1,
    "float64": 2,
    "int32": 3,
    "uint8": 4,
    "int16": 5,
    "int8": 6,
    "complex64": 8,
    "int64": 9,
    "bool": 10,
    "bfloat16": 14,
    "uint16": 17,
    "complex128": 18,
    "float16": 19,
    "uint32": 22,
    "uint64": 23,
}

# The GraphDef producer version TensorBoard's readers expect (torch writes the same).
PRODUCER = 22


@dataclass
class Node:
    """One graph node.

    ``inputs``: names of the producing nodes (``name:i`` for output ``i > 0``).
    ``shapes``: one entry per output: a list of dims (-1: unknown) or None (not a tensor /
    unknown rank). ``dtype``: the first output's dtype name (a key of :data:`DTYPES`), if any.
    ``attr``: a free-form description shown in the node's info card.
    """

    name: str
    op: str
    inputs: list[str] = field(default_factory=list)
    shapes: list[list[int] | None] = field(default_factory=list)
    dtype: str | None = None
    attr: str = ""
    device: str = ""


def graph_def(nodes: Sequence[Node]) -> bytes:
    """Serialized ``GraphDef`` of ``nodes``."""
    from tblog.proto import attr_value_pb2, graph_pb2, tensor_shape_pb2, versions_pb2

    graph = graph_pb2.GraphDef(versions=versions_pb2.VersionDef(producer=PRODUCER))
    for node in nodes:
        proto = graph.node.add(name=node.name, op=node.op, device=node.device)
        proto.input.extend(node.inputs)
        if node.shapes:
            shapes = [
                tensor_shape_pb2.TensorShapeProto(unknown_rank=True)
                if dims is None
                else tensor_shape_pb2.TensorShapeProto(
                    dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=int(d)) for d in dims]
                )
                for dims in node.shapes
            ]
            proto.attr["_output_shapes"].CopyFrom(
                attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(shape=shapes))
            )
        if node.dtype is not None and node.dtype in DTYPES:
            proto.attr["dtype"].CopyFrom(attr_value_pb2.AttrValue(type=DTYPES[node.dtype]))  # type: ignore[arg-type]
        if node.attr:
            proto.attr["attr"].CopyFrom(attr_value_pb2.AttrValue(s=node.attr.encode("utf-8")))
    return graph.SerializeToString()


def run_metadata(device: str) -> bytes:
    """Serialized ``RunMetadata`` with one ``DeviceStepStats`` for ``device``."""
    from tblog.proto import run_metadata_pb2, step_stats_pb2

    stats = step_stats_pb2.StepStats(dev_stats=[step_stats_pb2.DeviceStepStats(device=device)])
    return run_metadata_pb2.RunMetadata(step_stats=stats).SerializeToString()


def graph_event(wall_time: float, step: int, graph: bytes) -> bytes:
    """An Event holding the serialized GraphDef ``graph``."""
    from tblog.proto import event_pb2

    return event_pb2.Event(wall_time=wall_time, step=step, graph_def=graph).SerializeToString()


def run_metadata_event(wall_time: float, step: int, tag: str, metadata: bytes) -> bytes:
    """An Event holding ``metadata`` (a serialized RunMetadata) under ``tag``."""
    from tblog.proto import event_pb2

    tagged = event_pb2.TaggedRunMetadata(tag=tag, run_metadata=metadata)
    return event_pb2.Event(wall_time=wall_time, step=step, tagged_run_metadata=tagged).SerializeToString()


def parse_graph_def(data: bytes) -> int:
    """Check that ``data`` parses as a GraphDef; return its node count (ValueError if not)."""
    from google.protobuf.message import DecodeError

    from tblog.proto import graph_pb2

    try:
        return len(graph_pb2.GraphDef.FromString(bytes(data)).node)
    except DecodeError as error:
        raise ValueError(f"model bytes are not a serialized GraphDef: {error}") from error
