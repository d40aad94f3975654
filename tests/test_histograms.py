"""add_histogram / add_histogram_raw: binning, encoding, TensorBoard's Histograms and
Distributions dashboards, parity with torch.utils.tensorboard, and bad input."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import tensorboard_plugin
from hypothesis import given, settings
from hypothesis import strategies as st

import tblog
from tblog.events.async_writer import BackgroundWriteError
from tblog.proto import event_pb2, summary_pb2
from tblog.summary import _wire
from tblog.summary import histogram as H

EDGES = H.tensorflow_edges()


def _histo(value_bytes: bytes) -> Any:
    """Decode an encoded Summary.Value with tblog's own generated protos."""
    return summary_pb2.Summary.Value.FromString(value_bytes).histo


def _expected_tf_buckets(values: np.ndarray) -> tuple[list[float], list[float]]:
    """(bucket_limit, bucket) torch's layout gives for in-range values on the default edges."""
    counts, _ = np.histogram(values.astype(np.float64), EDGES)
    nonzero = np.flatnonzero(counts)
    start, end = nonzero[0], nonzero[-1] + 1
    kept = counts[start - 1 : end] if start else np.concatenate([[0], counts[:end]])
    return EDGES[start : end + 1].tolist(), kept.astype(float).tolist()


def _plugins(logdir: Path) -> tuple[Any, Any, Any]:
    """TensorBoard's histograms and distributions plugins over ``logdir``, and a request context."""
    from tensorboard import context
    from tensorboard.plugins.distribution import distributions_plugin
    from tensorboard.plugins.histogram import histograms_plugin

    histograms = tensorboard_plugin(
        histograms_plugin.HistogramsPlugin, logdir, tensor_size_guidance={"histograms": 0}
    )
    return (
        histograms.plugin,
        distributions_plugin.DistributionsPlugin(histograms.context),
        context.RequestContext(),
    )


# ----- binning (NumPy only) --------------------------------------------------------------------


def test_tensorflow_edges_shape() -> None:
    """The default edges: 0 in the middle, ±1e-12 growing by 1.1 up to just below 1e20."""
    k = (len(EDGES) - 1) // 2
    assert EDGES[k] == 0.0
    assert EDGES[k + 1] == 1e-12 and EDGES[-1] < 1e20 <= EDGES[-1] * 1.1
    np.testing.assert_array_equal(EDGES[:k], -EDGES[k + 1 :][::-1])
    np.testing.assert_allclose(EDGES[k + 2 :] / EDGES[k + 1 : -1], 1.1)
    assert not EDGES.flags.writeable


_finite = st.floats(allow_nan=False, allow_infinity=False)
_near_edge = st.builds(
    lambda e, d: float(np.nextafter(e, np.inf) if d > 0 else np.nextafter(e, -np.inf) if d < 0 else e),
    st.sampled_from(EDGES.tolist()),
    st.integers(-1, 1),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_finite, _near_edge, st.sampled_from([0.0, -0.0, 5e-324, -5e-324])), min_size=1))
def test_tensorflow_counts_equal_numpy_histogram(values: list[float]) -> None:
    """The O(n) table binning gives np.histogram's counts on the default edges, for any float."""
    array = np.array(values, dtype=np.float64)
    counts, below, above = H._tensorflow_counts(array)
    inside = array[(array >= EDGES[0]) & (array <= EDGES[-1])]
    np.testing.assert_array_equal(counts, np.histogram(inside, EDGES)[0])
    assert below == np.count_nonzero(array < EDGES[0])
    assert above == np.count_nonzero(array > EDGES[-1])


