"""`python -m tblog.demo` trains for real and writes logs that TensorBoard reads back."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

STEPS = 500  # the demo's default
EVAL_EVERY = 10
DASHBOARDS = ["scalars", "custom_scalars", "images", "audio", "distributions", "histograms", "text",
              "pr_curves", "hparams", "mesh", "projector", "graphs"]  # fmt: skip


def run_demo(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the demo the way a user does, in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "tblog.demo", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


def event_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("events.out.tfevents.*"))


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One default demo run (into a tmp logdir), shared by the read-back tests."""
    logdir = tmp_path_factory.mktemp("demo") / "runs" / "demo"
    proc = run_demo(logdir.parent.parent, "--logdir", str(logdir))
    assert proc.returncode == 0, proc.stderr
    return logdir, proc.stdout


def test_demo_prints_how_to_view(demo_run: tuple[Path, str]) -> None:
    """The demo ends by printing the tensorboard command for its logdir."""
    logdir, stdout = demo_run
    assert f"--logdir {logdir}" in stdout
    assert "tensorboard" in stdout


def test_demo_scalars_read_back(demo_run: tuple[Path, str], event_accumulator: Callable[[Path], Any]) -> None:
    """add_scalar and log() (nested dicts → a/b tags) land at the right steps, and it learns."""
    logdir, _ = demo_run
    acc = event_accumulator(logdir)
    tags = set(acc.Tags()["scalars"])
    every_step = {"train/loss", "train/accuracy", "train/grad_norm", "optim/learning_rate"}
    evaluated = {"val/loss", "val/accuracy"}
    assert every_step | evaluated <= tags
    for tag in every_step:
        assert [e.step for e in acc.Scalars(tag)] == list(range(1, STEPS + 1)), tag
    for tag in evaluated:
        assert [e.step for e in acc.Scalars(tag)] == list(range(EVAL_EVERY, STEPS + 1, EVAL_EVERY))
    losses = [e.value for e in acc.Scalars("train/loss")]
    assert all(0.0 < v < 10.0 for v in losses)
    assert acc.Scalars("val/accuracy")[-1].value > 0.8  # chance is 0.5


def test_demo_add_scalars_sub_runs(
    demo_run: tuple[Path, str], event_accumulator: Callable[[Path], Any]
) -> None:
    """add_scalars("loss", {"train", "val"}) makes sub-runs loss_train and loss_val, tag "loss"."""
    logdir, _ = demo_run
    root = event_accumulator(logdir)
    val_loss = {e.step: e.value for e in root.Scalars("val/loss")}
    for sub in ("loss_train", "loss_val"):
        acc = event_accumulator(logdir / sub)
        assert acc.Tags()["scalars"] == ["loss"], sub
        steps = [e.step for e in acc.Scalars("loss")]
        assert steps == list(range(EVAL_EVERY, STEPS + 1, EVAL_EVERY)), sub
    for e in event_accumulator(logdir / "loss_val").Scalars("loss"):
        assert e.value == pytest.approx(val_loss[e.step], rel=1e-6)


def test_demo_text_read_back(demo_run: tuple[Path, str], event_accumulator: Callable[[Path], Any]) -> None:
    """add_text writes the config table and a summary under <tag>/text_summary, text plugin."""
    logdir, _ = demo_run
    acc = event_accumulator(logdir)
    tensor_tags = set(acc.Tags()["tensors"])
    assert {"config/text_summary", "summary/text_summary"} <= tensor_tags
    for tag, step in (("config/text_summary", 0), ("summary/text_summary", STEPS)):
        assert acc.SummaryMetadata(tag).plugin_data.plugin_name == "text"
        (event,) = acc.Tensors(tag)
        assert event.step == step
    config_text = acc.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "| `learning_rate` |" in config_text
    summary_text = acc.Tensors("summary/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "validation loss" in summary_text


def test_demo_rerun_replaces_previous_run(tmp_path: Path) -> None:
    """Running twice into the default runs/demo leaves only the second run's files."""
    for _ in range(2):
        proc = run_demo(tmp_path, "--steps", "20")
        assert proc.returncode == 0, proc.stderr
    logdir = tmp_path / "runs" / "demo"
    assert "tensorboard --logdir runs/demo" in proc.stdout
    assert len(event_files(logdir)) == 1
    for sub in ("loss_train", "loss_val"):
        assert len(event_files(logdir / sub)) == 1


def test_demo_refuses_to_delete_other_files(tmp_path: Path) -> None:
    """A --logdir holding anything but event files is left alone, with a clear error."""
    logdir = tmp_path / "precious"
    logdir.mkdir()
    (logdir / "notes.txt").write_text("keep me")
    proc = run_demo(tmp_path, "--logdir", str(logdir), "--steps", "5")
    assert proc.returncode != 0
    assert "refusing to delete" in proc.stderr
    assert (logdir / "notes.txt").read_text() == "keep me"
    assert event_files(logdir) == []


def test_demo_fills_every_dashboard_in_a_real_tensorboard(
    demo_run: tuple[Path, str], tensorboard_server: Callable[[Path], Any]
) -> None:
    """A real `tensorboard` server over the demo's logdir shows data on every dashboard."""
    logdir, _ = demo_run
    get = tensorboard_server(logdir)
    deadline = time.monotonic() + 60
    while True:  # the projector decides it is active on a background thread: give it time
        listing = get("/data/plugins_listing")
        inactive = [name for name in DASHBOARDS if not listing[name]["enabled"]]
        if not inactive or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert inactive == []
    assert "params/w1" in get("/data/plugin/histograms/tags")["."]
    assert "params/w1" in get("/data/plugin/distributions/tags")["."]
    assert set(get("/data/plugin/images/tags")["."]) == {"boundary", "boundary_over_time"}
    assert list(get("/data/plugin/audio/tags")["."]) == ["loss_as_sound"]
    assert "val/pr" in get("/data/plugin/pr_curves/tags")["."]
    assert "spirals" in str(get("/data/plugin/mesh/tags"))
    assert get("/data/plugin/projector/runs") == ["."]
    (trace,) = logdir.glob("plugins/profile/*/*.trace.json.gz")
    steps = [e["name"] for e in json.loads(gzip.decompress(trace.read_bytes()))["traceEvents"]]
    assert [f"ProfilerStep#{n}" for n in range(1, 21)] == [s for s in steps if s.startswith("Profiler")]
    graph = get("/data/plugin/graphs/graph?run=.").decode()
    assert 'name: "MLP/hidden/tanh"' in graph and 'op: "Sigmoid"' in graph
    layout = get("/data/plugin/custom_scalars/layout")
    assert layout["category"][0]["title"] == "training"
    boundary = get("/data/plugin/images/images?run=.&tag=boundary")
    assert [entry["step"] for entry in boundary][-1] == STEPS
