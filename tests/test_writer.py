"""SummaryWriter's scalars, text and layout, read back with TensorBoard's EventAccumulator."""

from __future__ import annotations

import math
import os
import re
import socket
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tblog
from tblog import read


def _f32_bits(value: float) -> bytes:
    with np.errstate(over="ignore"):
        return np.float32(value).tobytes()


def _event_files(path: Path) -> list[str]:
    return sorted(n for n in os.listdir(path) if n.startswith("events.out.tfevents."))


def test_add_scalar_values_steps_and_walltimes_round_trip(tmp_path: Path, event_accumulator: Any) -> None:
    """Every scalar comes back bit-exact as float32, with its step and wall time."""
    rng = np.random.default_rng(0)
    values = list(rng.standard_normal(500) * 10.0 ** rng.integers(-30, 30, 500))
    values += [0.0, -0.0, math.nan, math.inf, -math.inf, 1e300, 3, True, 2**40]
    with tblog.SummaryWriter(tmp_path) as writer:
        for i, value in enumerate(values):
            writer.add_scalar("x", value, i * 7 - 3, walltime=1.7e9 + i * 0.25)
    points = event_accumulator(tmp_path).Scalars("x")
    assert [p.step for p in points] == [i * 7 - 3 for i in range(len(values))]
    assert [p.wall_time for p in points] == [1.7e9 + i * 0.25 for i in range(len(values))]
    for point, value in zip(points, values, strict=True):
        if math.isnan(value):
            assert math.isnan(point.value)
        else:
            assert _f32_bits(point.value) == _f32_bits(float(value))


def test_default_walltime_and_step(tmp_path: Path, event_accumulator: Any) -> None:
    """Without walltime the current time is used; without global_step the step is 0, as torch."""
    import time

    before = time.time()
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_scalar("x", 1.0)
    (point,) = event_accumulator(tmp_path).Scalars("x")
    assert point.step == 0
    assert before <= point.wall_time <= time.time()


def test_scalar_inputs_of_every_host_kind(tmp_path: Path, event_accumulator: Any) -> None:
    """NumPy scalars, 0-d and one-element arrays, ints and bools are all accepted."""
    inputs = [
        np.float16(1.5),
        np.float64(2.5),
        np.int64(3),
        np.array(4.5),
        np.array([[5.5]]),
        np.bool_(True),
        7,
        False,
        np.uint8(9),
    ]
    with tblog.SummaryWriter(tmp_path) as writer:
        for step, value in enumerate(inputs):
            writer.add_scalar("v", value, np.int32(step))
    got = [p.value for p in event_accumulator(tmp_path).Scalars("v")]
    assert got == [1.5, 2.5, 3.0, 4.5, 5.5, 1.0, 7.0, 0.0, 9.0]


def test_new_style_and_double_precision(tmp_path: Path, event_accumulator: Any) -> None:
    """new_style writes tensor scalars under the scalars plugin; double_precision keeps float64."""
    from tensorboard.backend.event_processing import plugin_event_accumulator as pea
    from tensorboard.util import tensor_util

    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_scalar("f32", 0.1, 1, new_style=True)
        writer.add_scalar("f64", 0.1, 2, new_style=True, double_precision=True)
    acc = pea.EventAccumulator(os.fspath(tmp_path))
    acc.Reload()
    assert set(acc.PluginTagToContent("scalars")) == {"f32", "f64"}
    (f32,) = acc.Tensors("f32")
    (f64,) = acc.Tensors("f64")
    assert tensor_util.make_ndarray(f32.tensor_proto).dtype == np.float32
    assert tensor_util.make_ndarray(f64.tensor_proto).item() == 0.1
    assert (f32.step, f64.step) == (1, 2)


def test_add_scalars_uses_torch_sub_run_layout(tmp_path: Path, event_accumulator: Any) -> None:
    """add_scalars writes <logdir>/<main_tag>_<key>/ runs, each with tag main_tag."""
    with tblog.SummaryWriter(tmp_path) as writer:
        for step in range(20):
            writer.add_scalars("loss/all", {"train": step * 1.0, "val": step * 2.0}, step)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == [
        "loss_all_train",
        "loss_all_val",
    ]
    for key, scale in (("train", 1.0), ("val", 2.0)):
        acc = event_accumulator(tmp_path / f"loss_all_{key}")
        assert acc.Tags()["scalars"] == ["loss/all"]
        assert [(p.step, p.value) for p in acc.Scalars("loss/all")] == [(s, s * scale) for s in range(20)]


