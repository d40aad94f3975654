"""tblog's own .proto files and their committed generated modules.

Tests without a marker need only tblog and protobuf, so they also run at the
oldest supported protobuf. Tests marked ``tensorboard`` compare with the
``tensorboard`` package's own generated classes (which need protobuf >= 6.31).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from google.protobuf import descriptor_pb2, text_format
from google.protobuf.message import Message

REPO_ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = REPO_ROOT / "tblog" / "proto"

# tblog module (tblog.proto.<name>_pb2) -> the tensorboard module it mirrors.
TB_MODULES: dict[str, str] = {
    "types": "tensorboard.compat.proto.types_pb2",
    "tensor_shape": "tensorboard.compat.proto.tensor_shape_pb2",
    "resource_handle": "tensorboard.compat.proto.resource_handle_pb2",
    "tensor": "tensorboard.compat.proto.tensor_pb2",
    "summary": "tensorboard.compat.proto.summary_pb2",
    "event": "tensorboard.compat.proto.event_pb2",
    "full_type": "tensorboard.compat.proto.full_type_pb2",
    "attr_value": "tensorboard.compat.proto.attr_value_pb2",
    "node_def": "tensorboard.compat.proto.node_def_pb2",
    "op_def": "tensorboard.compat.proto.op_def_pb2",
    "function": "tensorboard.compat.proto.function_pb2",
    "versions": "tensorboard.compat.proto.versions_pb2",
    "graph_debug_info": "tensorboard.compat.proto.graph_debug_info_pb2",
    "graph": "tensorboard.compat.proto.graph_pb2",
    "allocation_description": "tensorboard.compat.proto.allocation_description_pb2",
    "tensor_description": "tensorboard.compat.proto.tensor_description_pb2",
    "step_stats": "tensorboard.compat.proto.step_stats_pb2",
    "cost_graph": "tensorboard.compat.proto.cost_graph_pb2",
    "run_metadata": "tensorboard.compat.proto.config_pb2",
    "scalar_plugin_data": "tensorboard.plugins.scalar.plugin_data_pb2",
    "text_plugin_data": "tensorboard.plugins.text.plugin_data_pb2",
    "histogram_plugin_data": "tensorboard.plugins.histogram.plugin_data_pb2",
    "image_plugin_data": "tensorboard.plugins.image.plugin_data_pb2",
    "audio_plugin_data": "tensorboard.plugins.audio.plugin_data_pb2",
    "pr_curve_plugin_data": "tensorboard.plugins.pr_curve.plugin_data_pb2",
    "mesh_plugin_data": "tensorboard.plugins.mesh.plugin_data_pb2",
    "hparams_api": "tensorboard.plugins.hparams.api_pb2",
    "hparams_plugin_data": "tensorboard.plugins.hparams.plugin_data_pb2",
    "custom_scalar_layout": "tensorboard.plugins.custom_scalar.layout_pb2",
    "projector_config": "tensorboard.plugins.projector.projector_config_pb2",
}

# TensorBoard files tblog mirrors only in part, with the messages it takes from each.
# (HistogramProto lives in tblog's summary.proto; the rest of histogram.proto is nothing.)
TB_PARTIAL = {
    "tensorboard.compat.proto.config_pb2": {"RunMetadata", "SessionMetadata"},
}
TB_EXTRA_FILES = ["tensorboard.compat.proto.histogram_pb2"]

# Package prefixes: tblog's on the left, TensorBoard's on the right (most specific first).
PACKAGES = [
    ("tblog.hparams.", "tensorboard.hparams."),
    ("tblog.mesh.", "tensorboard.mesh."),
    ("tblog.projector.", "tensorboard.projector."),
    ("tblog.", "tensorboard."),
]


def _proto_names() -> list[str]:
    return sorted(p.stem for p in PROTO_DIR.glob("*.proto"))


def _tblog(name: str) -> ModuleType:
    return importlib.import_module(f"tblog.proto.{name}_pb2")


def _namespace(modules: dict[str, ModuleType]) -> SimpleNamespace:
    return SimpleNamespace(**modules)


def _tblog_ns() -> SimpleNamespace:
    return _namespace({name: _tblog(name) for name in TB_MODULES})


def _load_gen_protos() -> Any:
    path = REPO_ROOT / "scripts" / "gen_protos.py"
    spec = importlib.util.spec_from_file_location("tblog_gen_protos", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen_protos() -> Any:
    """scripts/gen_protos.py with its pinned generator; skip without it, fail if it is required.

    Set TBLOG_REQUIRE_PROTOC=1 in the environment where grpcio-tools==1.62.3 is installed
    (it has no wheel for CPython 3.13), so a missing generator fails there instead of skipping.
    """
    module = _load_gen_protos()
    try:
        module.check_generator()
    except module.GeneratorUnavailable as e:
        if os.environ.get("TBLOG_REQUIRE_PROTOC") == "1":
            pytest.fail(f"TBLOG_REQUIRE_PROTOC=1 but the pinned generator is missing: {e}")
        pytest.skip(str(e))
    return module


@pytest.fixture(scope="module")
def tb() -> SimpleNamespace:
    """TensorBoard's generated modules, under tblog's module names."""
    pytest.importorskip("tensorboard")
    return _namespace({name: importlib.import_module(path) for name, path in TB_MODULES.items()})


# ---------------------------------------------------------------------------------------
# Builders: each fills one message family with many fields (repeated, nested, enums,
# oneofs, maps) from a namespace of modules, so the same message is built from tblog's
# classes and from TensorBoard's.


def build_event_scalar(m: SimpleNamespace) -> Message:
    meta = m.summary.SummaryMetadata(
        plugin_data=m.summary.SummaryMetadata.PluginData(
            plugin_name="scalars",
            content=m.scalar_plugin_data.ScalarPluginData(version=0).SerializeToString(),
        ),
        display_name="Loss",
        summary_description="training **loss**",
        data_class=m.summary.DATA_CLASS_SCALAR,
    )
    value = m.summary.Summary.Value(
        tag="loss",
        metadata=meta,
        tensor=m.tensor.TensorProto(dtype=m.types.DT_FLOAT, float_val=[0.25]),
    )
    simple = m.summary.Summary.Value(tag="lr", simple_value=1e-3, node_name="old")
    return m.event.Event(
        wall_time=1700000000.125,
        step=-(2**40),
        summary=m.summary.Summary(value=[value, simple]),
        source_metadata=m.event.SourceMetadata(writer="tblog"),
    )


def build_event_file_version(m: SimpleNamespace) -> Message:
    return m.event.Event(wall_time=1.5, file_version="brain.Event:2")


def build_event_session_log(m: SimpleNamespace) -> Message:
    return m.event.Event(
        step=7,
        session_log=m.event.SessionLog(
            status=m.event.SessionLog.CHECKPOINT, checkpoint_path="/ckpt/7", msg="saved"
        ),
    )


def build_event_legacy_media(m: SimpleNamespace) -> Message:
    image = m.summary.Summary.Image(
        height=2, width=3, colorspace=4, encoded_image_string=b"\x89PNG\r\n\x1a\n\x00\xff"
    )
    audio = m.summary.Summary.Audio(
        sample_rate=16000.0,
        num_channels=2,
        length_frames=4410,
        encoded_audio_string=b"RIFF\x00\x01WAVE",
        content_type="audio/wav",
    )
    histo = m.summary.HistogramProto(
        min=-1.5,
        max=3.25,
        num=10.0,
        sum=4.0,
        sum_squares=17.5,
        bucket_limit=[-1.0, 0.0, 1.0, 1.7976931348623157e308],
        bucket=[1.0, 0.0, 6.0, 3.0],
    )
    return m.event.Event(
        wall_time=2.0,
        step=3,
        summary=m.summary.Summary(
            value=[
                m.summary.Summary.Value(tag="img", image=image),
                m.summary.Summary.Value(tag="snd", audio=audio),
                m.summary.Summary.Value(tag="h", histo=histo),
                m.summary.Summary.Value(tag="old", obsolete_old_style_histogram=b"\x01\x02"),
            ]
        ),
    )


def build_event_tagged_run_metadata(m: SimpleNamespace) -> Message:
    return m.event.Event(
        step=1,
        tagged_run_metadata=m.event.TaggedRunMetadata(
            tag="step1", run_metadata=build_run_metadata(m).SerializeToString(deterministic=True)
        ),
    )


def build_event_log_message(m: SimpleNamespace) -> Message:
    return m.event.Event(
        log_message=m.event.LogMessage(level=m.event.LogMessage.WARN, message="careful"),
    )


def build_worker_heartbeat(m: SimpleNamespace) -> Message:
    return m.event.WorkerHeartbeatResponse(
        health_status=m.event.SHUTTING_DOWN,
        worker_log=[build_event_file_version(m), build_event_session_log(m)],
        hostname="host-1",
    )


def build_tensor(m: SimpleNamespace) -> Message:
    shape = m.tensor_shape.TensorShapeProto(
        dim=[
            m.tensor_shape.TensorShapeProto.Dim(size=2, name="batch"),
            m.tensor_shape.TensorShapeProto.Dim(size=-1),
        ],
    )
    return m.tensor.TensorProto(
        dtype=m.types.DT_DOUBLE,
        tensor_shape=shape,
        version_number=1,
        tensor_content=struct.pack("<4d", 1.0, -2.0, 3.5, 0.0),
        half_val=[0x3C00, 0xBC00],
        float_val=[1.0, -0.0, float("inf")],
        double_val=[2.5, -1e300],
        int_val=[0, -1, 2**31 - 1],
        string_val=[b"a", b"", b"\x00\xff"],
        scomplex_val=[1.0, 2.0],
        int64_val=[-(2**63), 2**63 - 1],
        bool_val=[True, False, True],
        dcomplex_val=[3.0, -4.0],
        resource_handle_val=[
            m.resource_handle.ResourceHandleProto(
                device="/cpu:0",
                container="c",
                name="r",
                hash_code=2**64 - 1,
                maybe_type_name="T",
                dtypes_and_shapes=[
                    m.resource_handle.ResourceHandleProto.DtypeAndShape(
                        dtype=m.types.DT_INT64,
                        shape=m.tensor_shape.TensorShapeProto(unknown_rank=True),
                    )
                ],
            )
        ],
        variant_val=[
            m.tensor.VariantTensorDataProto(
                type_name="V",
                metadata=b"md",
                tensors=[m.tensor.TensorProto(dtype=m.types.DT_STRING, string_val=[b"x"])],
            )
        ],
        uint32_val=[2**32 - 1],
        uint64_val=[2**64 - 1],
        float8_val=b"\x01\x02\x03",
    )


def build_serialized_dtype(m: SimpleNamespace) -> Message:
    return m.types.SerializedDType(datatype=m.types.DT_FLOAT4_E2M1FN_REF)


def build_plugin_scalar(m: SimpleNamespace) -> Message:
    return m.scalar_plugin_data.ScalarPluginData(version=3)


def build_plugin_text(m: SimpleNamespace) -> Message:
    return m.text_plugin_data.TextPluginData(version=1)


def build_plugin_histogram(m: SimpleNamespace) -> Message:
    return m.histogram_plugin_data.HistogramPluginData(version=2)


def build_plugin_image(m: SimpleNamespace) -> Message:
    return m.image_plugin_data.ImagePluginData(version=1, converted_to_tensor=True)


def build_plugin_audio(m: SimpleNamespace) -> Message:
    return m.audio_plugin_data.AudioPluginData(
        version=1, encoding=m.audio_plugin_data.AudioPluginData.WAV, converted_to_tensor=True
    )


def build_plugin_pr_curve(m: SimpleNamespace) -> Message:
    return m.pr_curve_plugin_data.PrCurvePluginData(version=0, num_thresholds=201)


def build_plugin_mesh(m: SimpleNamespace) -> Message:
    mesh = m.mesh_plugin_data.MeshPluginData
    return mesh(
        version=1,
        name="bunny",
        content_type=mesh.FACE,
        json_config='{"camera": {"fov": 75}}',
        shape=[1, 1000, 3],
        components=(1 << mesh.VERTEX) | (1 << mesh.FACE) | (1 << mesh.COLOR),
    )


def _experiment(m: SimpleNamespace) -> Message:
    api = m.hparams_api
    discrete = api.HParamInfo(name="optimizer", type=api.DATA_TYPE_STRING, differs=True)
    discrete.domain_discrete.values.add().string_value = "adam"
    discrete.domain_discrete.values.add().string_value = "sgd"
    return api.Experiment(
        name="exp",
        description="sweep",
        user="me",
        time_created_secs=1700000000.5,
        hparam_infos=[
            discrete,
            api.HParamInfo(
                name="lr",
                display_name="learning rate",
                description="step size",
                type=api.DATA_TYPE_FLOAT64,
                domain_interval=api.Interval(min_value=1e-5, max_value=0.1),
            ),
            api.HParamInfo(name="nesterov", type=api.DATA_TYPE_BOOL),
        ],
        metric_infos=[
            api.MetricInfo(
                name=api.MetricName(group="validation", tag="accuracy"),
                display_name="acc",
                description="top-1",
                dataset_type=api.DATASET_VALIDATION,
            )
        ],
    )


def build_hparams_experiment(m: SimpleNamespace) -> Message:
    return m.hparams_plugin_data.HParamsPluginData(version=0, experiment=_experiment(m))


def build_hparams_session_start(m: SimpleNamespace) -> Message:
    start = m.hparams_plugin_data.SessionStartInfo(
        model_uri="/models/1", monitor_url="http://x", group_name="g", start_time_secs=12.5
    )
    start.hparams["optimizer"].string_value = "adam"
    start.hparams["lr"].number_value = 0.001
    start.hparams["nesterov"].bool_value = True
    return m.hparams_plugin_data.HParamsPluginData(version=0, session_start_info=start)


def build_hparams_session_end(m: SimpleNamespace) -> Message:
    end = m.hparams_plugin_data.SessionEndInfo(status=m.hparams_api.STATUS_FAILURE, end_time_secs=99.0)
    return m.hparams_plugin_data.HParamsPluginData(version=0, session_end_info=end)


def build_hparams_api_requests(m: SimpleNamespace) -> Message:
    api = m.hparams_api
    name = api.MetricName(group="train", tag="loss")
    col = api.ColParams(
        metric=name,
        order=api.ORDER_DESC,
        missing_values_first=True,
        filter_interval=api.Interval(min_value=0.0, max_value=1.0),
        exclude_missing_values=True,
        include_in_result=False,  # proto3 optional: written although it is the default
    )
    col2 = api.ColParams(hparam="lr", filter_regexp="^0\\.")
    col2.filter_discrete.values.add().number_value = 3.0
    return api.ListSessionGroupsRequest(
        experiment_name="exp",
        allowed_statuses=[api.STATUS_SUCCESS, api.STATUS_RUNNING],
        col_params=[col, col2],
        aggregation_type=api.AGGREGATION_MEDIAN,
        aggregation_metric=name,
        start_index=10,
        slice_size=20,
        include_metrics=True,
    )


def build_hparams_api_response(m: SimpleNamespace) -> Message:
    api = m.hparams_api
    value = api.MetricValue(name=api.MetricName(tag="acc"), value=0.5, training_step=100, wall_time_secs=3.0)
    group = api.SessionGroup(
        name="g",
        metric_values=[value],
        sessions=[
            api.Session(
                name="s",
                start_time_secs=1.0,
                end_time_secs=2.0,
                status=api.STATUS_SUCCESS,
                model_uri="/m",
                metric_values=[value],
                monitor_url="u",
            )
        ],
        monitor_url="u",
    )
    group.hparams["lr"].number_value = 0.1
    group.hparams["opt"].string_value = "sgd"
    return api.ListSessionGroupsResponse(session_groups=[group], total_size=1)


def build_hparams_get_experiment(m: SimpleNamespace) -> Message:
    return m.hparams_api.GetExperimentRequest(experiment_name="e", include_metrics=False, hparams_limit=0)


def build_hparams_list_metric_evals(m: SimpleNamespace) -> Message:
    api = m.hparams_api
    return api.ListMetricEvalsRequest(
        experiment_name="e", session_name="s", metric_name=api.MetricName(tag="t")
    )


def build_custom_scalar_layout(m: SimpleNamespace) -> Message:
    lay = m.custom_scalar_layout
    return lay.Layout(
        version=0,
        category=[
            lay.Category(
                title="losses",
                chart=[
                    lay.Chart(title="all", multiline=lay.MultilineChartContent(tag=["loss/.*", "lr"])),
                    lay.Chart(
                        title="band",
                        margin=lay.MarginChartContent(
                            series=[
                                lay.MarginChartContent.Series(value="m", lower="lo", upper="hi"),
                                lay.MarginChartContent.Series(value="m2"),
                            ]
                        ),
                    ),
                ],
                closed=True,
            ),
            lay.Category(title="empty"),
        ],
    )


def build_projector_config(m: SimpleNamespace) -> Message:
    pc = m.projector_config
    return pc.ProjectorConfig(
        model_checkpoint_path="/ckpt",
        model_checkpoint_dir="/dir",
        embeddings=[
            pc.EmbeddingInfo(
                tensor_name="emb",
                metadata_path="metadata.tsv",
                bookmarks_path="b.txt",
                tensor_shape=[100, 16],
                sprite=pc.SpriteMetadata(image_path="sprite.png", single_image_dim=[28, 28]),
                tensor_path="tensors.tsv",
            ),
            pc.EmbeddingInfo(tensor_name="other"),
        ],
    )


def _attr_list(m: SimpleNamespace) -> Message:
    av = m.attr_value
    shape = m.tensor_shape.TensorShapeProto(dim=[m.tensor_shape.TensorShapeProto.Dim(size=4)])
    return av.AttrValue(
        list=av.AttrValue.ListValue(
            s=[b"a", b"b"],
            i=[1, -2],
            f=[0.5],
            b=[True, False],
            type=[m.types.DT_FLOAT, m.types.DT_HALF],
            shape=[shape],
            tensor=[m.tensor.TensorProto(dtype=m.types.DT_INT32, int_val=[1])],
            func=[av.NameAttrList(name="f", attr={"k": av.AttrValue(i=1)})],
        )
    )


def _node(m: SimpleNamespace, name: str) -> Message:
    av = m.attr_value
    node = m.node_def.NodeDef(
        name=name,
        op="MatMul",
        input=["x", "w:0", "^init"],
        device="/device:CPU:0",
        experimental_debug_info=m.node_def.NodeDef.ExperimentalDebugInfo(
            original_node_names=["a"], original_func_names=["f"]
        ),
        experimental_type=m.full_type.FullTypeDef(
            type_id=m.full_type.TFT_PRODUCT,
            args=[m.full_type.FullTypeDef(type_id=m.full_type.TFT_TENSOR, s="x")],
            i=3,
        ),
    )
    node.attr["T"].CopyFrom(av.AttrValue(type=m.types.DT_FLOAT))
    node.attr["_output_shapes"].CopyFrom(_attr_list(m))
    node.attr["transpose_a"].CopyFrom(av.AttrValue(b=False))
    node.attr["alpha"].CopyFrom(av.AttrValue(f=0.5))
    node.attr["n"].CopyFrom(av.AttrValue(i=-7))
    node.attr["s"].CopyFrom(av.AttrValue(s=b"bytes"))
    node.attr["shape"].CopyFrom(av.AttrValue(shape=m.tensor_shape.TensorShapeProto(unknown_rank=True)))
    node.attr["value"].CopyFrom(
        av.AttrValue(tensor=m.tensor.TensorProto(dtype=m.types.DT_BOOL, bool_val=[True]))
    )
    node.attr["f"].CopyFrom(av.AttrValue(func=av.NameAttrList(name="g")))
    node.attr["p"].CopyFrom(av.AttrValue(placeholder="ph"))
    return node


def build_graph_def(m: SimpleNamespace) -> Message:
    od = m.op_def.OpDef
    signature = od(
        name="F",
        input_arg=[
            od.ArgDef(
                name="x",
                description="in",
                type=m.types.DT_FLOAT,
                handle_data=[m.resource_handle.ResourceHandleProto.DtypeAndShape(dtype=m.types.DT_INT8)],
                is_ref=True,
                experimental_full_type=m.full_type.FullTypeDef(type_id=m.full_type.TFT_INT8),
            ),
            od.ArgDef(name="y", type_attr="T", number_attr="N", type_list_attr="L"),
        ],
        output_arg=[od.ArgDef(name="z")],
        control_output=["c"],
        attr=[
            od.AttrDef(
                name="T",
                type="type",
                default_value=m.attr_value.AttrValue(type=m.types.DT_FLOAT),
                description="d",
                has_minimum=True,
                minimum=1,
                allowed_values=_attr_list(m),
            )
        ],
        deprecation=m.op_def.OpDeprecation(version=5, explanation="old"),
        summary="sum",
        description="desc",
        is_commutative=True,
        is_aggregate=True,
        is_stateful=True,
        allows_uninitialized_input=True,
        is_distributed_communication=True,
    )
    fn = m.function.FunctionDef(signature=signature, node_def=[_node(m, "inner")])
    fn.attr["a"].CopyFrom(m.attr_value.AttrValue(i=1))
    fn.arg_attr[0].attr["b"].CopyFrom(m.attr_value.AttrValue(s=b"x"))
    fn.resource_arg_unique_id[1] = 2
    fn.ret["z"] = "inner:0"
    fn.control_ret["c"] = "inner"
    dbg = m.graph_debug_info.GraphDebugInfo(files=["model.py"])
    frame = m.graph_debug_info.GraphDebugInfo.FileLineCol(
        file_index=0, line=0, col=4, func="forward", code="y = f(x)"
    )
    dbg.frames_by_id[2**64 - 1].CopyFrom(frame)
    dbg.traces_by_id[7].frame_id.extend([2**64 - 1, 0])
    dbg.traces["old"].file_line_cols.append(frame)
    dbg.name_to_trace_id["inner"] = 7
    return m.graph.GraphDef(
        node=[_node(m, "a"), _node(m, "b")],
        versions=m.versions.VersionDef(producer=22, min_consumer=0, bad_consumers=[3, 4]),
        version=1,
        library=m.function.FunctionDefLibrary(
            function=[fn],
            gradient=[m.function.GradientDef(function_name="F", gradient_func="G")],
            registered_gradients=[m.function.RegisteredGradient(gradient_func="G", registered_op_type="Op")],
        ),
        debug_info=dbg,
    )


def build_run_metadata(m: SimpleNamespace) -> Message:
    ss = m.step_stats
    alloc = m.allocation_description.AllocationDescription(
        requested_bytes=100,
        allocated_bytes=128,
        allocator_name="cpu",
        allocation_id=9,
        has_single_reference=True,
        ptr=2**63,
    )
    node = ss.NodeExecStats(
        node_name="conv1",
        all_start_micros=1,
        op_start_rel_micros=2,
        op_end_rel_micros=3,
        all_end_rel_micros=4,
        memory=[
            ss.AllocatorMemoryUsed(
                allocator_name="cpu",
                total_bytes=10,
                peak_bytes=8,
                live_bytes=2,
                allocation_records=[ss.AllocationRecord(alloc_micros=5, alloc_bytes=-64)],
                allocator_bytes_in_use=1024,
            )
        ],
        output=[
            ss.NodeOutput(
                slot=0,
                tensor_description=m.tensor_description.TensorDescription(
                    dtype=m.types.DT_FLOAT,
                    shape=m.tensor_shape.TensorShapeProto(dim=[m.tensor_shape.TensorShapeProto.Dim(size=3)]),
                    allocation_description=alloc,
                ),
            )
        ],
        timeline_label="conv1 = Conv2D(x)",
        scheduled_micros=6,
        thread_id=12,
        referenced_tensor=[alloc],
        memory_stats=ss.MemoryStats(
            temp_memory_size=1,
            persistent_memory_size=2,
            persistent_tensor_alloc_ids=[3, 4],
            device_temp_memory_size=5,
            device_persistent_memory_size=6,
            device_persistent_tensor_alloc_ids=[7],
        ),
        all_start_nanos=1000,
        op_start_rel_nanos=2000,
        op_end_rel_nanos=3000,
        all_end_rel_nanos=4000,
        scheduled_nanos=5000,
    )
    dev = ss.DeviceStepStats(device="/device:CPU:0", node_stats=[node])
    dev.thread_names[12] = "worker"
    cg = m.cost_graph.CostGraphDef
    cost = cg(
        node=[
            cg.Node(
                name="conv1",
                device="/cpu:0",
                id=1,
                input_info=[cg.Node.InputInfo(preceding_node=0, preceding_port=1)],
                output_info=[
                    cg.Node.OutputInfo(
                        size=12,
                        alias_input_port=-1,
                        shape=m.tensor_shape.TensorShapeProto(),
                        dtype=m.types.DT_FLOAT,
                    )
                ],
                temporary_memory_size=1,
                persistent_memory_size=2,
                host_temp_memory_size=3,
                device_temp_memory_size=4,
                device_persistent_memory_size=5,
                compute_cost=6,
                compute_time=7,
                memory_time=8,
                is_final=True,
                control_input=[0, 2],
                inaccurate=True,
            )
        ],
        cost=[cg.AggregatedCost(cost=1.5, dimension="flops")],
    )
    small_graph = m.graph.GraphDef(node=[m.node_def.NodeDef(name="n", op="NoOp")])
    return m.run_metadata.RunMetadata(
        step_stats=ss.StepStats(dev_stats=[dev, ss.DeviceStepStats(device="/device:GPU:0")]),
        cost_graph=cost,
        partition_graphs=[small_graph],
        function_graphs=[
            m.run_metadata.RunMetadata.FunctionGraphs(
                partition_graphs=[small_graph],
                pre_optimization_graph=small_graph,
                post_optimization_graph=m.graph.GraphDef(),
            )
        ],
        session_metadata=m.run_metadata.SessionMetadata(name="sess", version=3),
    )


BUILDERS: list[Callable[[SimpleNamespace], Message]] = [
    build_event_file_version,
    build_event_scalar,
    build_event_session_log,
    build_event_legacy_media,
    build_event_tagged_run_metadata,
    build_event_log_message,
    build_worker_heartbeat,
    build_tensor,
    build_serialized_dtype,
    build_plugin_scalar,
    build_plugin_text,
    build_plugin_histogram,
    build_plugin_image,
    build_plugin_audio,
    build_plugin_pr_curve,
    build_plugin_mesh,
    build_hparams_experiment,
    build_hparams_session_start,
    build_hparams_session_end,
    build_hparams_api_requests,
    build_hparams_api_response,
    build_hparams_get_experiment,
    build_hparams_list_metric_evals,
    build_custom_scalar_layout,
    build_projector_config,
    build_graph_def,
    build_run_metadata,
]
BUILDER_IDS = [b.__name__.removeprefix("build_") for b in BUILDERS]


# ---------------------------------------------------------------------------------------
# Tests that need only tblog and protobuf.


def test_every_proto_has_an_importable_module() -> None:
    """Every tblog/proto/*.proto has a committed _pb2 module and stub; each imports and matches."""
    names = _proto_names()
    assert names, "no .proto files found"
    for name in names:
        assert (PROTO_DIR / f"{name}_pb2.py").is_file(), name
        assert (PROTO_DIR / f"{name}_pb2.pyi").is_file(), name
        module = _tblog(name)
        assert module.DESCRIPTOR.name == f"tblog/proto/{name}.proto"
        assert module.DESCRIPTOR.package.split(".")[0] == "tblog"
    orphans = sorted(p.name for p in PROTO_DIR.glob("*_pb2.py*") if p.name.split("_pb2")[0] not in names)
    assert orphans == [], "generated modules without a .proto"


def test_proto_files_match_module_list() -> None:
    """TB_MODULES in this file names exactly the .proto files in tblog/proto."""
    assert sorted(TB_MODULES) == _proto_names()


def test_generated_modules_are_fresh(gen_protos: Any) -> None:
    """The committed *_pb2.py/.pyi are byte-identical to what the pinned protoc makes now."""
    assert gen_protos.stale_files(REPO_ROOT) == []


def test_staleness_check_detects_edits(gen_protos: Any, tmp_path: Path) -> None:
    """The freshness check reports an edited .proto, a deleted .proto and a missing module."""
    copy = tmp_path / "tblog" / "proto"
    shutil.copytree(PROTO_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    gen_protos.write(tmp_path)  # start fresh even if the repository itself is stale
    assert gen_protos.stale_files(tmp_path) == []

    scalar = copy / "scalar_plugin_data.proto"
    scalar.write_text(scalar.read_text().replace("int32 version = 1;", "int32 version = 1;\n  bool x = 2;"))
    (copy / "text_plugin_data.proto").unlink()
    (copy / "image_plugin_data_pb2.pyi").unlink()
    assert gen_protos.stale_files(tmp_path) == [
        "missing: image_plugin_data_pb2.pyi",
        "no .proto for: text_plugin_data_pb2.py",
        "no .proto for: text_plugin_data_pb2.pyi",
        "differs: scalar_plugin_data_pb2.py",
        "differs: scalar_plugin_data_pb2.pyi",
    ]


def test_gen_protos_check_command(gen_protos: Any, tmp_path: Path) -> None:
    """`gen_protos.py --check` exits 0 when fresh and 1 when stale; a rewrite makes it fresh."""
    copy = tmp_path / "tblog" / "proto"
    shutil.copytree(PROTO_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    gen_protos.write(tmp_path)  # start fresh even if the repository itself is stale
    assert gen_protos.main(["--check", "--root", str(tmp_path)]) == 0
    event = copy / "event.proto"
    event.write_text(event.read_text().replace("string writer = 1;", "string writer = 11;"))
    assert gen_protos.main(["--check", "--root", str(tmp_path)]) == 1
    assert gen_protos.main(["--root", str(tmp_path)]) == 0
    assert gen_protos.main(["--check", "--root", str(tmp_path)]) == 0


@pytest.mark.parametrize("builder", BUILDERS, ids=BUILDER_IDS)
def test_round_trip(builder: Callable[[SimpleNamespace], Message]) -> None:
    """Each fully filled message family survives serialize -> parse unchanged."""
    msg = builder(_tblog_ns())
    data = msg.SerializeToString(deterministic=True)
    assert data
    again = type(msg).FromString(data)
    assert again == msg
    assert again.SerializeToString(deterministic=True) == data


def test_wire_bytes_of_first_event() -> None:
    """The file-header Event encodes to the bytes DESIGN.md's field numbers dictate."""
    from tblog.proto import event_pb2

    event = event_pb2.Event(
        wall_time=1.5,
        file_version="brain.Event:2",
        source_metadata=event_pb2.SourceMetadata(writer="tblog"),
    )
    expected = (
        b"\x09"
        + struct.pack("<d", 1.5)  # 1: double
        + b"\x1a\x0dbrain.Event:2"  # 3: string
        + b"\x52\x07\x0a\x05tblog"  # 10: SourceMetadata{1: "tblog"}
    )
    assert event.SerializeToString() == expected


def test_wire_bytes_of_scalar_summary() -> None:
    """A tagged simple_value with plugin metadata encodes field by field as TensorBoard expects."""
    from tblog.proto import event_pb2, summary_pb2

    value = summary_pb2.Summary.Value(
        tag="a",
        simple_value=2.0,
        metadata=summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
            data_class=summary_pb2.DATA_CLASS_SCALAR,
        ),
    )
    event = event_pb2.Event(step=5, summary=summary_pb2.Summary(value=[value]))
    metadata = b"\x0a\x09\x0a\x07scalars" + b"\x20\x01"  # plugin_data{plugin_name}, data_class
    value_bytes = (
        b"\x0a\x01a" + b"\x15" + struct.pack("<f", 2.0) + b"\x4a" + bytes([len(metadata)]) + metadata
    )
    expected = (
        b"\x10\x05"
        + b"\x2a"
        + bytes([len(value_bytes) + 2])
        + b"\x0a"
        + bytes([len(value_bytes)])
        + value_bytes
    )
    assert event.SerializeToString() == expected


def test_field_numbers_from_design() -> None:
    """The field numbers and enum values listed in DESIGN.md hold for tblog's classes."""
    from tblog.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2

    def numbers(cls: Any) -> dict[str, int]:
        return {f.name: f.number for f in cls.DESCRIPTOR.fields}

    assert numbers(event_pb2.Event) == {
        "wall_time": 1, "step": 2, "file_version": 3, "graph_def": 4, "summary": 5,
        "log_message": 6, "session_log": 7, "tagged_run_metadata": 8, "meta_graph_def": 9,
        "source_metadata": 10,
    }  # fmt: skip
    assert numbers(event_pb2.SessionLog) == {"status": 1, "checkpoint_path": 2, "msg": 3}
    assert (event_pb2.SessionLog.START, event_pb2.SessionLog.STOP) == (1, 2)
    assert event_pb2.SessionLog.CHECKPOINT == 3
    assert numbers(event_pb2.TaggedRunMetadata) == {"tag": 1, "run_metadata": 2}
    assert numbers(summary_pb2.Summary.Value) == {
        "node_name": 7, "tag": 1, "metadata": 9, "simple_value": 2,
        "obsolete_old_style_histogram": 3, "image": 4, "histo": 5, "audio": 6, "tensor": 8,
    }  # fmt: skip
    assert numbers(summary_pb2.Summary.Audio) == {
        "sample_rate": 1, "num_channels": 2, "length_frames": 3,
        "encoded_audio_string": 4, "content_type": 5,
    }  # fmt: skip
    assert numbers(summary_pb2.HistogramProto) == {
        "min": 1, "max": 2, "num": 3, "sum": 4, "sum_squares": 5, "bucket_limit": 6, "bucket": 7,
    }  # fmt: skip
    t = numbers(tensor_pb2.TensorProto)
    assert {k: t[k] for k in ("dtype", "tensor_shape", "tensor_content", "float_val")} == {
        "dtype": 1, "tensor_shape": 2, "tensor_content": 4, "float_val": 5,
    }  # fmt: skip
    assert (t["double_val"], t["int_val"], t["string_val"], t["int64_val"]) == (6, 7, 8, 10)
    assert (t["bool_val"], t["half_val"]) == (11, 13)
    assert numbers(tensor_shape_pb2.TensorShapeProto.Dim) == {"size": 1, "name": 2}
    dtypes = ["DT_FLOAT", "DT_DOUBLE", "DT_INT32", "DT_UINT8", "DT_STRING", "DT_INT64"]
    dtypes += ["DT_BOOL", "DT_BFLOAT16", "DT_HALF"]
    assert [types_pb2.DataType.Value(n) for n in dtypes] == [1, 2, 3, 4, 7, 9, 10, 14, 19]
    assert summary_pb2.DATA_CLASS_BLOB_SEQUENCE == 3


def test_projector_config_text_format_round_trip() -> None:
    """A ProjectorConfig written as pbtxt (how the projector reads it) parses back equal."""
    from tblog.proto import projector_config_pb2

    config = build_projector_config(_tblog_ns())
    text = text_format.MessageToString(config)
    assert 'tensor_name: "emb"' in text and "single_image_dim: 28" in text
    assert text_format.Parse(text, projector_config_pb2.ProjectorConfig()) == config


# ---------------------------------------------------------------------------------------
# Tests against the tensorboard package's own generated classes.


def _to_tb_name(full_name: str) -> str:
    for ours, theirs in PACKAGES:
        if full_name.startswith(ours):
            return theirs + full_name[len(ours) :]
    raise AssertionError(f"{full_name} is not in a tblog package")


def _normalized(proto: descriptor_pb2.DescriptorProto) -> descriptor_pb2.DescriptorProto:
    """A copy of a tblog DescriptorProto with type references renamed to TensorBoard's."""
    copy = descriptor_pb2.DescriptorProto()
    copy.CopyFrom(proto)
    stack = [copy]
    while stack:
        msg = stack.pop()
        for field in msg.field:
            if field.type_name.startswith(".tblog."):
                field.type_name = "." + _to_tb_name(field.type_name[1:])
        stack.extend(msg.nested_type)
    return copy


def _syntax(file: Any) -> str:
    """proto2 or proto3 (proto2 fields keep explicit presence, which changes the bytes)."""
    proto = descriptor_pb2.FileDescriptorProto()
    file.CopyToProto(proto)
    return proto.syntax or "proto2"


@pytest.mark.tensorboard
@pytest.mark.parametrize("name", sorted(TB_MODULES))
def test_schema_matches_tensorboard(tb: SimpleNamespace, name: str) -> None:
    """Each tblog message and enum equals TensorBoard's: names, numbers, types, oneofs, options."""
    from google.protobuf import descriptor_pool

    pool = descriptor_pool.Default()
    ours = _tblog(name).DESCRIPTOR
    assert ours.message_types_by_name or ours.enum_types_by_name
    for msg in ours.message_types_by_name.values():
        theirs = pool.FindMessageTypeByName(_to_tb_name(msg.full_name))
        mine_proto, their_proto = descriptor_pb2.DescriptorProto(), descriptor_pb2.DescriptorProto()
        msg.CopyToProto(mine_proto)
        theirs.CopyToProto(their_proto)
        assert _normalized(mine_proto) == their_proto, msg.full_name
        assert _syntax(msg.file) == _syntax(theirs.file), msg.full_name
    for enum in ours.enum_types_by_name.values():
        theirs_enum = pool.FindEnumTypeByName(_to_tb_name(enum.full_name))
        mine_e, their_e = descriptor_pb2.EnumDescriptorProto(), descriptor_pb2.EnumDescriptorProto()
        enum.CopyToProto(mine_e)
        theirs_enum.CopyToProto(their_e)
        assert mine_e == their_e, enum.full_name


@pytest.mark.tensorboard
def test_tensorboard_files_fully_mirrored(tb: SimpleNamespace) -> None:
    """Every top-level message and enum of the mirrored TensorBoard files exists in tblog."""
    from google.protobuf import descriptor_pool

    pool = descriptor_pool.Default()
    ours = {
        d.full_name
        for name in TB_MODULES
        for d in [
            *_tblog(name).DESCRIPTOR.message_types_by_name.values(),
            *_tblog(name).DESCRIPTOR.enum_types_by_name.values(),
        ]
    }
    theirs_expected: set[str] = set()
    for path in [*TB_MODULES.values(), *TB_EXTRA_FILES]:
        desc = importlib.import_module(path).DESCRIPTOR
        names = [*desc.message_types_by_name, *desc.enum_types_by_name]
        keep = TB_PARTIAL.get(path)
        theirs_expected.update(f"{desc.package}.{n}" for n in names if keep is None or n in keep)
    assert {_to_tb_name(n) for n in ours} == theirs_expected
    assert pool.FindMessageTypeByName("tensorboard.HistogramProto")


@pytest.mark.tensorboard
@pytest.mark.parametrize("builder", BUILDERS, ids=BUILDER_IDS)
def test_bytes_equal_tensorboard(tb: SimpleNamespace, builder: Callable[[SimpleNamespace], Message]) -> None:
    """One message built from tblog's and TensorBoard's classes: equal bytes, parse both ways."""
    ours = builder(_tblog_ns())
    theirs = builder(tb)
    ours_bytes = ours.SerializeToString(deterministic=True)
    theirs_bytes = theirs.SerializeToString(deterministic=True)
    assert ours_bytes == theirs_bytes
    assert type(theirs).FromString(ours_bytes) == theirs
    assert type(ours).FromString(theirs_bytes) == ours
    # Without deterministic ordering too, for messages without maps.
    if not any(f.message_type is not None and f.message_type.GetOptions().map_entry
               for f in ours.DESCRIPTOR.fields):  # fmt: skip
        assert ours.SerializeToString() == theirs.SerializeToString()


@pytest.mark.tensorboard
def test_projector_pbtxt_read_by_tensorboard(tb: SimpleNamespace) -> None:
    """tblog's ProjectorConfig text format parses into TensorBoard's ProjectorConfig unchanged."""
    config = build_projector_config(_tblog_ns())
    parsed = text_format.Parse(text_format.MessageToString(config), tb.projector_config.ProjectorConfig())
    assert parsed == build_projector_config(tb)


@pytest.mark.tensorboard
@pytest.mark.framework
def test_torch_add_graph_protos_round_trip(tb: SimpleNamespace) -> None:
    """torch.utils.tensorboard's add_graph GraphDef/RunMetadata re-encode identically via tblog."""
    torch = pytest.importorskip("torch")
    from torch.utils.tensorboard._pytorch_graph import graph

    from tblog.proto import graph_pb2, run_metadata_pb2

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    graph_def, run_metadata = graph(model, torch.zeros(2, 3))
    for theirs, cls in (
        (graph_def, graph_pb2.GraphDef),
        (run_metadata, run_metadata_pb2.RunMetadata),
    ):
        data = theirs.SerializeToString(deterministic=True)
        ours = cls.FromString(data)
        ours.DiscardUnknownFields()  # a field tblog lacked would now be gone from the bytes
        assert ours.SerializeToString(deterministic=True) == data
    assert len(graph_pb2.GraphDef.FromString(graph_def.SerializeToString()).node) == len(graph_def.node)
