"""Keras conceptual graphs: tblog.adapters.keras.add_graph, read back by TensorBoard's graphs plugin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from conftest import tensorboard_plugin

# The backend is fixed when keras is first imported: JAX here (any backend works the same).
os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")

import tblog  # noqa: E402
import tblog.adapters.keras as tbkeras  # noqa: E402

pytestmark = pytest.mark.framework


def _sequential() -> Any:
    return keras.Sequential(
        [
            keras.Input((8,), name="x"),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dropout(0.1, name="drop"),
            keras.layers.Dense(3, name="logits"),
        ],
        name="mlp",
    )


def _two_inputs() -> Any:
    image = keras.Input((8, 8, 1), name="image")
    meta = keras.Input((4,), name="meta")
    x = keras.layers.Conv2D(2, 3, name="conv")(image)
    x = keras.layers.Flatten(name="flat")(x)
    m = keras.layers.Dense(5, name="meta_dense")(meta)
    merged = keras.layers.Concatenate(name="merge")([x, m])
    out = keras.layers.Dense(1, name="out")(merged)
    return keras.Model([image, meta], out, name="two_in")


def _conceptual_graph(logdir: Any) -> dict[str, Any]:
    """The run's conceptual graph as the graphs plugin serves it: {node name: NodeDef}."""
    from google.protobuf import text_format
    from tensorboard.plugins.graph import graphs_plugin

    from tblog.proto import graph_pb2

    tb = tensorboard_plugin(graphs_plugin.GraphsPlugin, logdir)
    status, body = tb.get("/info")
    assert status == 200
    assert json.loads(body)["."]["tags"]["keras"]["conceptual_graph"] is True
    status, body = tb.get("/graph", run=".", tag="keras", conceptual="true")
    assert status == 200, body
    graph = text_format.Parse(body.decode("utf-8"), graph_pb2.GraphDef())
    return {n.name: n for n in graph.node}


def _classes(nodes: dict[str, Any]) -> dict[str, str]:
    return {name: n.attr["keras_class"].s.decode() for name, n in nodes.items()}


@pytest.mark.tensorboard
def test_sequential_graph(tmp_path: Any) -> None:
    """A Sequential model becomes a chain of layer nodes scoped by the model name, classes as attrs."""
    with tblog.SummaryWriter(tmp_path) as writer:
        tbkeras.add_graph(writer, _sequential())
    nodes = _conceptual_graph(tmp_path)
    assert _classes(nodes) == {
        "mlp/x": "InputLayer",
        "mlp/hidden": "Dense",
        "mlp/drop": "Dropout",
        "mlp/logits": "Dense",
    }
    assert list(nodes["mlp/hidden"].input) == ["mlp/x"]
    assert list(nodes["mlp/drop"].input) == ["mlp/hidden"]
    assert list(nodes["mlp/logits"].input) == ["mlp/drop"]
    assert nodes["mlp/hidden"].attr["dtype"].type == 1  # DT_FLOAT


@pytest.mark.tensorboard
def test_functional_two_inputs(tmp_path: Any) -> None:
    """A Functional model with two inputs: both branches feed the merge layer, which feeds the output."""
    with tblog.SummaryWriter(tmp_path) as writer:
        tbkeras.add_graph(writer, _two_inputs(), step=3)
    nodes = _conceptual_graph(tmp_path)
    assert _classes(nodes) == {
        "two_in/image": "InputLayer",
        "two_in/meta": "InputLayer",
        "two_in/conv": "Conv2D",
        "two_in/flat": "Flatten",
        "two_in/meta_dense": "Dense",
        "two_in/merge": "Concatenate",
        "two_in/out": "Dense",
    }
    assert list(nodes["two_in/image"].input) == [] and list(nodes["two_in/meta"].input) == []
    assert list(nodes["two_in/conv"].input) == ["two_in/image"]
    assert list(nodes["two_in/flat"].input) == ["two_in/conv"]
    assert list(nodes["two_in/meta_dense"].input) == ["two_in/meta"]
    assert list(nodes["two_in/merge"].input) == ["two_in/flat", "two_in/meta_dense"]
    assert list(nodes["two_in/out"].input) == ["two_in/merge"]


