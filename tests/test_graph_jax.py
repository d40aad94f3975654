"""JAX functions in the Graphs dashboard: tblog.adapters.jax.add_graph, read back by TensorBoard."""

from __future__ import annotations

from typing import Any

import pytest

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

import tblog  # noqa: E402
import tblog.adapters.jax as tbjax  # noqa: E402

pytestmark = pytest.mark.framework


def _mlp(params: dict[str, Any], xs: Any) -> Any:
    """A two-layer MLP applied over a sequence with lax.scan, the first layer in a named scope."""

    def step(carry: Any, x: Any) -> tuple[Any, Any]:
        with jax.named_scope("layer1"):
            h = jnp.tanh(x @ params["w1"] + params["b1"])
        y = h @ params["w2"]
        return carry + y.sum(), y

    total, ys = jax.lax.scan(step, jnp.float32(0), xs)
    return total, ys


def _params() -> dict[str, Any]:
    return {
        "w1": jnp.ones((3, 5), jnp.float32),
        "b1": jnp.zeros((5,), jnp.float32),
        "w2": jnp.ones((5, 2), jnp.float32),
    }


def _graph(event_accumulator: Any, logdir: Any) -> Any:
    acc = event_accumulator(logdir)
    graph = acc.Graph()
    return {node.name: node for node in graph.node}, graph


def test_jitted_mlp_with_scan_and_named_scope(tmp_path: Any, event_accumulator: Any) -> None:
    """A jitted MLP with lax.scan and a named scope reads back with scoped names, ops, edges, shapes."""
    with tblog.SummaryWriter(tmp_path) as writer:
        tbjax.add_graph(writer, jax.jit(_mlp), _params(), jnp.ones((4, 3), jnp.float32))
    nodes, graph = _graph(event_accumulator, tmp_path)
    closed = jax.make_jaxpr(jax.jit(_mlp))(_params(), jnp.ones((4, 3), jnp.float32))
    (jit_eqn,) = closed.jaxpr.eqns
    (scan_eqn,) = [e for e in jit_eqn.params["jaxpr"].jaxpr.eqns if e.primitive.name == "scan"]
    body = scan_eqn.params["jaxpr"].jaxpr
    # One node per equation (jit, scan and the body's), 4 inputs, 2 outputs, literal constants.
    eqns = 1 + len(jit_eqn.params["jaxpr"].jaxpr.eqns) + len(body.eqns)
    consts = [n for n in nodes.values() if n.op == "Const"]
    assert len(graph.node) == eqns + 4 + 2 + len(consts)
    assert sorted(n for n in nodes if n.startswith("input/")) == [
        "input/0/b1",
        "input/0/w1",
        "input/0/w2",
        "input/1",
    ]
    assert {nodes[n].op for n in nodes if n.startswith("input/")} == {"Placeholder"}
    # Scopes: jit name / scan / named scope inside the scan body.
    layer1 = {n: nodes[n].op for n in nodes if n.startswith("_mlp/scan/layer1/")}
    assert sorted(layer1.values()) == ["add", "dot_general", "tanh"]
    dot = nodes["_mlp/scan/layer1/dot_general"]
    assert list(dot.input) == ["input/1", "input/0/w1"]  # scan xs and const: the outer inputs
    assert nodes["_mlp/scan/layer1/tanh"].input == ["_mlp/scan/layer1/add"]
    assert "_mlp/scan/layer1/tanh" in nodes["_mlp/scan/dot_general"].input
    assert nodes["_mlp/scan/scan"].op == "scan"
    assert nodes["_mlp/jit"].op == "jit"
    assert nodes["output/0"].input == ["_mlp/jit"] and nodes["output/1"].input == ["_mlp/jit:1"]
    # Every edge points at a node of the graph.
    for node in graph.node:
        for inp in node.input:
            assert inp.split(":")[0] in nodes, (node.name, inp)
    # Output shapes and dtypes.
    shapes = nodes["_mlp/scan/scan"].attr["_output_shapes"].list.shape
    assert [[d.size for d in s.dim] for s in shapes] == [[], [4, 2]]
    assert [d.size for d in dot.attr["_output_shapes"].list.shape[0].dim] == [5]
    assert dot.attr["dtype"].type == 1  # DT_FLOAT
    assert nodes["_mlp/scan/scan"].attr["length"].s == b"4"


