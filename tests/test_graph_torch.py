"""add_graph: PyTorch modules traced into GraphDefs, read back through TensorBoard's loader and its
graphs plugin; raw GraphDefs; bad inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import tensorboard_plugin

import tblog

torch = pytest.importorskip("torch")
nn = torch.nn

pytestmark = [pytest.mark.framework, pytest.mark.tensorboard]

DT_FLOAT = 1


class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.head = nn.Linear(4, 10)

    def forward(self, x: Any) -> Any:
        return self.head(self.features(x).mean((2, 3)))


class BasicBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: Any) -> Any:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + x)


class ResNetish(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer1 = nn.Sequential(BasicBlock(4), BasicBlock(4))

    def forward(self, x: Any) -> Any:
        return self.layer1(x)


class Tagger(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(20, 6)
        self.lstm = nn.LSTM(6, 8, batch_first=True)
        self.out = nn.Linear(8, 3)

    def forward(self, tokens: Any) -> Any:
        seq, (h, _c) = self.lstm(self.embed(tokens))
        return self.out(seq), h


class DictModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.image = nn.Linear(5, 4)
        self.meta = nn.Linear(2, 4)

    def forward(self, batch: dict[str, Any]) -> Any:
        return {"logits": self.image(batch["image"]) + self.meta(batch["meta"])}


# torch's scope names: <class>[<attribute>] under the model's class
FEATURES = "SmallCNN/Sequential[features]"
BLOCK0 = "ResNetish/Sequential[layer1]/BasicBlock[0]"
BLOCK1 = "ResNetish/Sequential[layer1]/BasicBlock[1]"


def _graph(logdir: Path, event_accumulator: Any) -> dict[str, Any]:
    """name → NodeDef of the run's graph, as TensorBoard's EventAccumulator loads it."""
    return {node.name: node for node in event_accumulator(logdir).Graph().node}


def _log(tmp_path: Path, model: Any, inputs: Any, **kwargs: Any) -> Path:
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_graph(model, inputs, **kwargs)
    return tmp_path


def _shape(node: Any, index: int = 0) -> list[int]:
    return [d.size for d in node.attr["_output_shapes"].list.shape[index].dim]


def _jit_node_count(model: Any, inputs: Any, strict: bool = True) -> int:
    """Nodes a trace of ``model`` holds: graph inputs and ops except module handles, outputs."""
    traced = torch.jit.trace(model.eval(), inputs, strict=strict)
    graph = traced.graph
    torch._C._jit_pass_inline(graph)
    module = torch._C.ClassType
    values = [v for v in graph.inputs() if not isinstance(v.type(), module)]
    ops = [n for n in graph.nodes() if not any(isinstance(o.type(), module) for o in n.outputs())]
    return len(values) + len(ops) + len(list(graph.outputs()))


def test_cnn_with_batchnorm(tmp_path: Path, event_accumulator: Any) -> None:
    """A CNN's graph has one node per traced op, scoped names, op types, wired edges, shapes
    and dtypes; each submodule's training flag is what it was before."""
    model = SmallCNN().train()
    model.features[1].eval()  # a frozen BatchNorm inside a training model
    x = torch.randn(2, 3, 8, 8)
    graph = _graph(_log(tmp_path, model, x), event_accumulator)

    assert len(graph) == _jit_node_count(SmallCNN(), x)
    conv = graph[FEATURES + "/Conv2d[0]/_convolution"]
    assert conv.op == "aten::_convolution"
    assert conv.input[:3] == [
        "input/x",
        FEATURES + "/Conv2d[0]/weight",
        FEATURES + "/Conv2d[0]/bias",
    ]
    assert _shape(conv) == [2, 4, 8, 8]
    assert conv.attr["dtype"].type == DT_FLOAT
    bn = graph[FEATURES + "/BatchNorm2d[1]/batch_norm"]
    assert bn.op == "aten::batch_norm"
    assert bn.input[:5] == [
        FEATURES + "/Conv2d[0]/_convolution",
        FEATURES + "/BatchNorm2d[1]/weight",
        FEATURES + "/BatchNorm2d[1]/bias",
        FEATURES + "/BatchNorm2d[1]/running_mean",
        FEATURES + "/BatchNorm2d[1]/running_var",
    ]
    assert graph[FEATURES + "/BatchNorm2d[1]/running_var"].op == "prim::GetAttr"
    assert _shape(graph[FEATURES + "/BatchNorm2d[1]/running_var"]) == [4]
    assert graph[FEATURES + "/ReLU[2]/relu"].input[0] == FEATURES + "/BatchNorm2d[1]/batch_norm"
    linear = graph["SmallCNN/Linear[head]/linear"]
    assert linear.op == "aten::linear" and _shape(linear) == [2, 10]
    assert graph["input/x"].op == "IO Node" and _shape(graph["input/x"]) == [2, 3, 8, 8]
    assert graph["output/output.1"].input == ["SmallCNN/Linear[head]/linear"]
    # every edge points at a node of the graph
    for node in graph.values():
        for name in node.input:
            assert name.split(":")[0] in graph, (node.name, name)
    assert model.training and model.features[0].training and not model.features[1].training


