"""Bad input fails at the call, in the caller's thread, naming the argument; nothing else is lost.

Each case that involves the background writer runs in a real subprocess: it logs valid events,
makes the bad calls (each must raise TypeError/ValueError there, which the child catches and
reports as a JSON line), flushes after each one (a failure left for the writer thread would be
raised by that flush, uncaught, and show as a traceback), logs valid events again and closes.
The test then counts with TensorBoard's own EventAccumulator that every valid event is there.

Cases that could allocate without bound run with ``RLIMIT_AS`` a few hundred MiB above the
child's start, so a regression ends in a MemoryError instead of the OOM killer.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tblog

_TIMEOUT = 180  # seconds a child may take; a hang fails the test

_CHILD_HEAD = r'''
import json, os, sys
import numpy as np
import tblog

LOGDIR = os.environ["LOGDIR"]
writer = tblog.SummaryWriter(LOGDIR)


def valid(step):
    """One of each kind the tests count afterwards."""
    writer.add_scalar("valid/scalar", float(step), step)
    writer.add_scalars("valid_main", {"sub": float(step)}, step)
    writer.add_histogram("valid/histogram", np.arange(10.0) + step, step)
    writer.log({"valid/log": float(step)}, step)


def attempt(label, call):
    try:
        call()
    except (TypeError, ValueError) as exc:
        print(json.dumps({"label": label, "raised": type(exc).__name__, "message": str(exc)}), flush=True)
    else:
        print(json.dumps({"label": label, "raised": None}), flush=True)
    writer.flush()  # a failure left for the writer thread is raised here, uncaught


for step in range(3):
    valid(step)
'''

_LIMIT_MEMORY = r"""
import resource

with open("/proc/self/statm") as statm:
    address_space = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
limit = address_space + (384 << 20)
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
"""

_CHILD_TAIL = r"""
for step in range(3, 6):
    valid(step)
writer.close()
print(json.dumps({"label": "done"}), flush=True)
"""


def run_child(tmp_path: Path, body: str) -> dict[str, dict[str, Any]]:
    """Run the bad calls of ``body`` between valid events; the results by label."""
    logdir = tmp_path / "run"
    script = _CHILD_HEAD + body + _CHILD_TAIL
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=dict(os.environ, LOGDIR=os.fspath(logdir), PYTHONWARNINGS="ignore"),
        capture_output=True,
        text=True,
        timeout=_TIMEOUT,
    )
    assert proc.returncode == 0, f"child failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr[-4000:]
    results = {r["label"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert "done" in results, proc.stdout
    return results


def assert_raised_naming(results: dict[str, dict[str, Any]], expected: dict[str, str]) -> None:
    """Every bad call raised TypeError/ValueError at the call, and its message names the argument."""
    accepted = sorted(label for label in expected if results[label]["raised"] is None)
    assert not accepted, f"accepted at the call: {accepted}"
    unnamed = {
        label: results[label]["message"]
        for label, name in expected.items()
        if name not in results[label]["message"]
    }
    assert not unnamed, f"messages that do not name the argument: {unnamed}"


def assert_nothing_lost(logdir: Path, event_accumulator: Any) -> None:
    """Every valid event of the child (steps 0-5 of each kind) is read back by TensorBoard."""
    acc = event_accumulator(logdir)
    steps = list(range(6))
    assert [e.step for e in acc.Scalars("valid/scalar")] == steps
    assert [e.value for e in acc.Scalars("valid/scalar")] == [float(s) for s in steps]
    assert [e.step for e in acc.Scalars("valid/log")] == steps
    assert [e.step for e in acc.Histograms("valid/histogram")] == steps
    sub = event_accumulator(logdir / "valid_main_sub")
    assert [e.step for e in sub.Scalars("valid_main")] == steps


def sub_runs(logdir: Path) -> set[str]:
    """Every directory under ``logdir``, as a relative path."""
    return {p.relative_to(logdir).as_posix() for p in logdir.rglob("*") if p.is_dir()}


# ----- 1. run names that become directories -------------------------------------------------


def test_bad_sub_run_names_raise_at_the_call_and_lose_nothing(tmp_path: Path, event_accumulator: Any) -> None:
    """Run names (add_scalars, add_hparams) the OS would refuse raise ValueError at the call."""
    body = r"""