def test_default_bins_layout_matches_torchs_trimming() -> None:
    """Right edges from the left edge of the first non-empty bucket to the last non-empty one."""
    values = np.random.default_rng(0).standard_normal((20, 50)).astype(np.float32)
    histo = _histo(H.histogram_value("h", values))
    limits, counts = _expected_tf_buckets(values)
    assert list(histo.bucket_limit) == limits
    assert list(histo.bucket) == counts
    flat = values.astype(np.float64).ravel()
    assert (histo.min, histo.max, histo.num) == (flat.min(), flat.max(), 1000)
    assert histo.sum == flat.sum() and histo.sum_squares == flat.dot(flat)
    assert histo.bucket[0] == 0 and sum(histo.bucket) == 1000


def test_numpy_bin_methods() -> None:
    """'auto', 'fd', an int and explicit edges bin as np.histogram does."""
    values = np.random.default_rng(1).normal(5, 2, 500)
    for bins in ("auto", "fd", "sturges", 7):
        counts, edges = np.histogram(values, bins=bins)
        histo = _histo(H.histogram_value("h", values, H.check_bins(bins)))
        assert list(histo.bucket_limit) == edges.tolist()  # no empty bins at the ends here
        assert list(histo.bucket) == [0.0] + counts.astype(float).tolist()
    histo = _histo(H.histogram_value("h", [0.5, 1.5, 1.5, 2.5], H.check_bins([0, 1, 2, 3, 4])))
    assert list(histo.bucket_limit) == [0.0, 1.0, 2.0, 3.0]
    assert list(histo.bucket) == [0.0, 1.0, 2.0, 1.0]


def test_numpy_rules_match_numpy_below_the_cap_and_stop_at_it() -> None:
    """'fd', 'scott' and 'auto' bin as NumPy does on ordinary data, and into at most MAX_BINS on spiky."""
    rng = np.random.default_rng(2)
    for values in (rng.normal(5, 2, 3000), rng.integers(-40, 40, 2000).astype(float), np.full(9, 3.0)):
        for rule in ("fd", "scott", "auto"):
            counts, edges = np.histogram(values, bins=rule)
            mine, my_edges = H.bin_values(values, rule)
            assert np.array_equal(mine, counts) and np.array_equal(my_edges, edges), rule
    spiky = np.concatenate([np.linspace(0.0, 1e-3, 1001), [1e5]])  # 'fd' asks for ~10**9 bins
    counts, edges = H.bin_values(spiky, "fd")
    assert len(counts) == H.MAX_BINS and counts.sum() == spiky.size
    assert (edges[0], edges[-1]) == (0.0, 1e5)
    assert len(H.bin_values(spiky, "auto")[0]) <= 2 * np.sqrt(spiky.size) + 1  # recent NumPy's 'auto'


def test_values_outside_the_edges_get_their_own_bucket() -> None:
    """Nothing is dropped: values beyond the edges land in an extra bucket reaching min/max."""
    histo = _histo(H.histogram_value("h", [-3e25, 1.0, 4e22]))
    assert sum(histo.bucket) == histo.num == 3
    assert list(histo.bucket_limit[:2]) == [-3e25, EDGES[0]] and histo.bucket_limit[-1] == 4e22
    assert list(histo.bucket[:2]) == [0.0, 1.0] and histo.bucket[-1] == 1.0  # [-3e25, EDGES[0])
    edges = H.check_bins([0.0, 1.0, 2.0])
    histo = _histo(H.histogram_value("h", [-5.0, 0.5, 1.5, 9.0, 2.0], edges))
    assert list(histo.bucket_limit) == [-5.0, 0.0, 1.0, 2.0, 9.0]
    assert list(histo.bucket) == [0.0, 1.0, 1.0, 2.0, 1.0]


def test_max_bins_merges_groups_like_torch() -> None:
    """max_bins merges len // max_bins neighbouring bins (torch's rule), keeping every count."""
    values = np.arange(100.0)
    histo = _histo(H.histogram_value("h", values, 30, max_bins=7))
    # 30 bins, groups of 4 (the last one padded): 8 groups
    edges = np.histogram(values, 30)[1]
    assert list(histo.bucket_limit) == edges[[0, 4, 8, 12, 16, 20, 24, 28, 30]].tolist()
    assert sum(histo.bucket) == 100 and histo.bucket[0] == 0
    assert len(_histo(H.histogram_value("h", values, 30, max_bins=40)).bucket) == 31