def test_residual_block(tmp_path: Path, event_accumulator: Any) -> None:
    """In a residual block the skip connection is an edge from the block's input to its add."""
    x = torch.randn(1, 4, 6, 6)
    graph = _graph(_log(tmp_path, ResNetish(), x), event_accumulator)

    assert len(graph) == _jit_node_count(ResNetish(), x)
    add = graph[BLOCK0 + "/add"]
    assert add.op == "aten::add"
    assert add.input[:2] == [
        BLOCK0 + "/BatchNorm2d[bn2]/batch_norm",
        "input/x",
    ]
    add2 = graph[BLOCK1 + "/add"]
    assert add2.input[:2] == [
        BLOCK1 + "/BatchNorm2d[bn2]/batch_norm",
        BLOCK0 + "/relu_1",
    ]
    assert graph[BLOCK1 + "/Conv2d[conv1]/_convolution"].input[0] == BLOCK0 + "/relu_1"
    assert _shape(graph[BLOCK1 + "/relu_1"]) == [1, 4, 6, 6]


def test_lstm_and_tuple_outputs(tmp_path: Path, event_accumulator: Any) -> None:
    """An LSTM is one aten::lstm node with three output shapes; later outputs are wired as
    ``name:1``; the tuple output reaches the output node."""
    tokens = torch.randint(0, 20, (2, 7))
    graph = _graph(_log(tmp_path, Tagger(), tokens), event_accumulator)

    assert len(graph) == _jit_node_count(Tagger(), tokens)
    lstm = graph["Tagger/LSTM[lstm]/lstm"]
    assert lstm.op == "aten::lstm"
    assert lstm.input[0] == "Tagger/Embedding[embed]/embedding"
    assert [_shape(lstm, i) for i in range(3)] == [[2, 7, 8], [1, 2, 8], [1, 2, 8]]
    assert graph["Tagger/Embedding[embed]/embedding"].input[:2] == [
        "Tagger/Embedding[embed]/weight",
        "input/tokens",
    ]
    assert graph["input/tokens"].attr["dtype"].type == 9  # DT_INT64
    weights = graph["Tagger/LSTM[lstm]/ListConstruct_3"]
    assert "Tagger/LSTM[lstm]/weight_ih_l0" in weights.input
    # the LSTM module returns (seq, h): packed from outputs 0 and 1, unpacked by the caller
    assert graph["Tagger/TupleConstruct"].input == ["Tagger/LSTM[lstm]/lstm", "Tagger/LSTM[lstm]/lstm:1"]
    unpack = graph["Tagger/TupleUnpack"]
    assert unpack.input == ["Tagger/TupleConstruct"] and len(unpack.attr["_output_shapes"].list.shape) == 2
    assert graph["Tagger/Linear[out]/linear"].input[0] == "Tagger/TupleUnpack"
    assert graph["Tagger/TupleConstruct_1"].input == ["Tagger/Linear[out]/linear", "Tagger/TupleUnpack:1"]
    assert graph["output/output.1"].input == ["Tagger/TupleConstruct_1"]


def test_dict_inputs_and_outputs(tmp_path: Path, event_accumulator: Any) -> None:
    """A model taking a dict and returning a dict (use_strict_trace=False): the dict input is
    one input node the item lookups read from."""
    batch = {"image": torch.randn(3, 5), "meta": torch.randn(3, 2)}
    graph = _graph(_log(tmp_path, DictModel(), batch, use_strict_trace=False), event_accumulator)

    assert len(graph) == _jit_node_count(DictModel(), batch, strict=False)
    lookups = [n for n in graph.values() if n.op == "aten::__getitem__"]
    assert len(lookups) == 2 and all(n.input[0] == "input/batch" for n in lookups)
    image = graph["DictModel/Linear[image]/linear"]
    assert image.input[0] in {n.name for n in lookups} and _shape(image) == [3, 4]
    assert graph["DictModel/DictConstruct"].op == "prim::DictConstruct"
    assert graph["output/output.1"].input == ["DictModel/DictConstruct"]