long_path_key = "/".join(["b" * 200] * 30)  # each part fits; the whole path is over PATH_MAX
cases = {
    "main_tag NUL": lambda: writer.add_scalars("a\0b", {"x": 1.0}, 9),
    "main_tag surrogate": lambda: writer.add_scalars("a\ud800", {"x": 1.0}, 9),
    "main_tag 300 bytes": lambda: writer.add_scalars("m" * 300, {"x": 1.0}, 9),
    "main_tag 64 KiB": lambda: writer.add_scalars("m" * 70000, {"x": 1.0}, 9),
    "sub-run 256 bytes of UTF-8": lambda: writer.add_scalars("\u00e9" * 127, {"x": 1.0}, 9),  # 129 chars
    "main_tag backslash escape": lambda: writer.add_scalars("\\..\\..\\x", {"x": 1.0}, 9),
    "key NUL": lambda: writer.add_scalars("m", {"ok": 1.0, "x\0": 1.0}, 9),
    "key surrogate": lambda: writer.add_scalars("m", {"x\udcff": 1.0}, 9),
    "key 300 bytes": lambda: writer.add_scalars("m", {"k" * 300: 1.0}, 9),
    "key path too long": lambda: writer.add_scalars("m", {long_path_key: 1.0}, 9),
    "key escape": lambda: writer.add_scalars("m", {"x/../../../out": 1.0}, 9),
    "run_name NUL": lambda: writer.add_hparams({"lr": 0.1}, {"acc": 0.5}, run_name="t\0"),
    "run_name surrogate": lambda: writer.add_hparams({"lr": 0.1}, {"acc": 0.5}, run_name="t\ud800"),
    "run_name 300 bytes": lambda: writer.add_hparams({"lr": 0.1}, {"acc": 0.5}, run_name="r" * 300),
    "run_name path too long": lambda: writer.add_hparams({"lr": 0.1}, {"acc": 0.5}, run_name=long_path_key),
    "run_name escape": lambda: writer.add_hparams({"lr": 0.1}, {"acc": 0.5}, run_name="a/../../out"),
    "run_name absolute": lambda: writer.add_hparams({"lr": 0.1}, {"acc": 0.5}, run_name="/abs"),
}
for label, call in cases.items():
    attempt(label, call)
writer.add_hparams({"lr": 0.1}, {"acc": 0.5}, run_name="trial/ok")
"""
    results = run_child(tmp_path, body)
    expected = {
        "main_tag NUL": "main_tag",
        "main_tag surrogate": "main_tag",
        "main_tag 300 bytes": "main_tag",
        "main_tag 64 KiB": "main_tag",
        "sub-run 256 bytes of UTF-8": "tag_scalar_dict key 'x'",
        "main_tag backslash escape": "main_tag",
        "key NUL": "tag_scalar_dict key",
        "key surrogate": "tag_scalar_dict key",
        "key 300 bytes": "tag_scalar_dict key",
        "key path too long": "tag_scalar_dict key",
        "key escape": "tag_scalar_dict key",
        "run_name NUL": "run_name",
        "run_name surrogate": "run_name",
        "run_name 300 bytes": "run_name",
        "run_name path too long": "run_name",
        "run_name escape": "run_name",
        "run_name absolute": "run_name",
    }
    assert_raised_naming(results, expected)
    assert all(results[label]["raised"] == "ValueError" for label in expected), results
    logdir = tmp_path / "run"
    assert_nothing_lost(logdir, event_accumulator)
    # No directory of a refused call was made (a half-logged add_scalars would leave "m_ok").
    assert sub_runs(logdir) == {"valid_main_sub", "trial", "trial/ok"}
    assert not (tmp_path / "out").exists()
    assert [e.value for e in event_accumulator(logdir / "trial" / "ok").Scalars("acc")] == [0.5]


# ----- 2. one argument that sizes an allocation ---------------------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc/self/statm: Linux")
def test_size_arguments_are_bounded_before_anything_is_allocated(
    tmp_path: Path, event_accumulator: Any
) -> None:
    """Size arguments beyond their limits raise ValueError at the call, allocating nothing."""
    has_matplotlib = importlib.util.find_spec("matplotlib") is not None
    # The limit is set after the writer thread started (in _CHILD_HEAD); the bad calls run under it.
    body = (
        _LIMIT_MEMORY
        + r"""
