"""Keras adapter: a Keras 3 model's conceptual graph in TensorBoard's Graphs dashboard.

Import it explicitly (``import tblog.adapters.keras``); ``import tblog`` never loads Keras.
Works on any Keras backend (JAX, PyTorch, TensorFlow): only ``model.to_json()`` is read.

:func:`add_graph` writes the model's JSON as TensorBoard's Keras ("conceptual") graph: a
string tensor under tag ``keras`` with plugin ``graph_keras_model``, which the Graphs dashboard
lists as the run's conceptual graph and draws one node per layer (class as ``keras_class``),
edges from the layers' inbound nodes, nested models as name scopes.
"""

from __future__ import annotations

import json
from typing import Any

import keras
import numpy as np

from tblog import _convert
from tblog.summary import _wire
from tblog.summary.tensor import tensor_value

__all__ = ["add_graph", "keras_graph_value"]

PLUGIN_NAME = "graph_keras_model"
TAG = "keras"
_DATA_CLASS_BLOB_SEQUENCE = 3
# content b"1" is the version TensorBoard's graphs plugin accepts; data class BLOB_SEQUENCE and
# a shape-[1] tensor are what TensorBoard turns TensorFlow's keras_model summary into on load.
_METADATA = _wire.plugin_metadata(PLUGIN_NAME, content=b"1", data_class=_DATA_CLASS_BLOB_SEQUENCE)


def keras_graph_value(model_json: str, tag: str = TAG) -> bytes:
    """An encoded ``Summary.Value``: ``model_json`` as a shape-[1] string tensor, Keras graph plugin."""
    return tensor_value(tag, np.array([model_json], dtype=object), _METADATA)


def _model_json(model: Any) -> str:
    """``model.to_json()`` after checking that it describes a built layer graph."""
    if not isinstance(model, keras.Model):
        raise TypeError(
            "model: expected a Keras 3 keras.Model (Sequential or Functional); "
            f"got {_convert.describe(model)}"
        )
    if not model.built:
        raise ValueError(
            f"model: Keras model {model.name!r} is not built (no inputs yet); build it first: "
            "give it a keras.Input, call model.build(input_shape), or call it on a batch"
        )
    model_json = model.to_json()
    config = json.loads(model_json).get("config") or {}
    if not isinstance(config.get("layers"), list) or "name" not in config:
        raise TypeError(
            f"model: {type(model).__name__} is a subclassed keras.Model, whose config lists no "
            "layer graph; only Sequential and Functional models have a conceptual graph"
        )
    return model_json


def add_graph(writer: Any, model: Any, step: Any = 0, walltime: float | None = None) -> None:
    """Log ``model``'s conceptual graph (its layers and their connections) to ``writer``'s run.

    ``model``: a built Sequential or Functional Keras 3 model, on any backend. View it in the
    Graphs dashboard: pick the run, then tag ``keras`` ("Conceptual graph").

    Example::

        import tblog.adapters.keras as tbkeras

        tbkeras.add_graph(writer, model)

    Raises:
        TypeError: ``writer`` is not a tblog SummaryWriter, or ``model`` is not a Sequential or
            Functional ``keras.Model``.
        ValueError: ``model`` is not built yet; nothing is written and the writer stays usable.
    """
    if getattr(writer, "_events", None) is None or not hasattr(writer, "_put_values"):
        raise TypeError(f"writer: expected a tblog.SummaryWriter, got {_convert.describe(writer)}")
    model_json = _model_json(model)
    step, wall = writer._step_and_wall(step, walltime)
    writer._put_values([keras_graph_value(model_json)], step, wall)