def test_int_bool_and_any_shape() -> None:
    """Ints, bools and arrays of any rank are flattened and binned."""
    ints = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    histo = _histo(H.histogram_value("h", ints, 4))
    assert histo.num == 24 and list(histo.bucket) == [0.0, 6.0, 6.0, 6.0, 6.0]
    histo = _histo(H.histogram_value("h", np.array([True, False, True])))
    assert (histo.min, histo.max, histo.sum) == (0.0, 1.0, 2.0)
    histo = _histo(H.histogram_value("h", np.float32(3.0)))
    assert histo.num == 1 and histo.min == histo.max == 3.0


def test_histo_bytes_equal_protobuf() -> None:
    """The hand-encoded Summary.Value and Event are what protobuf serializes for them."""
    value = H.histogram_value("a/b", np.array([-1.5, 0.0, 2.0, 2.0]))
    message = summary_pb2.Summary.Value.FromString(value)
    assert message.SerializeToString() == value
    assert message.metadata.plugin_data.plugin_name == "histograms"
    raw = H.histogram_raw_value("r", -0.0, 0.0, 0, 0, 0, np.array([1.0]), np.array([0.0]))
    assert summary_pb2.Summary.Value.FromString(raw).SerializeToString() == raw
    for wall, step in ((0.0, 0), (12.5, 3), (1.0, -(2**63))):
        event = H.histogram_event(wall, step, "a/b", np.array([-1.5, 0.0, 2.0, 2.0]))
        assert event == _wire.event(wall, step, _wire.summary([value]))
        assert event_pb2.Event.FromString(event).SerializeToString() == event


def test_builder_errors() -> None:
    """The pure builder refuses NaN/inf (with a count), empty arrays and non-real dtypes."""
    with pytest.raises(ValueError, match=r"values holds 2 non-finite value\(s\).* among 4"):
        H.histogram_value("h", np.array([1.0, np.nan, np.inf, 2.0]))
    with pytest.raises(ValueError, match="empty"):
        H.histogram_value("h", np.zeros((3, 0)))
    with pytest.raises(TypeError, match="real numbers"):
        H.histogram_value("h", np.array(["a"]))
    # a finite sum that overflows is not mistaken for a non-finite value
    histo = _histo(H.histogram_value("h", np.array([1e308, 1e308])))
    assert histo.sum == np.inf and histo.num == 2


# ----- through the writer and TensorBoard -------------------------------------------------------


def test_read_back_by_event_accumulator(tmp_path: Path, event_accumulator: Any) -> None:
    """EventAccumulator finds the histogram (and its compressed form) with the logged buckets."""
    rng = np.random.default_rng(2)
    steps = {}
    with tblog.SummaryWriter(tmp_path) as writer:
        for step in range(3):
            steps[step] = rng.standard_normal(1000) + step
            writer.add_histogram("w/h", steps[step], step, walltime=100.0 + step)
    acc = event_accumulator(tmp_path)
    assert acc.Tags()["histograms"] == ["w/h"] and acc.Tags()["distributions"] == ["w/h"]
    events = acc.Histograms("w/h")
    assert [(e.step, e.wall_time) for e in events] == [(0, 100.0), (1, 101.0), (2, 102.0)]
    for event in events:
        limits, counts = _expected_tf_buckets(steps[event.step])
        assert list(event.histogram_value.bucket_limit) == limits
        assert list(event.histogram_value.bucket) == counts
        assert event.histogram_value.num == 1000
    compressed = acc.CompressedHistograms("w/h")
    assert len(compressed) == 3
    assert tuple(compressed[0].compressed_histogram_values[0]) == (0, steps[0].min())
    assert tuple(compressed[0].compressed_histogram_values[-1]) == (10000, steps[0].max())
    assert acc.PluginTagToContent("histograms") == {"w/h": b""}