def test_log_flattens_nested_metrics_into_one_event(tmp_path: Path, event_accumulator: Any) -> None:
    """log() writes all values of one call in one Event, nested keys as a/b tags."""
    with tblog.SummaryWriter(tmp_path) as writer:
        for step in range(10):
            writer.log({"loss": step * 0.5, "acc": {"top1": step / 10, "top5": np.float32(1)}}, step)
    acc = event_accumulator(tmp_path)
    assert sorted(acc.Tags()["scalars"]) == ["acc/top1", "acc/top5", "loss"]
    assert [p.value for p in acc.Scalars("loss")] == [s * 0.5 for s in range(10)]
    assert [p.step for p in acc.Scalars("acc/top1")] == list(range(10))
    summaries = [e for e in read.events(tmp_path) if e.WhichOneof("what") == "summary"]
    assert len(summaries) == 10
    assert all(len(e.summary.value) == 3 for e in summaries)


def test_log_step_counter(tmp_path: Path, event_accumulator: Any) -> None:
    """log(step=None) continues from the last step logged with log(): 0, 1, then 11, 12."""
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.log({"m": 1})
        writer.log({"m": 2})
        writer.log({"m": 3}, step=10)
        writer.log({"m": 4})
        writer.log({"m": 5}, walltime=1.5e9)
    points = event_accumulator(tmp_path).Scalars("m")
    assert [p.step for p in points] == [0, 1, 10, 11, 12]
    assert points[-1].wall_time == 1.5e9


def test_add_text_renders_markdown_tag_like_torch(tmp_path: Path, event_accumulator: Any) -> None:
    """add_text logs a text-plugin string tensor under <tag>/text_summary."""
    from tensorboard.util import tensor_util

    note = "# Run\n\n* lr: **0.1**\n* ünïcode ✓"
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_text("notes", note, 3)
        writer.add_text("notes", "second", 4)
    acc = event_accumulator(tmp_path)
    assert acc.Tags()["tensors"] == ["notes/text_summary"]
    events = acc.Tensors("notes/text_summary")
    assert [e.step for e in events] == [3, 4]
    assert tensor_util.make_ndarray(events[0].tensor_proto).tolist() == [note.encode()]
    assert acc.SummaryMetadata("notes/text_summary").plugin_data.plugin_name == "text"


def test_purge_step_hides_points_of_the_crashed_run(tmp_path: Path, event_accumulator: Any) -> None:
    """A writer opened with purge_step=P makes TensorBoard drop older points with step >= P."""
    with tblog.SummaryWriter(tmp_path) as first:
        for step in range(100):
            first.add_scalar("x", 1.0, step)
    with tblog.SummaryWriter(tmp_path, purge_step=50) as resumed:
        for step in range(50, 60):
            resumed.add_scalar("x", 2.0, step)
    points = event_accumulator(tmp_path).Scalars("x")
    assert [p.step for p in points] == list(range(60))
    assert [p.value for p in points] == [1.0] * 50 + [2.0] * 10


def test_event_file_name_header_and_uniqueness(tmp_path: Path) -> None:
    """Files are named events.out.tfevents.<time>.<host>.<pid>.tblog<n><suffix>, unique per writer,
    and begin with file_version brain.Event:2 written by tblog."""
    writers = [tblog.SummaryWriter(tmp_path, filename_suffix=".v1") for _ in range(3)]
    for writer in writers:
        writer.close()
    names = _event_files(tmp_path)
    assert len(names) == 3
    pattern = (
        rf"events\.out\.tfevents\.\d{{10}}\.{re.escape(socket.gethostname())}\.{os.getpid()}\.tblog\d+\.v1"
    )
    assert all(re.fullmatch(pattern, n) for n in names)
    first = next(read.events(tmp_path / names[0]))
    assert first.file_version == "brain.Event:2"
    assert first.source_metadata.writer == "tblog"


def test_default_log_dir_like_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without log_dir, runs/<Mon><DD>_<HH>-<MM>-<SS>_<host><comment> is used; logdir= works."""
    monkeypatch.chdir(tmp_path)
    writer = tblog.SummaryWriter(comment="_lr0.1")
    writer.close()
    assert re.fullmatch(
        rf"runs/[A-Z][a-z]{{2}}\d{{2}}_\d{{2}}-\d{{2}}-\d{{2}}_{re.escape(socket.gethostname())}_lr0\.1",
        writer.get_logdir(),
    )
    assert _event_files(tmp_path / writer.get_logdir())
    other = tblog.SummaryWriter(logdir=tmp_path / "x")
    other.close()
    assert other.get_logdir() == os.fspath(tmp_path / "x")


def test_logging_after_close_opens_a_new_file(tmp_path: Path, event_accumulator: Any) -> None:
    """As with torch's writer, add_* after close() writes to a new event file; close is idempotent."""
    writer = tblog.SummaryWriter(tmp_path)
    writer.add_scalar("x", 1.0, 0)
    writer.close()
    writer.close()
    writer.add_scalar("x", 2.0, 1)
    writer.close()
    assert len(_event_files(tmp_path)) == 2
    assert [p.value for p in event_accumulator(tmp_path).Scalars("x")] == [1.0, 2.0]


# ----- bad input -----------------------------------------------------------------------------

