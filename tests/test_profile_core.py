"""tblog.profile: profile run directories, and the framework-free StepProfiler's Chrome trace."""

from __future__ import annotations

import gzip
import json
import os
import time
from pathlib import Path

import pytest

import tblog
from tblog.profile import StepProfiler, profile_run_dir


def test_profile_run_dirs_are_new_and_unique(tmp_path: Path) -> None:
    """Each call makes a fresh plugins/profile/<timestamp>[_n] directory, even in one second."""
    dirs = [profile_run_dir(str(tmp_path)) for _ in range(3)]
    assert len(set(dirs)) == 3
    for directory in dirs:
        assert Path(directory).parent == tmp_path / "plugins" / "profile"
        assert os.listdir(directory) == []


def test_step_profiler_writes_a_chrome_trace_with_step_markers(tmp_path: Path) -> None:
    """A profiled loop leaves a gzip Chrome trace with one ProfilerStep#N per step, spans
    inside their steps, and durations that cover the work done."""
    with tblog.SummaryWriter(tmp_path) as writer, StepProfiler(writer, name="numpy") as prof:
        for step in range(3):
            with prof.step(step), prof.span("forward"):
                time.sleep(0.002)
    assert prof.path is not None and prof.path.endswith(".trace.json.gz")
    with gzip.open(prof.path, "rt") as trace_file:
        trace = json.load(trace_file)
    events = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    steps = [e for e in events if e["name"].startswith("ProfilerStep#")]
    assert [e["name"] for e in steps] == ["ProfilerStep#0", "ProfilerStep#1", "ProfilerStep#2"]
    forwards = [e for e in events if e["name"] == "forward"]
    assert len(forwards) == 3
    for step, forward in zip(steps, forwards, strict=True):
        assert step["ts"] <= forward["ts"] and forward["ts"] + forward["dur"] <= step["ts"] + step["dur"]
        assert forward["dur"] >= 2000  # microseconds
    assert trace["traceEvents"][0]["args"]["name"] == "numpy"


def test_step_profiler_writes_even_after_an_exception(tmp_path: Path) -> None:
    """An exception in the loop still leaves the steps recorded so far on disk."""
    with tblog.SummaryWriter(tmp_path) as writer, pytest.raises(RuntimeError), StepProfiler(writer) as prof:
        with prof.step(0):
            pass
        raise RuntimeError("diverged")
    assert prof.path is not None and os.path.getsize(prof.path) > 0


def test_step_profiler_bad_arguments(tmp_path: Path) -> None:
    """A non-writer or an empty name is refused with a clear error."""
    with pytest.raises(TypeError, match="tblog.SummaryWriter"):
        StepProfiler("runs/x")
    with tblog.SummaryWriter(tmp_path) as writer, pytest.raises(ValueError, match="name"):
        StepProfiler(writer, name="")


def test_next_step_marks_steps_like_torch_profiler(tmp_path: Path) -> None:
    """next_step() once per iteration yields consecutive, non-overlapping ProfilerStep spans."""
    with tblog.SummaryWriter(tmp_path) as writer:
        prof = StepProfiler(writer)
        for _ in range(4):
            prof.next_step()
            time.sleep(0.001)
        path = prof.write()
    with gzip.open(path, "rt") as trace_file:
        steps = [e for e in json.load(trace_file)["traceEvents"] if e["name"].startswith("ProfilerStep")]
    assert [e["args"]["step"] for e in steps] == [0, 1, 2, 3]
    for earlier, later in zip(steps, steps[1:], strict=False):
        assert earlier["ts"] + earlier["dur"] <= later["ts"] + 1e-3
        assert earlier["dur"] >= 1000