@pytest.mark.tensorboard
def test_histograms_and_distributions_dashboards(tmp_path: Path) -> None:
    """TensorBoard's histograms plugin returns the buckets, its distributions plugin the percentiles."""
    values = np.concatenate([np.full(30, -2.0), np.full(40, 0.5), np.full(30, 3.0)])
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_histogram("h", values, 5)
        writer.add_histogram("edges", values, 6, bins=[-4, 0, 1, 4])
    histograms, distributions, ctx = _plugins(tmp_path)
    index = histograms.index_impl(ctx, experiment="")
    assert set(index["."]) == {"h", "edges"}
    [(wall, step, buckets)] = histograms.histograms_impl(ctx, "edges", ".", experiment="")[0]
    assert step == 6
    # TensorBoard draws from min to the inner edges to max
    assert buckets == [[-2.0, 0.0, 30.0], [0.0, 1.0, 40.0], [1.0, 3.0, 30.0]]
    [(_, step, buckets)] = histograms.histograms_impl(ctx, "h", ".", experiment="")[0]
    assert step == 5 and sum(b[2] for b in buckets) == 100
    assert buckets[0][0] == -2.0 and buckets[-1][1] == 3.0
    [(_, step, percentiles)] = distributions.distributions_impl(ctx, "h", ".", experiment="")[0]
    assert step == 5
    by_basis_point = dict(percentiles)
    assert by_basis_point[0] == -2.0 and by_basis_point[10000] == 3.0
    assert 0.45 < by_basis_point[5000] < 0.55  # the median is in the bucket around 0.5


def test_add_histogram_raw_round_trip(tmp_path: Path, event_accumulator: Any) -> None:
    """add_histogram_raw writes the statistics and buckets as given (lists or arrays)."""
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_histogram_raw(
            "raw", 0.001, 2.5, 6, 7.5, 12.25, [1.0, 2.0, 3.0], np.array([1, 2, 3]), global_step=4
        )
    [event] = event_accumulator(tmp_path).Histograms("raw")
    histo = event.histogram_value
    assert event.step == 4
    assert (histo.min, histo.max, histo.num, histo.sum, histo.sum_squares) == (0.001, 2.5, 6, 7.5, 12.25)
    assert list(histo.bucket_limit) == [1.0, 2.0, 3.0] and list(histo.bucket) == [1.0, 2.0, 3.0]


def test_snapshot_at_call_time(tmp_path: Path, event_accumulator: Any) -> None:
    """Changing the array after add_histogram changes nothing logged."""
    values = np.ones(100)
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_histogram("h", values, 0)
        values[:] = 7.0
    histo = event_accumulator(tmp_path).Histograms("h")[0].histogram_value
    assert histo.min == histo.max == 1.0


