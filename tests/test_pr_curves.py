"""add_pr_curve / add_pr_curve_raw: TensorBoard's PR-curve math, the pr_curves plugin's view,
parity with torch.utils.tensorboard, and bad input."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import tensorboard_plugin

import tblog
from tblog.events.async_writer import BackgroundWriteError
from tblog.proto import pr_curve_plugin_data_pb2, summary_pb2
from tblog.summary import pr_curve as P


def _rows(acc: Any, tag: str) -> list[tuple[int, np.ndarray]]:
    """(step, [6, n] array) of every event of ``tag``, decoded by TensorBoard's tensor_util."""
    from tensorboard.util import tensor_util

    return [(e.step, tensor_util.make_ndarray(e.tensor_proto)) for e in acc.Tensors(tag)]


def _pr_plugin(logdir: Path) -> tuple[Any, Any]:
    """TensorBoard's pr_curves plugin over ``logdir`` (multiplexer + data provider), and a context."""
    from tensorboard import context
    from tensorboard.plugins.pr_curve import pr_curves_plugin

    plugin = tensorboard_plugin(
        pr_curves_plugin.PrCurvesPlugin, logdir, tensor_size_guidance={"pr_curves": 0}
    )
    return plugin.plugin, context.RequestContext()


# ----- the math (NumPy only) -------------------------------------------------------------------


def test_small_example_by_hand() -> None:
    """Four examples, three thresholds: the rows worked out by hand."""
    data = P.pr_curve_data(
        np.array([1, 0, 1, 1]), np.array([0.9, 0.8, 0.3, 0.1], dtype=np.float32), num_thresholds=3
    )
    # buckets floor(p * 2): 1, 1, 0, 0; thresholds 0, 0.5, 1
    expected = [
        [3, 1, 0],  # TP
        [1, 1, 0],  # FP
        [0, 0, 1],  # TN
        [0, 2, 3],  # FN
        [0.75, 0.5, 0],  # precision (0 where nothing is predicted positive)
        [1, 1 / 3, 0],  # recall
    ]
    np.testing.assert_allclose(data, np.array(expected, dtype=np.float32))
    assert data.dtype == np.float32 and data.shape == (6, 3)


def test_weights_scale_the_counts() -> None:
    """A scalar weight scales every count; per-example weights weigh each example."""
    labels = np.array([True, False, True])
    predictions = np.array([0.2, 0.6, 1.0])
    plain = P.pr_curve_data(labels, predictions, 5)
    np.testing.assert_allclose(P.pr_curve_data(labels, predictions, 5, weights=2.0)[:4], 2 * plain[:4])
    weighted = P.pr_curve_data(labels, predictions, 5, weights=np.array([1.0, 3.0, 0.5]))
    assert weighted[0, 0] == 1.5 and weighted[1, 0] == 3.0  # TP, FP at threshold 0
    np.testing.assert_allclose(P.pr_curve_data(labels, predictions, 5, weights=[2.0])[:4], 2 * plain[:4])


def test_tensor_bytes_equal_protobuf_and_metadata() -> None:
    """The Summary.Value is canonical protobuf; metadata is PrCurvePluginData(num_thresholds)."""
    value = P.pr_curve_value("pr", P.pr_curve_data([1, 0], [0.7, 0.2], 201))
    message = summary_pb2.Summary.Value.FromString(value)
    assert message.SerializeToString() == value
    assert message.metadata.plugin_data.plugin_name == "pr_curves"
    assert message.metadata.data_class == summary_pb2.DATA_CLASS_TENSOR
    content = pr_curve_plugin_data_pb2.PrCurvePluginData.FromString(message.metadata.plugin_data.content)
    assert (content.version, content.num_thresholds) == (0, 201)
    assert [d.size for d in message.tensor.tensor_shape.dim] == [6, 201]


# ----- through the writer and TensorBoard -------------------------------------------------------