image = np.zeros((3, 8, 8), np.uint8)
boxes = np.array([[0, 0, 4, 4]])
ones = np.ones(3)
cases = {
    "bins 10**9": lambda: writer.add_histogram("h", np.arange(10.0), 9, bins=10**9),
    "bins 65537": lambda: writer.add_histogram("h", np.arange(10.0), 9, bins=65537),
    "bins edges": lambda: writer.add_histogram("h", np.arange(10.0), 9, bins=np.arange(65538.0)),
    "num_thresholds": lambda: writer.add_pr_curve(
        "pr", np.array([1, 0]), np.array([0.5, 0.2]), 9, num_thresholds=10**9
    ),
    "num_thresholds raw": lambda: writer.add_pr_curve_raw(
        "pr", ones, ones, ones, ones, ones / 2, ones / 2, 9, num_thresholds=10**9
    ),
    "rescale": lambda: writer.add_image_with_boxes("b", image, boxes, 9, rescale=1e5),
}
"""
    )
    if has_matplotlib:
        body += r"""
from matplotlib.figure import Figure
cases["figure"] = lambda: writer.add_figure("f", Figure(figsize=(2000, 2000)), 9)
cases["figure grid"] = lambda: writer.add_figure("f", [Figure(figsize=(40, 40), dpi=100)] * 9, 9)
"""
    body += r"""
for label, call in cases.items():
    attempt(label, call)
"""
    results = run_child(tmp_path, body)
    expected = {
        "bins 10**9": "bins",
        "bins 65537": "bins",
        "bins edges": "bins",
        "num_thresholds": "num_thresholds",
        "num_thresholds raw": "num_thresholds",
        "rescale": "rescale",
    }
    if has_matplotlib:
        expected.update({"figure": "figure", "figure grid": "figure"})
    assert_raised_naming(results, expected)
    assert all("65536" in results[label]["message"] for label in ("bins 10**9", "num_thresholds")), results
    assert_nothing_lost(tmp_path / "run", event_accumulator)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc/self/statm: Linux")
def test_numpy_bin_rules_make_at_most_max_bins(tmp_path: Path, event_accumulator: Any) -> None:
    """NumPy's bin rules on a tight cluster plus a far outlier log at most 65,536 bins (under RLIMIT_AS)."""
    body = (
        _LIMIT_MEMORY
        + r"""
spiky = np.concatenate([np.linspace(0.0, 1e-3, 1001), [1e5]])  # 'fd' alone asks for 10**9 bins
for rule in ("fd", "scott", "auto"):
    attempt(rule, lambda: writer.add_histogram(f"rule/{rule}", spiky, 9, bins=rule))
"""
    )
    results = run_child(tmp_path, body)
    assert all(results[rule]["raised"] is None for rule in ("fd", "scott", "auto")), results
    acc = event_accumulator(tmp_path / "run")
    for rule in ("fd", "scott", "auto"):
        (event,) = acc.Histograms(f"rule/{rule}")
        histo = event.histogram_value
        assert histo.num == 1002 and histo.max == 1e5
        assert sum(histo.bucket) == 1002
        assert len(histo.bucket) <= (1 << 16) + 1  # the support, plus the empty bucket in front
    assert_nothing_lost(tmp_path / "run", event_accumulator)


# ----- 3. steps -----------------------------------------------------------------------------


def test_steps_beyond_int64_raise_including_the_automatic_next_step(
    tmp_path: Path, event_accumulator: Any
) -> None:
    """log()'s automatic step after 2**63 - 1 and float steps beyond int64 raise ValueError."""
    body = r"""
writer.log({"auto": 1.0}, step=2**63 - 1)
attempt("log next step", lambda: writer.log({"auto": 2.0}))
attempt("add_scalar float step", lambda: writer.add_scalar("s", 1.0, 1e300))
attempt("add_histogram float step", lambda: writer.add_histogram("h", np.ones(3), 2.0**63))
attempt("log float step", lambda: writer.log({"auto": 3.0}, step=-(2.0**70)))
writer.log({"auto": 4.0}, step=7)
writer.log({"auto": 5.0})  # the counter goes on from the explicit step
"""
    results = run_child(tmp_path, body)
    assert_raised_naming(
        results,
        {
            "log next step": "step",
            "add_scalar float step": "global_step",
            "add_histogram float step": "global_step",
            "log float step": "step",
        },
    )
    acc = event_accumulator(tmp_path / "run")
    assert [(e.step, e.value) for e in acc.Scalars("auto")] == [(2**63 - 1, 1.0), (7, 4.0), (8, 5.0)]
    assert "s" not in acc.Tags()["scalars"] and "h" not in acc.Tags()["histograms"]
    assert_nothing_lost(tmp_path / "run", event_accumulator)