def test_graphs_plugin_serves_the_graph(tmp_path: Any, tensorboard_server: Any) -> None:
    """A real tensorboard server's graphs plugin lists the run and serves the GraphDef as pbtxt."""
    from google.protobuf import text_format

    from tblog.proto import graph_pb2

    with tblog.SummaryWriter(tmp_path) as writer:
        tbjax.add_graph(writer, jax.jit(_mlp), _params(), jnp.ones((4, 3), jnp.float32))
    get = tensorboard_server(tmp_path)
    info = get("/data/plugin/graphs/info")
    assert info["."]["run_graph"] is True
    body = get("/data/plugin/graphs/graph?run=.&conceptual=false")
    graph = text_format.Parse(body.decode("utf-8"), graph_pb2.GraphDef())
    nodes = {n.name: n for n in graph.node}
    assert nodes["_mlp/scan/scan"].op == "scan"
    assert nodes["_mlp/scan/layer1/tanh"].input == ["_mlp/scan/layer1/add"]


def test_control_flow_and_custom_rules_become_scopes(tmp_path: Any, event_accumulator: Any) -> None:
    """cond branches, while cond/body, custom_jvp and checkpoint become name scopes; kwargs are inputs."""

    def f(x: Any, *, scale: Any) -> Any:
        y = jax.lax.cond(x.sum() > 0, lambda a: a * 2, lambda a: a - 1, x)
        y = jax.lax.while_loop(lambda a: a.sum() < 10, lambda a: a + scale, y)
        y = jax.nn.relu(y)  # custom_jvp
        return jax.checkpoint(jnp.sin)(y)

    with tblog.SummaryWriter(tmp_path) as writer:
        tbjax.add_graph(writer, f, jnp.ones(3), scale=jnp.float32(2))
    nodes, _ = _graph(event_accumulator, tmp_path)
    assert nodes["input/0"].op == "Placeholder" and nodes["input/scale"].op == "Placeholder"
    assert nodes["cond/branch_0/sub"].op == "sub" and nodes["cond/branch_1/mul"].op == "mul"
    assert nodes["cond/cond"].op == "cond"
    assert nodes["while/cond/lt"].op == "lt"
    assert "input/scale" in nodes["while/body/add"].input
    assert nodes["while/while"].op == "while"
    assert any(n.startswith("custom_jvp_call/") and nodes[n].op == "max" for n in nodes)
    remat = [n for n in nodes if nodes[n].op == "sin"]
    assert len(remat) == 1 and remat[0].count("/") == 1  # inside the checkpoint's scope


def test_bad_inputs_leave_writer_usable(tmp_path: Any, event_accumulator: Any) -> None:
    """Non-callables, untraceable arguments and failing functions raise clear errors; writer stays usable."""
    with tblog.SummaryWriter(tmp_path) as writer:
        with pytest.raises(TypeError, match="fn: expected a callable"):
            tbjax.add_graph(writer, 3, jnp.ones(2))
        with pytest.raises(ValueError, match="could not trace"):
            tbjax.add_graph(writer, lambda x: x + 1, "not an array")
        with pytest.raises(ValueError, match="could not trace 'matmul'"):

            def matmul(a: Any, b: Any) -> Any:
                return a @ b

            tbjax.add_graph(writer, matmul, jnp.ones((2, 3)), jnp.ones((2, 3)))
        with pytest.raises(TypeError, match="writer: expected a tblog.SummaryWriter"):
            tbjax.add_graph(object(), jnp.sin, jnp.ones(2))
        writer.add_scalar("ok", 1.0, 0)
        tbjax.add_graph(writer, jnp.sin, jnp.ones(2))
    acc = event_accumulator(tmp_path)
    assert [e.value for e in acc.Scalars("ok")] == [1.0]
    assert {n.op for n in acc.Graph().node} == {"Placeholder", "sin", "Identity"}