@pytest.mark.tensorboard
def test_pr_curves_plugin_reads_the_rows(tmp_path: Path) -> None:
    """TensorBoard's pr_curves plugin serves the logged curve per step, with thresholds intact."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    predictions = np.clip(labels * 0.4 + rng.random(200) * 0.6, 0, 1)
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_pr_curve("pr/a", labels, predictions, 3, walltime=50.0)
        writer.add_pr_curve("pr/a", labels, predictions, 4, num_thresholds=127, walltime=51.0)
    plugin, ctx = _pr_plugin(tmp_path)
    assert plugin.tags_impl(ctx, experiment="") == {".": {"pr/a": {"displayName": "", "description": ""}}}
    entries = plugin.pr_curves_impl(ctx, experiment="", runs=["."], tag="pr/a")["."]
    assert [(e["step"], e["wall_time"]) for e in entries] == [(3, 50.0), (4, 51.0)]
    expected = P.pr_curve_data(labels, predictions, 127)
    entry = entries[0]
    assert entry["true_positives"] == expected[0].astype(int).tolist()[: len(entry["true_positives"])]
    assert entry["true_positives"][0] == labels.sum()
    assert entry["false_positives"][0] == len(labels) - labels.sum()
    np.testing.assert_allclose(entry["precision"], expected[4][: len(entry["precision"])])
    np.testing.assert_allclose(entry["recall"], expected[5][: len(entry["recall"])])
    assert entry["thresholds"][:3] == pytest.approx([0.0, 1 / 126, 2 / 126])


def test_event_accumulator_sees_the_tensor(tmp_path: Path, event_accumulator: Any) -> None:
    """EventAccumulator files it under pr_curves with num_thresholds; the rows decode exactly."""
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_pr_curve("pr", [1, 0, 1, 1], [0.9, 0.8, 0.3, 0.1], 7, num_thresholds=3)
        writer.add_pr_curve("wide", [1, 0] * 50, np.linspace(0, 1, 100), 0, num_thresholds=500)
    acc = event_accumulator(tmp_path)
    content = acc.PluginTagToContent("pr_curves")
    assert set(content) == {"pr", "wide"}
    assert pr_curve_plugin_data_pb2.PrCurvePluginData.FromString(content["wide"]).num_thresholds == 500
    [(step, rows)] = _rows(acc, "pr")
    assert step == 7
    np.testing.assert_array_equal(rows, P.pr_curve_data([1, 0, 1, 1], [0.9, 0.8, 0.3, 0.1], 3))
    assert _rows(acc, "wide")[0][1].shape == (6, 500)  # not capped at 127 as torch does


def test_add_pr_curve_raw_round_trip(tmp_path: Path, event_accumulator: Any) -> None:
    """add_pr_curve_raw writes the six arrays as rows; the metadata records their length."""
    tp, fp, tn, fn = [75, 64, 21, 5, 0], [150, 105, 18, 0, 0], [0, 45, 132, 150, 150], [0, 11, 54, 70, 75]
    precision = [0.3333333, 0.3786982, 0.5384616, 1.0, 0.0]
    recall = [1.0, 0.8533334, 0.28, 0.0666667, 0.0]
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_pr_curve_raw("raw", tp, fp, tn, fn, precision, recall, 2, num_thresholds=5)
        # torch's default num_thresholds=127 with 5-entry arrays: the arrays decide
        writer.add_pr_curve_raw("raw_default", np.array(tp), fp, tn, fn, precision, recall, 2)
    acc = event_accumulator(tmp_path)
    [(step, rows)] = _rows(acc, "raw")
    assert step == 2
    np.testing.assert_array_equal(rows, np.array([tp, fp, tn, fn, precision, recall], dtype=np.float32))
    for tag in ("raw", "raw_default"):
        content = acc.PluginTagToContent("pr_curves")[tag]
        assert pr_curve_plugin_data_pb2.PrCurvePluginData.FromString(content).num_thresholds == 5


def test_snapshot_at_call_time(tmp_path: Path, event_accumulator: Any) -> None:
    """Changing the arrays after add_pr_curve changes nothing logged."""
    labels, predictions = np.array([1, 0, 1]), np.array([0.9, 0.1, 0.8])
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_pr_curve("pr", labels, predictions, 0, num_thresholds=4)
        labels[:] = 0
        predictions[:] = 0.0
    [(_, rows)] = _rows(event_accumulator(tmp_path), "pr")
    assert rows[0, 0] == 2


def test_bad_input_is_refused_and_writer_stays_usable(tmp_path: Path, event_accumulator: Any) -> None:
    """Each bad argument raises a clear error naming it; nothing is queued; later calls work."""
    writer = tblog.SummaryWriter(tmp_path)
    good = {"tag": "pr", "labels": [1, 0, 1], "predictions": [0.2, 0.5, 0.9], "global_step": 0}
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"predictions": [0.2, 0.5]}, ValueError, r"same number of elements; got 3 \(list .*\) and 2"),
        ({"predictions": [0.2, 1.5, 0.1]}, ValueError, r"predictions must be in \[0, 1\]; got values from"),
        ({"predictions": [-0.1, 0.5, 0.1]}, ValueError, r"predictions must be in \[0, 1\]"),
        ({"predictions": [0.2, float("nan"), 0.1]}, ValueError, r"predictions holds 1 non-finite"),
        ({"labels": [2, 0, 1]}, ValueError, r"labels must be in \[0, 1\]"),
        ({"labels": ["a", "b", "c"]}, TypeError, "labels must be an array of real numbers"),
        ({"predictions": np.array([1j, 0, 0])}, TypeError, "predictions must be an array of real"),
        ({"labels": [], "predictions": []}, ValueError, "empty"),
        ({"num_thresholds": 1}, ValueError, "num_thresholds must be an int from 2 to 65536; got 1"),
        (
            {"num_thresholds": P.MAX_THRESHOLDS + 1},
            ValueError,
            "num_thresholds must be an int from 2 to 65536",
        ),
        ({"num_thresholds": 10.0}, TypeError, "num_thresholds must be an int from 2"),
        ({"num_thresholds": True}, TypeError, "num_thresholds must be an int from 2"),
        ({"weights": [1.0, 2.0]}, ValueError, "weights must be one number or one per label"),
        ({"weights": [1.0, -2.0, 1.0]}, ValueError, r"weights must be >= 0; got values from -2.0"),
        ({"weights": float("inf")}, ValueError, "weights holds 1 non-finite"),
        ({"tag": ""}, ValueError, "tag must not be empty"),
    ]
    for overrides, error, pattern in cases:
        with pytest.raises(error, match=pattern):
            writer.add_pr_curve(**{**good, **overrides})
    raw = {
        "tag": "raw",
        "true_positive_counts": [3, 1],
        "false_positive_counts": [1, 0],
        "true_negative_counts": [0, 1],
        "false_negative_counts": [0, 2],
        "precision": [0.75, 1.0],
        "recall": [1.0, 0.33],
        "num_thresholds": 2,
    }
    raw_cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"recall": [1.0]}, ValueError, r"equally long; got lengths .*'recall': 1"),
        ({"precision": [[0.75, 1.0]]}, ValueError, r"precision must be 1-D .* got shape \(1, 2\)"),
        ({"true_positive_counts": [-1, 1]}, ValueError, r"true_positive_counts must be >= 0"),
        ({"precision": [0.5, 1.5]}, ValueError, r"precision must be in \[0, 1\]"),
        ({"recall": [float("nan"), 0.0]}, ValueError, "recall holds 1 non-finite"),
        ({"false_negative_counts": ["x", "y"]}, TypeError, "false_negative_counts must be an array of real"),
        ({"num_thresholds": 0}, ValueError, "num_thresholds must be an int from 2"),
        ({"num_thresholds": 10**9}, ValueError, "num_thresholds must be an int from 2 to 65536"),
        (
            {k: [] for k in P.RAW_NAMES},
            ValueError,
            "arrays are empty",
        ),
    ]
    for overrides, error, pattern in raw_cases:
        with pytest.raises(error, match=pattern):
            writer.add_pr_curve_raw(**{**raw, **overrides})
    writer.add_pr_curve(**good, num_thresholds=3)
    writer.add_pr_curve_raw(**raw, global_step=0)
    writer.close()
    acc = event_accumulator(tmp_path)
    assert [s for s, _ in _rows(acc, "pr")] == [0] and [s for s, _ in _rows(acc, "raw")] == [0]


# ----- frameworks and parity ------------------------------------------------------------------


@pytest.mark.framework
def test_torch_and_jax_inputs(tmp_path: Path, event_accumulator: Any) -> None:
    """torch tensors (bool labels, float predictions) and JAX arrays give the NumPy curve."""
    torch = pytest.importorskip("torch")
    jnp = pytest.importorskip("jax.numpy")
    labels = np.array([1, 0, 1, 1, 0], dtype=bool)
    predictions = np.array([0.9, 0.7, 0.4, 0.2, 0.1], dtype=np.float32)
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_pr_curve("torch", torch.tensor(labels), torch.tensor(predictions), 0, num_thresholds=11)
        writer.add_pr_curve("jax", jnp.asarray(labels), jnp.asarray(predictions), 0, num_thresholds=11)
        writer.add_pr_curve_raw("jax_raw", *[jnp.asarray([2.0, 1.0])] * 4, jnp.ones(2), jnp.zeros(2), 0)
    acc = event_accumulator(tmp_path)
    expected = P.pr_curve_data(labels, predictions, 11)
    for tag in ("torch", "jax"):
        np.testing.assert_array_equal(_rows(acc, tag)[0][1], expected)
    assert _rows(acc, "jax_raw")[0][1].shape == (6, 2)


@pytest.mark.framework
def test_bad_device_values_are_reported_on_the_next_call(tmp_path: Path, event_accumulator: Any) -> None:
    """Predictions outside [0, 1] in a JAX array are found on the writer thread and re-raised."""
    jnp = pytest.importorskip("jax.numpy")
    writer = tblog.SummaryWriter(tmp_path)
    writer.add_pr_curve("pr", jnp.asarray([1, 0]), jnp.asarray([0.5, 3.0]), 0)
    with pytest.raises(BackgroundWriteError) as info:
        writer.flush()
    assert "predictions must be in [0, 1]" in str(info.value.__cause__)
    writer.add_pr_curve("pr", jnp.asarray([1, 0]), jnp.asarray([0.5, 0.25]), 1)
    writer.close()
    assert [s for s, _ in _rows(event_accumulator(tmp_path), "pr")] == [1]


@pytest.mark.framework
def test_parity_with_torch(tmp_path: Path, event_accumulator: Any) -> None:
    """torch.utils.tensorboard and tblog write the same tags, steps, metadata and rows."""
    torch = pytest.importorskip("torch")
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    rng = np.random.default_rng(5)
    labels = torch.tensor(rng.integers(0, 2, 1000))
    predictions = torch.tensor(rng.random(1000), dtype=torch.float32)
    weights = torch.tensor(rng.random(1000))
    raw = [rng.integers(0, 100, 10).astype(float) for _ in range(4)] + [rng.random(10), rng.random(10)]
    theirs = TorchWriter(os.fspath(tmp_path / "torch"))
    ours = tblog.SummaryWriter(tmp_path / "tblog")
    for writer in (theirs, ours):
        writer.add_pr_curve("default", labels, predictions, 0, walltime=1.0)
        writer.add_pr_curve("default", labels, predictions**2, 1, walltime=2.0)
        writer.add_pr_curve("few", labels, predictions, 0, num_thresholds=9, walltime=1.0)
        writer.add_pr_curve("weighted", labels, predictions, 0, weights=weights.numpy(), walltime=1.0)
        writer.add_pr_curve_raw("raw", *raw, global_step=3, num_thresholds=10, walltime=1.0)
        writer.close()
    acc_theirs = event_accumulator(tmp_path / "torch")
    acc_ours = event_accumulator(tmp_path / "tblog")
    assert acc_ours.PluginTagToContent("pr_curves") == acc_theirs.PluginTagToContent("pr_curves")
    for tag in ("default", "few", "weighted", "raw"):
        a, b = _rows(acc_theirs, tag), _rows(acc_ours, tag)
        assert [s for s, _ in a] == [s for s, _ in b]
        for (_, x), (_, y) in zip(a, b, strict=True):
            assert x.dtype == y.dtype == np.float32
            np.testing.assert_array_equal(x, y, err_msg=tag)
