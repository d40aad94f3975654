"""The background writer's contracts: barrier, exit, errors, bounded memory, threads, kill, fork."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

import tblog
from tblog import read
from tblog.events import files as event_files_module


def _run_script(code: str, tmp_path: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with LOGDIR set; never hang the suite."""
    env = dict(os.environ, LOGDIR=os.fspath(tmp_path / "run"), PYTHONWARNINGS="ignore")
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


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


def test_exit_without_close_loses_nothing(tmp_path: Path, event_accumulator: Any) -> None:
    """A script that never calls close() has every event on disk after a normal exit."""
    result = _run_script(
        """
        import os, tblog
        writer = tblog.SummaryWriter(os.environ["LOGDIR"], flush_secs=3600, max_queue=10**6,
                                     max_pending_events=10**6)
        other = tblog.SummaryWriter(os.environ["LOGDIR"] + "/other")
        for i in range(50_000):
            writer.add_scalar("x", i, i)
        writer.log({"a": 1, "b": 2}, 1)
        writer.add_text("t", "bye", 1)
        other.add_scalar("y", 1.0, 1)
        """,
        tmp_path,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    acc = event_accumulator(tmp_path / "run")
    assert len(acc.Scalars("x")) == 50_000
    assert [p.step for p in acc.Scalars("x")] == list(range(50_000))
    assert acc.Tags()["tensors"] == ["t/text_summary"]
    assert len(event_accumulator(tmp_path / "run" / "other").Scalars("y")) == 1


def test_exception_in_training_loop_loses_nothing(tmp_path: Path, event_accumulator: Any) -> None:
    """An exception escaping the loop still leaves every logged event on disk."""
    result = _run_script(
        """
        import os, tblog
        writer = tblog.SummaryWriter(os.environ["LOGDIR"], flush_secs=3600)
        for i in range(20_000):
            writer.add_scalar("x", i, i)
        raise RuntimeError("diverged")
        """,
        tmp_path,
    )
    assert result.returncode == 1 and "diverged" in result.stderr
    assert "tblog" not in result.stderr
    assert len(event_accumulator(tmp_path / "run").Scalars("x")) == 20_000


def test_one_atexit_hook_for_all_writers(tmp_path: Path) -> None:
    """Opening writers registers no atexit callback per writer."""
    before = atexit._ncallbacks()
    writers = [tblog.SummaryWriter(tmp_path / str(i)) for i in range(20)]
    assert atexit._ncallbacks() == before
    for writer in writers:
        writer.close()


def test_background_error_surfaces_in_the_caller(tmp_path: Path, event_accumulator: Any) -> None:
    """Deleting the log directory under a writer raises, chained, on the next call; then the
    writer goes on in a new file."""
    run = tmp_path / "run"
    writer = tblog.SummaryWriter(run)
    writer.add_scalar("x", 1.0, 0)
    writer.flush()
    shutil.rmtree(run)
    writer.add_scalar("x", 2.0, 1)
    with pytest.raises(tblog.BackgroundWriteError, match=r"was deleted while tblog was writing") as info:
        writer.flush()
    assert isinstance(info.value.__cause__, FileNotFoundError)
    assert os.fspath(run) in str(info.value)
    writer.add_scalar("x", 3.0, 2)
    writer.close()
    assert [p.value for p in event_accumulator(run).Scalars("x")] == [3.0]


def test_disk_full_surfaces_and_exits_cleanly(tmp_path: Path) -> None:
    """With the file-size limit hit (disk full), the caller gets the OS error with the path,
    and the process still exits cleanly without hanging."""
    result = _run_script(
        """
        import os, resource, signal, tblog
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
        writer = tblog.SummaryWriter(os.environ["LOGDIR"])
        try:
            for i in range(100_000):
                writer.add_scalar("x", i, i)
            writer.flush()
        except tblog.BackgroundWriteError as exc:
            print("CAUGHT", type(exc.__cause__).__name__, exc.__cause__.errno, exc)
        """,
        tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("CAUGHT OSError 27"), result.stdout  # EFBIG
    assert os.fspath(tmp_path / "run") in result.stdout


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


def test_fast_producer_is_slowed_and_memory_stays_bounded(tmp_path: Path, slow_disk: None) -> None:
    """Against a slow disk the caller blocks: the queue never exceeds max_pending_events and
    traced memory stays far below what 200,000 queued scalars would need."""
    writer = tblog.SummaryWriter(tmp_path, max_queue=500, max_pending_events=2_000)
    queue = writer._events.queue
    peak_queue = 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal peak_queue
        while not stop.is_set():
            peak_queue = max(peak_queue, len(queue))
            time.sleep(0.0005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    tracemalloc.start()
    for i in range(200_000):
        writer.add_scalar("x", float(i), i)
    _, peak_bytes = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    stop.set()
    watcher.join()
    writer.close()
    assert peak_queue <= 2_000 + 1
    assert peak_bytes < 8 * 2**20, peak_bytes  # 200,000 queued scalars would take ~30 MiB
    assert _scalar_count(tmp_path) == 200_000


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


def test_sigkill_leaves_a_readable_file(tmp_path: Path, event_accumulator: Any) -> None:
    """A writer killed with SIGKILL mid-stream leaves a file TensorBoard reads, holding at least
    everything flushed before the kill."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent("""
            import os, sys, tblog
            writer = tblog.SummaryWriter(os.environ["LOGDIR"], flush_secs=0.05, max_queue=64)
            i = 0
            while True:
                writer.add_scalar("x", float(i), i)
                i += 1
                if i % 2000 == 0:
                    writer.flush()
                    print(i, flush=True)
            """),
        ],
        env=dict(os.environ, LOGDIR=os.fspath(tmp_path / "run")),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    flushed = 0
    try:
        while flushed < 40_000:
            line = proc.stdout.readline()
            assert line, "writer process ended early"
            flushed = int(line)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    points = event_accumulator(tmp_path / "run").Scalars("x")
    assert len(points) >= flushed
    assert [p.step for p in points] == list(range(len(points)))
    list(read.events(tmp_path / "run", on_corrupt="raise"))  # a truncated tail is no corruption


def test_forked_child_writes_its_own_file(tmp_path: Path, event_accumulator: Any) -> None:
    """After os.fork the child logs into its own file; the parent's pending events are written
    once, by the parent."""
    result = _run_script(
        """
        import os, tblog
        writer = tblog.SummaryWriter(os.environ["LOGDIR"], flush_secs=3600, max_queue=10**6,
                                     max_pending_events=10**6)
        for i in range(1000):
            writer.add_scalar("parent", i, i)
        pid = os.fork()
        if pid == 0:
            for i in range(10):
                writer.add_scalar("child", i, i)
            writer.close()
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert status == 0, status
        writer.add_scalar("parent", 1000, 1000)
        writer.close()
        """,
        tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    files = read.event_files(tmp_path / "run")
    assert len(files) == 2
    assert len({f.rsplit(".", 2)[-2] for f in files}) == 2  # two pids in the names
    acc = event_accumulator(tmp_path / "run")
    assert [p.step for p in acc.Scalars("parent")] == list(range(1001))
    assert len(acc.Scalars("child")) == 10


def test_sigterm_flushes_before_the_process_ends(tmp_path: Path, event_accumulator: Any) -> None:
    """SIGTERM (default handling) still writes everything logged: tblog flushes, then the
    process ends by SIGTERM as it would have."""
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent("""
            import os, sys, time, tblog
            writer = tblog.SummaryWriter(os.environ["LOGDIR"], flush_secs=3600, max_queue=10**6,
                                         max_pending_events=10**6)
            for i in range(30_000):
                writer.add_scalar("x", float(i), i)
            print("logged", flush=True)
            time.sleep(60)
            """)],
        env=dict(os.environ, LOGDIR=os.fspath(tmp_path / "run")),
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "logged"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == -signal.SIGTERM
    assert len(event_accumulator(tmp_path / "run").Scalars("x")) == 30_000


def test_sigterm_handler_of_the_user_is_kept(tmp_path: Path) -> None:
    """A SIGTERM handler installed before the writer is never replaced."""
    result = _run_script(
        """
        import os, signal, tblog
        def mine(signum, frame):
            pass
        signal.signal(signal.SIGTERM, mine)
        writer = tblog.SummaryWriter(os.environ["LOGDIR"])
        print(signal.getsignal(signal.SIGTERM) is mine)
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_keyboard_interrupt_loses_nothing(tmp_path: Path, event_accumulator: Any) -> None:
    """Ctrl-C (SIGINT → KeyboardInterrupt) in the training loop leaves every event on disk."""
    result = _run_script(
        """
        import os, signal, tblog
        writer = tblog.SummaryWriter(os.environ["LOGDIR"], flush_secs=3600)
        for i in range(20_000):
            writer.add_scalar("x", float(i), i)
            if i == 19_999:
                os.kill(os.getpid(), signal.SIGINT)
        """,
        tmp_path,
    )
    assert result.returncode != 0 and "KeyboardInterrupt" in result.stderr
    assert len(event_accumulator(tmp_path / "run").Scalars("x")) == 20_000


def _log_in_spawned_child(writer: tblog.SummaryWriter) -> None:
    writer.add_scalar("child", 1.0, 7)
    writer.close()


def test_writer_pickles_for_spawned_workers(tmp_path: Path, event_accumulator: Any) -> None:
    """A writer pickles as a new writer on the same log directory: a spawn-started worker
    logs through it into its own event file."""
    import multiprocessing
    import pickle

    writer = tblog.SummaryWriter(tmp_path, flush_secs=5.0, filename_suffix=".w")
    copy = pickle.loads(pickle.dumps(writer))
    assert (copy.get_logdir(), copy._options) == (writer.get_logdir(), writer._options)
    copy.close()
    worker = multiprocessing.get_context("spawn").Process(target=_log_in_spawned_child, args=(writer,))
    worker.start()
    worker.join(timeout=120)
    assert worker.exitcode == 0
    writer.add_scalar("parent", 2.0, 3)
    writer.close()
    acc = event_accumulator(tmp_path)
    assert [(p.step, p.value) for p in acc.Scalars("child")] == [(7, 1.0)]
    assert [(p.step, p.value) for p in acc.Scalars("parent")] == [(3, 2.0)]
    assert all(name.endswith(".w") for name in os.listdir(tmp_path))