# ----- 4. errors that came late, or named nothing -------------------------------------------


def test_lone_surrogates_raise_at_the_call_naming_the_argument(
    tmp_path: Path, event_accumulator: Any
) -> None:
    """A lone surrogate in any tag, key, label or text raises ValueError at the call, naming the argument."""
    has_matplotlib = importlib.util.find_spec("matplotlib") is not None
    body = r"""
bad = "bad\ud800"
image = np.zeros((3, 8, 8), np.uint8)
ones = np.ones(3)
cases = {
    "add_scalar": lambda: writer.add_scalar(bad, 1.0, 9),
    "add_scalar new_style": lambda: writer.add_scalar(bad, 1.0, 9, new_style=True),
    "add_scalars main_tag": lambda: writer.add_scalars(bad, {"a": 1.0}, 9),
    "add_scalars key": lambda: writer.add_scalars("m", {bad: 1.0}, 9),
    "log key": lambda: writer.log({"fine": 1.0, bad: 2.0}, 9),
    "log nested key": lambda: writer.log({"outer": {bad: 2.0}}, 9),
    "add_histogram": lambda: writer.add_histogram(bad, ones, 9),
    "add_histogram_raw": lambda: writer.add_histogram_raw(bad, 0, 1, 2, 1, 1, [0.5, 1.0], [1, 1], 9),
    "add_image": lambda: writer.add_image(bad, image, 9),
    "add_images": lambda: writer.add_images(bad, image[None], 9),
    "add_image_with_boxes": lambda: writer.add_image_with_boxes(bad, image, np.array([[0, 0, 4, 4]]), 9),
    "add_image_with_boxes labels": lambda: writer.add_image_with_boxes(
        "b", image, np.array([[0, 0, 4, 4]]), 9, labels=[bad]
    ),
    "add_video": lambda: writer.add_video(bad, np.zeros((1, 2, 3, 4, 4)), 9),
    "add_audio": lambda: writer.add_audio(bad, np.zeros(100), 9),
    "add_text tag": lambda: writer.add_text(bad, "x", 9),
    "add_text text": lambda: writer.add_text("t", bad, 9),
    "add_pr_curve": lambda: writer.add_pr_curve(bad, np.array([1, 0]), np.array([0.5, 0.2]), 9),
    "add_pr_curve_raw": lambda: writer.add_pr_curve_raw(bad, ones, ones, ones, ones, ones / 2, ones / 2, 9),
    "add_hparams key": lambda: writer.add_hparams({bad: 1}, {"acc": 0.5}),
    "add_hparams value": lambda: writer.add_hparams({"opt": bad}, {"acc": 0.5}),
    "add_hparams metric": lambda: writer.add_hparams({"lr": 1}, {bad: 0.5}),
    "add_hparams domain": lambda: writer.add_hparams({"opt": "sgd"}, {"acc": 0.5}, {"opt": ["sgd", bad]}),
    "add_mesh": lambda: writer.add_mesh(bad, np.ones((1, 3, 3)), global_step=9),
    "add_custom_scalars category": lambda: writer.add_custom_scalars({bad: {"t": ["Multiline", ["a"]]}}),
    "add_custom_scalars title": lambda: writer.add_custom_scalars({"c": {bad: ["Multiline", ["a"]]}}),
    "add_custom_scalars tag": lambda: writer.add_custom_scalars({"c": {"t": ["Multiline", [bad]]}}),
    "add_custom_scalars_multilinechart": lambda: writer.add_custom_scalars_multilinechart(["a"], title=bad),
    "add_embedding tag": lambda: writer.add_embedding(np.ones((2, 2)), tag=bad),
    "add_embedding metadata": lambda: writer.add_embedding(np.ones((2, 2)), ["a", bad]),
    "add_tensor": lambda: writer.add_tensor(bad, ones, 9),
    "add_tensor of str": lambda: writer.add_tensor("s", np.array(["a", bad], dtype=object), 9),
}
"""
    if has_matplotlib:
        body += r"""
from matplotlib.figure import Figure
cases["add_figure"] = lambda: writer.add_figure(bad, Figure(figsize=(1, 1)), 9)
"""
    body += r"""
for label, call in cases.items():
    attempt(label, call)
"""
    results = run_child(tmp_path, body)
    expected = {label: "tag" for label in results if label.startswith("add_") and label != "done"}
    expected.update(
        {
            "add_scalars main_tag": "main_tag",
            "add_scalars key": "tag_scalar_dict key",
            "log key": "metrics key",
            "log nested key": "metrics key",
            "add_image_with_boxes labels": "labels[0]",
            "add_text text": "text_string",
            "add_hparams key": "hparam_dict key",
            "add_hparams value": "hparam_dict['opt']",
            "add_hparams metric": "metric_dict key",
            "add_hparams domain": "hparam_domain_discrete['opt']",
            "add_custom_scalars category": "layout keys",
            "add_custom_scalars title": "layout['c'] keys",
            "add_custom_scalars tag": "layout['c']['t'][1]",
            "add_custom_scalars_multilinechart": "title",
            "add_embedding metadata": "metadata[1]",
            "add_tensor of str": "tensor",
        }
    )
    assert_raised_naming(results, expected)
    assert all(results[label]["raised"] == "ValueError" for label in expected), results
    logdir = tmp_path / "run"
    assert_nothing_lost(logdir, event_accumulator)
    acc = event_accumulator(logdir)
    assert "fine" not in acc.Tags()["scalars"]  # a log() call that raised logged nothing
    assert sub_runs(logdir) == {"valid_main_sub"}