def test_bad_input_is_refused_and_writer_stays_usable(tmp_path: Path, event_accumulator: Any) -> None:
    """Each bad argument raises a clear error naming it; nothing is queued; later calls work."""
    writer = tblog.SummaryWriter(tmp_path)
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"values": np.array([1.0, np.nan, 2.0])}, ValueError, r"values holds 1 non-finite"),
        ({"values": np.array([np.inf, -np.inf])}, ValueError, r"values holds 2 non-finite .* among 2"),
        ({"values": np.zeros(0)}, ValueError, "values is empty"),
        ({"values": []}, ValueError, "values is empty"),
        ({"values": np.array(["a", "b"])}, TypeError, "values must be an array of real numbers"),
        ({"values": np.array([1j])}, TypeError, "values must be an array of real numbers"),
        ({"values": "abc"}, TypeError, "values must be an array of real numbers"),
        ({"bins": "nope"}, ValueError, "bins must be 'tensorflow'"),
        ({"bins": 0}, ValueError, "bins must be a number of bins from 1 to 65536; got 0"),
        ({"bins": H.MAX_BINS + 1}, ValueError, "bins must be a number of bins from 1 to 65536"),
        ({"bins": np.arange(H.MAX_BINS + 2.0)}, ValueError, "at most 65537 edges"),
        ({"bins": True}, TypeError, "bins must be"),
        ({"bins": [[0, 1], [2, 3]]}, TypeError, "1-D sequence of edges"),
        ({"bins": [1.0]}, ValueError, "at least 2 edges"),
        ({"bins": [0, 2, 1]}, ValueError, "non-decreasing"),
        ({"bins": [0, np.nan]}, ValueError, "finite"),
        ({"max_bins": 0}, ValueError, "max_bins must be a positive int"),
        ({"max_bins": 2.5}, TypeError, "max_bins must be a positive int"),
        ({"tag": ""}, ValueError, "tag must not be empty"),
        ({"tag": 3}, TypeError, "tag must be a str"),
        ({"global_step": 1.5}, ValueError, "global_step must be a whole number"),
    ]
    for overrides, error, pattern in cases:
        kwargs = {"tag": "h", "values": np.ones(3), "global_step": 0, **overrides}
        with pytest.raises(error, match=pattern):
            writer.add_histogram(**kwargs)
    raw = {
        "tag": "r",
        "min": 0.0,
        "max": 3.0,
        "num": 3,
        "sum": 3.0,
        "sum_squares": 5.0,
        "bucket_limits": [1.0, 2.0, 3.0],
        "bucket_counts": [1.0, 1.0, 1.0],
    }
    raw_cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"bucket_counts": [1.0, 2.0]}, ValueError, "same length; got 3 and 2"),
        ({"bucket_limits": [], "bucket_counts": []}, ValueError, "must not be empty"),
        ({"bucket_limits": [[1.0, 2.0, 3.0]]}, TypeError, "bucket_limits must be a 1-D array"),
        ({"bucket_counts": ["a", "b", "c"]}, TypeError, "bucket_counts must be a 1-D array"),
        ({"bucket_limits": [1.0, 3.0, 2.0]}, ValueError, "bucket_limits must be non-decreasing"),
        ({"bucket_counts": [1.0, -1.0, 1.0]}, ValueError, "bucket_counts must be finite and >= 0"),
        ({"min": 4.0}, ValueError, "min must be <= max"),
        ({"max": float("nan")}, ValueError, "max must be finite"),
        ({"num": -1}, ValueError, "num must be >= 0"),
        ({"sum": "x"}, TypeError, "sum must be a number"),
    ]
    for overrides, error, pattern in raw_cases:
        with pytest.raises(error, match=pattern):
            writer.add_histogram_raw(**{**raw, **overrides})
    writer.add_histogram("h", np.ones(3), 1)
    writer.add_histogram_raw(**raw, global_step=1)
    writer.close()
    acc = event_accumulator(tmp_path)
    assert [e.step for e in acc.Histograms("h")] == [1]
    assert [e.step for e in acc.Histograms("r")] == [1]


# ----- frameworks and parity ------------------------------------------------------------------


@pytest.mark.framework
def test_torch_and_jax_values(tmp_path: Path, event_accumulator: Any) -> None:
    """torch tensors (incl. bfloat16, grad-tracking) and JAX arrays give the NumPy histogram."""
    torch = pytest.importorskip("torch")
    jnp = pytest.importorskip("jax.numpy")
    values = np.linspace(-3, 3, 61, dtype=np.float32)
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_histogram("torch", torch.tensor(values, requires_grad=True) * 1, 0)
        writer.add_histogram("bf16", torch.tensor([0.5, 1.0, 2.0], dtype=torch.bfloat16), 0)
        writer.add_histogram("jax", jnp.asarray(values).reshape(61, 1), 0)
        writer.add_histogram("jax_bf16", jnp.asarray([0.5, 1.0, 2.0], dtype=jnp.bfloat16), 0)
    acc = event_accumulator(tmp_path)
    limits, counts = _expected_tf_buckets(values)
    for tag in ("torch", "jax"):
        histo = acc.Histograms(tag)[0].histogram_value
        assert (list(histo.bucket_limit), list(histo.bucket)) == (limits, counts)
    for tag in ("bf16", "jax_bf16"):
        histo = acc.Histograms(tag)[0].histogram_value
        assert (histo.min, histo.max, histo.sum) == (0.5, 2.0, 3.5)