BAD_CALLS = [
    ("add_scalar", ("x", "abc", 1), TypeError, r"scalar_value must be .*got str 'abc'"),
    ("add_scalar", ("x", None, 1), TypeError, r"scalar_value .*got NoneType"),
    ("add_scalar", ("x", [1.0, 2.0], 1), TypeError, r"scalar_value .*got list"),
    ("add_scalar", ("x", np.ones(3), 1), ValueError, r"scalar_value must hold exactly one .*shape \(3,\)"),
    ("add_scalar", ("x", np.array([1 + 2j]), 1), TypeError, r"scalar_value must be a real .*complex"),
    ("add_scalar", ("x", 1.0, "5"), TypeError, r"global_step must be an int .*got str '5'"),
    ("add_scalar", ("x", 1.0, 2.5), ValueError, r"global_step must be a whole number"),
    ("add_scalar", ("x", 1.0, 2**64), ValueError, r"global_step must fit in int64"),
    ("add_scalar", (5, 1.0, 1), TypeError, r"tag must be a str; got int 5"),
    ("add_scalar", ("", 1.0, 1), ValueError, r"tag must not be empty"),
    ("add_scalar", ("x", 1.0, 1, "now"), TypeError, r"walltime must be a number"),
    ("add_scalar", ("x", 1.0, 1, math.nan), ValueError, r"walltime must be finite"),
    ("add_scalars", ("m", {"a": 1.0, "b": "x"}, 1), TypeError, r"tag_scalar_dict\['b'\]"),
    ("add_scalars", ("m", [1.0], 1), TypeError, r"tag_scalar_dict must be a mapping"),
    ("add_scalars", ("m", {"../../escape": 1.0}, 1), ValueError, r"relative path"),
    ("add_scalars", ("m", {3: 1.0}, 1), TypeError, r"tag_scalar_dict key must be a str"),
    ("log", ({"a": 1.0, "b": {"c": "bad"}}, 1), TypeError, r"metrics\['b/c'\] must be"),
    ("log", ({"a": np.zeros((2, 2))}, 1), ValueError, r"metrics\['a'\] must hold exactly one"),
    ("log", ({1: 1.0},), TypeError, r"metrics keys must be non-empty str"),
    ("log", ([1.0],), TypeError, r"metrics must be a mapping"),
    ("log", ({"a/b": 1.0, "a": {"b": 2.0}},), ValueError, r"duplicate tags: \['a/b'\]"),
    ("log", ({"a": 1.0}, "3"), TypeError, r"step must be an int"),
    ("add_text", ("t", 42, 1), TypeError, r"text_string must be a str; got int 42"),
    ("add_text", (None, "x", 1), TypeError, r"tag must be a str; got NoneType"),
]


@pytest.mark.parametrize(("method", "args", "error", "message"), BAD_CALLS)
def test_bad_input_is_a_clear_error_and_loses_nothing(
    tmp_path: Path,
    event_accumulator: Any,
    method: str,
    args: tuple[Any, ...],
    error: type[Exception],
    message: str,
) -> None:
    """Each bad argument raises an error naming it and what came; the writer goes on intact."""
    writer = tblog.SummaryWriter(tmp_path)
    writer.add_scalar("good", 1.0, 0)
    writer.log({"good_log": 1.0}, 0)
    with pytest.raises(error, match=message):
        getattr(writer, method)(*args)
    writer.add_scalar("good", 2.0, 1)
    writer.close()
    acc = event_accumulator(tmp_path)
    assert [p.value for p in acc.Scalars("good")] == [1.0, 2.0]
    assert sorted(acc.Tags()["scalars"]) == ["good", "good_log"]  # nothing of the bad call
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_queue": 0}, r"max_queue must be a positive number; got int 0"),
        ({"flush_secs": -1}, r"flush_secs must be a positive"),
        ({"flush_secs": "10"}, r"flush_secs must be a positive number; got str"),
        ({"purge_step": "x"}, r"purge_step must be an int"),
        ({"filename_suffix": 3}, r"filename_suffix must be a str"),
        ({"max_queue": 100, "max_pending_events": 10}, r"max_pending_events \(10\) must be at least"),
    ],
)
def test_bad_constructor_arguments(tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    """Constructor arguments are checked with errors that name them."""
    with pytest.raises((TypeError, ValueError), match=message):
        tblog.SummaryWriter(tmp_path, **kwargs)


def test_log_dir_conflict_and_type(tmp_path: Path) -> None:
    """log_dir and logdir may not disagree; a non-path log_dir is refused."""
    with pytest.raises(ValueError, match="log_dir and logdir"):
        tblog.SummaryWriter(tmp_path / "a", logdir=tmp_path / "b")
    with pytest.raises(TypeError, match="log_dir must be a str or path; got int 3"):
        tblog.SummaryWriter(3)  # type: ignore[arg-type]


def test_float_bits_helper_sanity() -> None:
    """The float32 comparison used above distinguishes values float32 can tell apart."""
    assert _f32_bits(1.0) != _f32_bits(1.0 + 2**-20)
    assert struct.unpack("<f", _f32_bits(1e300))[0] == math.inf