def test_figures_without_pixels_raise_at_the_call(tmp_path: Path, event_accumulator: Any) -> None:
    """A figure under 1 pixel wide or high raises ValueError at the call, not on the writer thread."""
    pytest.importorskip("matplotlib")
    body = r"""
from matplotlib.figure import Figure
cases = {
    "zero wide": lambda: writer.add_figure("f", Figure(figsize=(0, 3)), 9),
    "under a pixel": lambda: writer.add_figure("f", Figure(figsize=(0.001, 3)), 9),
    "tiny dpi": lambda: writer.add_figure("f", Figure(figsize=(2, 3), dpi=0.001), 9),
    "in a list": lambda: writer.add_figure("f", [Figure(figsize=(1, 1)), Figure(figsize=(3, 0))], 9),
}
for label, call in cases.items():
    attempt(label, call)
writer.add_figure("valid/figure", Figure(figsize=(1, 1), dpi=20), 1)
"""
    results = run_child(tmp_path, body)
    assert_raised_naming(
        results,
        {"zero wide": "figure", "under a pixel": "figure", "tiny dpi": "figure", "in a list": "figure[1]"},
    )
    acc = event_accumulator(tmp_path / "run")
    assert [(e.step, e.width, e.height) for e in acc.Images("valid/figure")] == [(1, 20, 20)]
    assert "f" not in acc.Tags()["images"]
    assert_nothing_lost(tmp_path / "run", event_accumulator)