@pytest.mark.framework
def test_nan_in_device_values_is_reported_on_the_next_call(tmp_path: Path, event_accumulator: Any) -> None:
    """A JAX array's NaN is found on the writer thread and raised, chained, by the next call."""
    jnp = pytest.importorskip("jax.numpy")
    torch = pytest.importorskip("torch")
    writer = tblog.SummaryWriter(tmp_path)
    with pytest.raises(ValueError, match="values holds 1 non-finite"):
        writer.add_histogram("h", torch.tensor([1.0, float("nan")]), 0)  # CPU: checked at once
    writer.add_histogram("h", jnp.asarray([1.0, jnp.nan, jnp.inf]), 0)
    with pytest.raises(BackgroundWriteError) as info:
        writer.flush()
    assert "values holds 2 non-finite" in str(info.value.__cause__)
    writer.add_histogram("h", jnp.asarray([1.0, 2.0]), 1)
    writer.close()
    assert [e.step for e in event_accumulator(tmp_path).Histograms("h")] == [1]


@pytest.mark.framework
def test_parity_with_torch(tmp_path: Path, event_accumulator: Any) -> None:
    """torch.utils.tensorboard and tblog write the same tags, steps and histogram contents."""
    torch = pytest.importorskip("torch")
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    rng = np.random.default_rng(3)
    calls: list[tuple[str, Any, int, dict[str, Any]]] = [
        ("default", torch.tensor(rng.standard_normal((10, 100)), dtype=torch.float32), 0, {}),
        ("default", torch.tensor(rng.exponential(1e6, 500)), 1, {}),
        ("ints", torch.arange(-50, 50), 0, {}),
        ("auto", torch.tensor(rng.normal(3, 1, 1000)), 0, {"bins": "auto"}),
        ("fd", torch.tensor(rng.normal(3, 1, 1000)), 0, {"bins": "fd"}),
        ("count", torch.tensor(rng.random(100)), 2, {"bins": 12}),
        ("edges", torch.tensor(rng.random(100)), 0, {"bins": [0.0, 0.25, 0.5, 1.0]}),
        ("maxbins", torch.tensor(rng.standard_normal(1000)), 0, {"max_bins": 50}),
        ("maxbins_auto", torch.tensor(rng.standard_normal(1000)), 0, {"bins": 100, "max_bins": 30}),
    ]
    theirs = TorchWriter(os.fspath(tmp_path / "torch"))
    ours = tblog.SummaryWriter(tmp_path / "tblog")
    for writer in (theirs, ours):
        for tag, values, step, kwargs in calls:
            writer.add_histogram(tag, values, step, walltime=1.0, **kwargs)
        writer.add_histogram_raw("raw", 0.5, 2.5, 4, 6.0, 10.5, [1.0, 2.0, 3.0], [1, 1, 2], 3)
        writer.close()
    acc_theirs = event_accumulator(tmp_path / "torch")
    acc_ours = event_accumulator(tmp_path / "tblog")
    assert acc_ours.Tags()["histograms"] == acc_theirs.Tags()["histograms"]
    for tag in acc_theirs.Tags()["histograms"]:
        a, b = acc_theirs.Histograms(tag), acc_ours.Histograms(tag)
        assert [e.step for e in a] == [e.step for e in b]
        for x, y in zip(a, b, strict=True):
            assert x.histogram_value == y.histogram_value, tag