def test_tuple_inputs_and_control_flow(tmp_path: Path, event_accumulator: Any) -> None:
    """Several positional inputs become several input nodes; a Python loop and branch that
    trace unroll into one node per call."""

    class Loop(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.cell = nn.Linear(4, 4)
            self.extra = True

        def forward(self, x: Any, y: Any) -> Any:
            for _ in range(3):
                x = self.cell(x)
            return x + y if self.extra else x

    graph = _graph(_log(tmp_path, Loop(), (torch.randn(2, 4), torch.randn(2, 4))), event_accumulator)
    assert {"input/x", "input/y"} <= set(graph)
    linears = sorted(n for n, node in graph.items() if node.op == "aten::linear")
    assert linears == ["Loop/Linear[cell]/linear", "Loop/Linear[cell]/linear_1", "Loop/Linear[cell]/linear_2"]
    assert graph["Loop/Linear[cell]/linear_1"].input[0] == "Loop/Linear[cell]/linear"
    assert graph["Loop/add"].input[:2] == ["Loop/Linear[cell]/linear_2", "input/y"]


def test_run_metadata_and_graphs_plugin(tmp_path: Path, event_accumulator: Any) -> None:
    """TensorBoard's graphs plugin serves the graph at /graph and the run metadata (the device,
    tag step1, as torch writes it) at /run_metadata."""
    from google.protobuf import text_format
    from tensorboard.compat.proto import config_pb2, graph_pb2
    from tensorboard.plugins.graph import graphs_plugin

    _log(tmp_path, SmallCNN(), torch.randn(1, 3, 4, 4))
    metadata = event_accumulator(tmp_path).RunMetadata("step1")
    assert [d.device for d in metadata.step_stats.dev_stats] == ["/device:CPU:0"]

    plugin = tensorboard_plugin(graphs_plugin.GraphsPlugin, tmp_path)
    status, body = plugin.get("/graph", run=".")
    assert status == 200
    served = text_format.Parse(body.decode(), graph_pb2.GraphDef())
    assert served.node[0].name == "input/x"
    assert FEATURES + "/Conv2d[0]/_convolution" in {n.name for n in served.node}
    status, body = plugin.get("/run_metadata", run=".", tag="step1")
    assert status == 200
    served_metadata = text_format.Parse(body.decode(), config_pb2.RunMetadata())
    assert served_metadata.step_stats.dev_stats[0].device == "/device:CPU:0"


def _scoped_ops(graph: Any) -> set[tuple[str, str]]:
    """(name scope, op) of the operator nodes: what the Graphs dashboard groups by. (A set:
    torch writes an op with several outputs as one node per output, tblog as one node.)"""
    skip = {"IO Node", "prim::GetAttr"}
    return {(n.name.rsplit("/", 1)[0], n.op) for n in graph.node if n.op not in skip}


def test_same_operators_and_scopes_as_torch(tmp_path: Path, event_accumulator: Any) -> None:
    """On the same models, tblog's graph has torch.utils.tensorboard's operators, in the same
    name scopes (``SmallCNN/Sequential[features]/Conv2d[0]``), so the two compare side by side."""
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    for i, (model, inputs) in enumerate(
        [
            (SmallCNN(), torch.randn(2, 3, 8, 8)),
            (ResNetish(), torch.randn(1, 4, 6, 6)),
            (Tagger(), torch.randint(0, 20, (2, 7))),
        ]
    ):
        ours = _log(tmp_path / f"ours{i}", model, inputs)
        with TorchWriter(tmp_path / f"torch{i}") as writer:
            writer.add_graph(model, inputs)
        ours_ops = {n.op for n in event_accumulator(ours).Graph().node}
        torch_ops = {n.op for n in event_accumulator(tmp_path / f"torch{i}").Graph().node}
        assert ours_ops == torch_ops, type(model).__name__
        ours_scoped = _scoped_ops(event_accumulator(ours).Graph())
        torch_scoped = _scoped_ops(event_accumulator(tmp_path / f"torch{i}").Graph())
        assert ours_scoped == torch_scoped, (
            type(model).__name__,
            ours_scoped - torch_scoped,
            torch_scoped - ours_scoped,
        )


def test_a_traced_module_keeps_its_classes_in_scope_names(tmp_path: Path, event_accumulator: Any) -> None:
    """add_graph(torch.jit.trace(model), []) (what Ultralytics logs): the scopes name the
    modules' own classes, as torch's writer does, not TracedModule."""
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    traced = torch.jit.trace(SmallCNN().eval(), torch.randn(1, 3, 8, 8))
    ours = _log(tmp_path / "ours", traced, [])
    with TorchWriter(tmp_path / "torch") as writer:
        writer.add_graph(traced, [])
    ours_scoped = _scoped_ops(event_accumulator(ours).Graph())
    assert (FEATURES + "/Conv2d[0]", "aten::_convolution") in ours_scoped
    assert ours_scoped == _scoped_ops(event_accumulator(tmp_path / "torch").Graph())


def test_raw_graph_def(tmp_path: Path, event_accumulator: Any) -> None:
    """A GraphDef message (tblog's or tensorboard's) or its bytes is written as the run's graph."""
    from tensorboard.compat.proto import graph_pb2 as tb_graph_pb2

    from tblog.proto import graph_pb2

    ours = graph_pb2.GraphDef()
    ours.node.add(name="a", op="Placeholder")
    ours.node.add(name="scope/b", op="Relu", input=["a"])
    theirs = tb_graph_pb2.GraphDef()
    theirs.ParseFromString(ours.SerializeToString())
    for i, model in enumerate([ours, theirs, ours.SerializeToString()]):
        _log(tmp_path / str(i), model, None)
        graph = event_accumulator(tmp_path / str(i)).Graph()
        assert [(n.name, n.op, list(n.input)) for n in graph.node] == [
            ("a", "Placeholder", []),
            ("scope/b", "Relu", ["a"]),
        ]
    with tblog.SummaryWriter(tmp_path / "bad") as writer, pytest.raises(ValueError, match="not a serialized"):
        writer.add_graph(b"\xff\xff\xff")


class Refuses(nn.Module):
    def forward(self, x: Any) -> Any:
        if torch.jit.is_tracing():
            raise RuntimeError("this layer does not support tracing")
        return x * 2


class HasUntraceable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.blocks = nn.Sequential(nn.ReLU(), Refuses())

    def forward(self, x: Any) -> Any:
        return self.blocks(self.fc(x))


def test_bad_inputs_leave_writer_usable(tmp_path: Path, event_accumulator: Any) -> None:
    """A non-module, inputs of the wrong shape and an untraceable model raise clear errors
    naming what failed; the model's mode is restored and the writer keeps working."""
    writer = tblog.SummaryWriter(tmp_path)
    with pytest.raises(TypeError, match=r"model must be a torch.nn.Module.*got str"):
        writer.add_graph("resnet18", torch.randn(1))
    with pytest.raises(TypeError, match=r"model must be a torch.nn.Module.*got function"):
        writer.add_graph(lambda x: x, torch.randn(1))
    with pytest.raises(TypeError, match=r"input_to_model must be .*got int"):
        writer.add_graph(SmallCNN(), 3)

    model = HasUntraceable().train()
    with pytest.raises(
        ValueError, match=r"input_to_model does not fit .*HasUntraceable\.fc \(Linear\)"
    ) as bad:
        writer.add_graph(model, torch.randn(2, 5))
    assert isinstance(bad.value.__cause__, RuntimeError)
    with pytest.raises(
        RuntimeError, match=r"could not trace HasUntraceable\.blocks\.1 \(Refuses\)"
    ) as untraced:
        writer.add_graph(model, torch.randn(2, 3))
    assert "does not support tracing" in str(untraced.value.__cause__)
    assert all(m.training for m in model.modules())
    with pytest.raises(RuntimeError, match="use_strict_trace=False"):
        writer.add_graph(DictModel(), {"image": torch.randn(3, 5), "meta": torch.randn(3, 2)})

    writer.add_scalar("loss", 1.0, 0)
    writer.add_graph(SmallCNN(), torch.randn(1, 3, 4, 4))
    writer.close()
    acc = event_accumulator(tmp_path)
    assert [s.value for s in acc.Scalars("loss")] == [1.0]
    assert any(n.name == "SmallCNN/Linear[head]/linear" for n in acc.Graph().node)


def test_verbose_prints_graph(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """verbose=True prints the traced TorchScript graph, as torch does."""
    _log(tmp_path, SmallCNN(), torch.randn(1, 3, 4, 4), verbose=True)
    assert "aten::_convolution" in capsys.readouterr().out


def test_import_tblog_does_not_import_torch() -> None:
    """The torch tracer is imported lazily: importing tblog's graph modules pulls in no torch."""
    import subprocess
    import sys

    code = "import tblog, tblog.methods.graphs, tblog._torch_graph, sys; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