def test_float8_arrays_are_logged_as_float32_or_refused_at_the_call(
    tmp_path: Path, event_accumulator: Any
) -> None:
    """float8 values are converted exactly to float32 at the call; a NaN in a histogram raises there."""
    pytest.importorskip("ml_dtypes")
    body = r"""
import ml_dtypes
f8 = ml_dtypes.float8_e4m3fn
e5m2 = ml_dtypes.float8_e5m2
attempt("histogram with NaN", lambda: writer.add_histogram("h", np.array([1.0, np.nan], f8), 9))
attempt("histogram with inf", lambda: writer.add_histogram("h", np.array([1.0, np.inf], e5m2), 9))
attempt("histogram", lambda: writer.add_histogram("f8/histogram", np.array([0.5, 1.5, 1.5, 448.0], f8), 1))
attempt("scalar", lambda: writer.add_scalar("f8/scalar", np.array(1.5, f8), 1))
attempt("log", lambda: writer.log({"f8/log": np.float32(2.0).astype(e5m2)}, 1))
attempt("tensor", lambda: writer.add_tensor("f8/tensor", np.array([0.25, -3.0], f8), 1))
attempt("image", lambda: writer.add_image("f8/image", np.full((2, 2), 0.5, f8), 1, dataformats="HW"))
attempt("audio", lambda: writer.add_audio("f8/audio", np.full(8, 0.5, f8), 1))
attempt("pr_curve", lambda: writer.add_pr_curve("f8/pr", np.array([1, 0]), np.array([0.75, 0.25], f8), 1))
"""
    results = run_child(tmp_path, body)
    assert_raised_naming(results, {"histogram with NaN": "values", "histogram with inf": "values"})
    converted = ("histogram", "scalar", "log", "tensor", "image", "audio", "pr_curve")
    assert all(results[label]["raised"] is None for label in converted), results
    from tensorboard.util import tensor_util

    acc = event_accumulator(tmp_path / "run")
    histo = acc.Histograms("f8/histogram")[0].histogram_value
    assert (histo.min, histo.max, histo.num, histo.sum) == (0.5, 448.0, 4, 451.5)
    assert [e.value for e in acc.Scalars("f8/scalar")] == [1.5]
    assert [e.value for e in acc.Scalars("f8/log")] == [2.0]
    tensor = tensor_util.make_ndarray(acc.Tensors("f8/tensor")[0].tensor_proto)
    assert tensor.dtype == np.float32 and tensor.tolist() == [0.25, -3.0]
    assert [(e.width, e.height) for e in acc.Images("f8/image")] == [(2, 2)]
    assert len(acc.Audio("f8/audio")) == 1
    assert len(acc.Tensors("f8/pr")) == 1
    assert "h" not in acc.Tags()["histograms"]
    assert_nothing_lost(tmp_path / "run", event_accumulator)


# TensorBoard's distribution compressor overflows on the +-1e308 histogram it reads back.
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_other_values_that_failed_on_the_writer_thread(tmp_path: Path, event_accumulator: Any) -> None:
    """Values beyond float64's binning range raise at the call; a subnormal video fps is logged fine."""
    body = r"""
attempt("histogram span", lambda: writer.add_histogram("h", np.array([-1e308, 0.0, 1e308]), 9, bins=10))
attempt("histogram span fd", lambda: writer.add_histogram("h", np.array([-1e308, 1e308]), 9, bins="fd"))
attempt("histogram span default bins", lambda: writer.add_histogram("wide", np.array([-1e308, 1e308]), 1))
attempt("video subnormal fps", lambda: writer.add_video("video", np.zeros((1, 2, 3, 4, 4)), 1, fps=5e-324))
"""
    results = run_child(tmp_path, body)
    assert_raised_naming(results, {"histogram span": "values", "histogram span fd": "values"})
    assert results["histogram span default bins"]["raised"] is None
    assert results["video subnormal fps"]["raised"] is None
    acc = event_accumulator(tmp_path / "run")
    assert len(acc.Histograms("wide")) == 1 and "h" not in acc.Tags()["histograms"]
    assert len(acc.Images("video")) == 1
    assert_nothing_lost(tmp_path / "run", event_accumulator)


# In-process: these fail (or not) in the caller's thread before anything is queued.


def test_walltime_beyond_float_raises_value_error_naming_walltime(
    tmp_path: Path, event_accumulator: Any
) -> None:
    """walltime=10**400 (an int no float holds) raises ValueError naming walltime, not OverflowError."""
    from fractions import Fraction

    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_scalar("ok", 1.0, 0)
        calls = {
            "add_scalar": lambda w: writer.add_scalar("x", 1.0, 1, walltime=w),
            "log": lambda w: writer.log({"x": 1.0}, 1, walltime=w),
            "add_histogram": lambda w: writer.add_histogram("x", np.ones(3), 1, walltime=w),
            "add_text": lambda w: writer.add_text("x", "y", 1, walltime=w),
        }
        for call in calls.values():
            for walltime in (10**400, -(10**400), Fraction(10**400)):
                with pytest.raises(ValueError, match="walltime"):
                    call(walltime)
        with pytest.raises(ValueError, match="scalar_value"):
            writer.add_scalar("x", Fraction(10**400), 1)
        writer.add_scalar("ok", 2.0, 1)
    acc = event_accumulator(tmp_path)
    assert [e.value for e in acc.Scalars("ok")] == [1.0, 2.0]
    assert acc.Tags()["scalars"] == ["ok"] and not acc.Tags()["histograms"]