@pytest.mark.tensorboard
def test_nested_model(tmp_path: Any) -> None:
    """A Sequential inside a Functional model becomes a name scope wired to its inbound layer."""
    inner = keras.Sequential([keras.layers.Dense(4, name="a"), keras.layers.Dense(2, name="b")], name="inner")
    x = keras.Input((3,), name="x")
    y = keras.layers.Dense(1, name="head")(inner(x))
    outer = keras.Model(x, y, name="outer")
    with tblog.SummaryWriter(tmp_path) as writer:
        tbkeras.add_graph(writer, outer)
    nodes = _conceptual_graph(tmp_path)
    assert _classes(nodes)["outer/inner/a"] == "Dense"
    # Keras 3 gives the nested Sequential its own InputLayer (auto-named, so the name depends
    # on what else this process built), wired to the outer input.
    (inner_input,) = [
        name
        for name, cls in _classes(nodes).items()
        if name.startswith("outer/inner/") and cls == "InputLayer"
    ]
    assert list(nodes[inner_input].input) == ["outer/x"]
    assert list(nodes["outer/inner/a"].input) == [inner_input]
    assert list(nodes["outer/inner/b"].input) == ["outer/inner/a"]
    assert list(nodes["outer/head"].input) == ["outer/inner/b"]


def test_event_layout(tmp_path: Any, event_accumulator: Any) -> None:
    """The value is tag 'keras', a shape-[1] string tensor of model.to_json(), plugin graph_keras_model."""
    model = keras.Sequential([keras.layers.Dense(2, name="d")], name="built_by_call")
    model(keras.ops.zeros((1, 3)))  # built by calling it
    with tblog.SummaryWriter(tmp_path) as writer:
        tbkeras.add_graph(writer, model, step=7)
    acc = event_accumulator(tmp_path)
    (event,) = acc.Tensors("keras")
    assert event.step == 7
    assert [d.size for d in event.tensor_proto.tensor_shape.dim] == [1]
    assert json.loads(event.tensor_proto.string_val[0]) == json.loads(model.to_json())
    meta = acc.SummaryMetadata("keras")
    assert meta.plugin_data.plugin_name == "graph_keras_model"
    assert meta.plugin_data.content == b"1"


def test_bad_inputs_leave_writer_usable(tmp_path: Any, event_accumulator: Any) -> None:
    """Non-models, subclassed and unbuilt models and non-writers raise clear errors; writer stays usable."""

    class Sub(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x: Any) -> Any:
            return self.dense(x)

    sub = Sub()
    sub(keras.ops.zeros((1, 3)))
    with tblog.SummaryWriter(tmp_path) as writer:
        with pytest.raises(TypeError, match=r"model: expected a Keras 3 keras\.Model.*got"):
            tbkeras.add_graph(writer, object())
        with pytest.raises(TypeError, match="model: expected a Keras 3"):
            tbkeras.add_graph(writer, keras.layers.Dense(2))
        with pytest.raises(ValueError, match="is not built.*build it first"):
            tbkeras.add_graph(writer, keras.Sequential([keras.layers.Dense(2)]))
        with pytest.raises(ValueError, match="is not built"):
            tbkeras.add_graph(writer, keras.Sequential())
        with pytest.raises(TypeError, match="subclassed keras.Model"):
            tbkeras.add_graph(writer, sub)
        with pytest.raises(TypeError, match="writer: expected a tblog.SummaryWriter"):
            tbkeras.add_graph(object(), _sequential())
        with pytest.raises(TypeError, match="global_step must be an int"):
            tbkeras.add_graph(writer, _sequential(), step="1")
        writer.add_scalar("ok", 1.0, 0)
        tbkeras.add_graph(writer, _sequential())
    acc = event_accumulator(tmp_path)
    assert [e.value for e in acc.Scalars("ok")] == [1.0]
    assert len(acc.Tensors("keras")) == 1


def test_import_tblog_does_not_load_keras() -> None:
    """``import tblog`` and ``import tblog.adapters`` leave keras unloaded."""
    code = "import sys, tblog, tblog.adapters; print('keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.tensorboard
def test_torch_backend(tmp_path: Any) -> None:
    """On the PyTorch backend the same Functional model gives the same conceptual graph."""
    pytest.importorskip("torch")
    code = (
        "import sys, keras, tblog, tblog.adapters.keras as tbkeras\n"
        "from test_graph_keras import _two_inputs\n"
        "assert keras.backend.backend() == 'torch'\n"
        "with tblog.SummaryWriter(sys.argv[1]) as w:\n"
        "    tbkeras.add_graph(w, _two_inputs())\n"
    )
    env = dict(os.environ, KERAS_BACKEND="torch", PYTHONPATH=os.path.dirname(__file__))
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, check=True, timeout=300)
    nodes = _conceptual_graph(tmp_path)
    assert list(nodes["two_in/merge"].input) == ["two_in/flat", "two_in/meta_dense"]
    assert _classes(nodes)["two_in/conv"] == "Conv2D"
