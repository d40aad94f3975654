"""The background writer's contracts in one process: barrier, bounded memory, threads, bad paths.

Process-level faults (exits, signals, fork/spawn, disk errors) are in tests/test_faults.py.
"""

from __future__ import annotations

import atexit
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import tblog
from tblog import read
from tblog.events import files as event_files_module


def _scalar_count(path: Path) -> int:
    return sum(len(e.summary.value) for e in read.events(path) if e.WhichOneof("what") == "summary")


def test_flush_is_a_barrier(tmp_path: Path) -> None:
    """After flush() returns, every event logged before it is readable from the file."""
    writer = tblog.SummaryWriter(tmp_path, max_queue=10**6, flush_secs=3600, max_pending_events=10**6)
    for round_ in range(3):
        for i in range(10_000):
            writer.add_scalar("x", i, round_ * 10_000 + i)
        writer.add_text("t", f"round {round_}", round_)
        writer.flush()
        assert _scalar_count(tmp_path) == (round_ + 1) * 10_001
    writer.close()


def test_one_atexit_hook_for_all_writers(tmp_path: Path) -> None:
    """Opening writers registers no atexit callback per writer."""
    before = atexit._ncallbacks()
    writers = [tblog.SummaryWriter(tmp_path / str(i)) for i in range(20)]
    assert atexit._ncallbacks() == before
    for writer in writers:
        writer.close()


def test_bad_log_dir_fails_in_the_constructor(tmp_path: Path) -> None:
    """A log_dir that cannot be a directory fails at once, naming the path."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(OSError, match="file"):
        tblog.SummaryWriter(blocker / "run")


@pytest.fixture
def slow_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injection: every write to an event file takes 5 ms longer."""
    write = event_files_module.EventFile.write
    write_parts = event_files_module.EventFile.write_parts

    def slow_write(self: Any, data: Any) -> None:
        time.sleep(0.005)
        write(self, data)

    def slow_write_parts(self: Any, parts: Any) -> None:
        time.sleep(0.005)
        write_parts(self, parts)

    monkeypatch.setattr(event_files_module.EventFile, "write", slow_write)
    monkeypatch.setattr(event_files_module.EventFile, "write_parts", slow_write_parts)


def test_large_events_are_bounded_by_bytes(tmp_path: Path, slow_disk: None) -> None:
    """Pending bytes of large events never exceed max_pending_bytes plus one event; large
    events (written without a copy) arrive whole and in order."""
    bound = 1 << 20
    writer = tblog.SummaryWriter(tmp_path, max_pending_bytes=bound)
    events = writer._events
    peak = 0
    text = "x" * 100_000
    for i in range(100):
        writer.add_text("big", text, i)
        peak = max(peak, events._pending_bytes)
    writer.close()
    assert peak <= bound + len(text) + 200
    texts = [
        (e.step, e.summary.value[0].tensor.string_val[0])
        for e in read.events(tmp_path, on_corrupt="raise")
        if e.WhichOneof("what") == "summary"
    ]
    assert texts == [(i, text.encode()) for i in range(100)]  # written whole and in order


def test_many_threads_lose_nothing(tmp_path: Path, event_accumulator: Any) -> None:
    """8 threads x 10,000 scalars into one writer: every point arrives."""
    writer = tblog.SummaryWriter(tmp_path, max_pending_events=4096)

    def produce(n: int) -> None:
        for step in range(10_000):
            writer.add_scalar(f"thread{n}", step * 0.5, step)

    threads = [threading.Thread(target=produce, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    acc = event_accumulator(tmp_path)
    for n in range(8):
        points = acc.Scalars(f"thread{n}")
        assert [p.step for p in points] == list(range(10_000))
        assert [p.value for p in points] == [s * 0.5 for s in range(10_000)]