RAGGED = [[1.0, 2.0], [3.0]]


@pytest.mark.parametrize(
    ("method", "call", "name"),
    [
        ("add_histogram", lambda w: w.add_histogram("x", RAGGED), "values"),
        ("add_tensor", lambda w: w.add_tensor("x", RAGGED), "tensor"),
        ("add_pr_curve labels", lambda w: w.add_pr_curve("x", RAGGED, [0.1, 0.2, 0.3]), "labels"),
        ("add_pr_curve predictions", lambda w: w.add_pr_curve("x", [1, 0, 1], RAGGED), "predictions"),
        (
            "add_pr_curve weights",
            lambda w: w.add_pr_curve("x", [1, 0, 1], [0.1, 0.2, 0.3], weights=RAGGED),
            "weights",
        ),
        ("add_pr_curve_raw", lambda w: w.add_pr_curve_raw("x", *[RAGGED] * 6), "true_positive_counts"),
        (
            "add_histogram_raw",
            lambda w: w.add_histogram_raw("x", 0, 1, 3, 1, 1, RAGGED, [1, 1]),
            "bucket_limits",
        ),
        ("add_image", lambda w: w.add_image("x", RAGGED, dataformats="HW"), "img_tensor"),
        ("add_audio", lambda w: w.add_audio("x", RAGGED), "snd_tensor"),
        ("add_mesh", lambda w: w.add_mesh("x", [[[1, 2, 3]], [[1, 2]]]), "vertices"),
    ],
)
def test_ragged_nested_lists_raise_naming_the_argument(
    tmp_path: Path, method: str, call: Any, name: str
) -> None:
    """Ragged nested lists raise TypeError naming the argument (NumPy's own error names none)."""
    with tblog.SummaryWriter(tmp_path) as writer:
        with pytest.raises(TypeError, match=rf"^{name}\b"):
            call(writer)
        writer.add_scalar("ok", 1.0, 0)  # the writer stays usable


@pytest.mark.parametrize(
    "suffix",
    ["/x", os.sep + "x", "a\0b", "bad\ud800", "x" * 300],
    ids=["slash", "sep", "NUL", "surrogate", "long"],
)
def test_filename_suffix_that_is_no_file_name_raises_at_the_call(tmp_path: Path, suffix: str) -> None:
    """A filename_suffix no file name can end with raises ValueError naming it, making no file."""
    with pytest.raises(ValueError, match="filename_suffix"):
        tblog.SummaryWriter(tmp_path / "run", filename_suffix=suffix)
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


@pytest.mark.framework
def test_torch_float8_tensors_are_logged_as_float32(tmp_path: Path, event_accumulator: Any) -> None:
    """torch float8 tensors (which .numpy() refuses) are read as float32 at the call; a NaN raises there."""
    torch = pytest.importorskip("torch")
    values = torch.tensor([0.5, 1.5, 448.0]).to(torch.float8_e4m3fn)
    with tblog.SummaryWriter(tmp_path) as writer:
        with pytest.raises(ValueError, match="values holds 1 non-finite"):
            writer.add_histogram("h", torch.tensor([1.0, float("nan")]).to(torch.float8_e4m3fn), 0)
        writer.add_histogram("f8/histogram", values, 1)
        writer.add_scalar("f8/scalar", values[1], 1)
        writer.add_tensor("f8/tensor", values, 1)
    acc = event_accumulator(tmp_path)
    histo = acc.Histograms("f8/histogram")[0].histogram_value
    assert (histo.min, histo.max, histo.sum) == (0.5, 448.0, 450.0)
    assert [e.value for e in acc.Scalars("f8/scalar")] == [1.5]
    assert acc.Tensors("f8/tensor")[0].tensor_proto.dtype == 1  # DT_FLOAT
    assert "h" not in acc.Tags()["histograms"]
