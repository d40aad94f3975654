"""Graphs dashboard: ``add_graph``."""

from __future__ import annotations

from typing import Any

from tblog import _convert
from tblog.events.async_writer import BYTES
from tblog.methods._base import WriterBase
from tblog.summary import graph as graph_summary


class GraphMethods(WriterBase):
    """Model graphs: a traced ``torch.nn.Module``, or a ready GraphDef."""

    def add_graph(
        self,
        model: Any,
        input_to_model: Any = None,
        verbose: bool = False,
        use_strict_trace: bool = True,
    ) -> None:
        """Log ``model``'s graph (Graphs dashboard).

        ``model``: a ``torch.nn.Module``, traced with ``torch.jit.trace`` on
        ``input_to_model`` (a tensor, a tuple/list of positional inputs, or a dict passed as
        the one argument) in eval mode, each submodule's training flag restored afterwards;
        or a GraphDef message (anything with ``SerializeToString`` and ``node``) or its
        serialized bytes, written as is. ``verbose`` prints the traced graph;
        ``use_strict_trace`` is ``torch.jit.trace``'s ``strict`` (pass False for models
        returning dicts or lists). Like torch, a traced graph also gets run metadata
        (tag ``step1``) naming the device it ran on.
        """
        step, wall = self._step_and_wall(None, None)
        if isinstance(model, (bytes, bytearray, memoryview)):
            data = bytes(model)
            graph_summary.parse_graph_def(data)
            self._put_event(graph_summary.graph_event(wall, step, data))
            return
        if hasattr(model, "SerializeToString") and hasattr(model, "node"):
            data = model.SerializeToString()
            self._put_event(graph_summary.graph_event(wall, step, data))
            return
        from tblog import _torch_graph

        if not _torch_graph.is_module(model):
            raise TypeError(
                "model must be a torch.nn.Module, a GraphDef or serialized GraphDef bytes; "
                f"got {_convert.describe(model)}"
            )
        if not self.is_writing:  # tracing runs the model: work for the ranks that write
            return
        nodes, device = _torch_graph.trace_nodes(model, input_to_model, bool(verbose), bool(use_strict_trace))
        graph_event = graph_summary.graph_event(wall, step, graph_summary.graph_def(nodes))
        metadata = graph_summary.run_metadata(device)
        self._put_event(graph_event)
        self._put_event(graph_summary.run_metadata_event(wall, step, "step1", metadata))

    def _put_event(self, event: bytes) -> None:
        """Queue one encoded Event."""
        self._events.put(BYTES, "", event, len(event))
