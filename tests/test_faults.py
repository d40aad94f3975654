"""The fault suite: every case runs in a real subprocess and TensorBoard counts what survived.

Each child is a small script (``_PRELUDE`` + the case) run with a hard timeout, so a hang
fails the test instead of blocking the suite. Children that are interrupted at an arbitrary
moment publish how many logging calls had returned in a shared 8-byte file (``Progress``),
which the test reads after the child has died: "0 lost" is then an exact count, not a guess.
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tblog
from tblog import read

_PRELUDE = '''
import gc, mmap, os, signal, struct, sys, threading, time
import tblog
from tblog.events import async_writer, files

LOGDIR = os.environ["LOGDIR"]


class Progress:
    """How many logging calls have returned, readable by the test after this process dies."""

    def __init__(self):
        with open(os.environ["PROGRESS"], "r+b") as f:
            self.map = mmap.mmap(f.fileno(), 8)

    def set(self, n):
        struct.pack_into("<q", self.map, 0, n)


def slow_disk(seconds):
    """Every write to an event file takes ``seconds`` longer (tests/test_async.py's slow_disk)."""
    write, write_parts = files.EventFile.write, files.EventFile.write_parts

    def slow_write(self, data):
        time.sleep(seconds)
        write(self, data)

    def slow_write_parts(self, parts):
        time.sleep(seconds)
        write_parts(self, parts)

    files.EventFile.write, files.EventFile.write_parts = slow_write, slow_write_parts


def drop_privileges():
    """As root, permissions do not apply: become ``nobody`` (the test prepared the dirs)."""
    if os.geteuid() == 0:
        os.setgid(65534)
        os.setuid(65534)
'''

_TIMEOUT = 120  # seconds any child may take; a hang fails the test


class Child:
    """One child process running ``_PRELUDE`` + ``body`` from a script file."""

    def __init__(self, tmp_path: Path, body: str, *, stdin: bool = False) -> None:
        self.logdir = tmp_path / "run"
        self.progress_file = tmp_path / "progress"
        self.progress_file.write_bytes(bytes(8))
        script = tmp_path / "child.py"
        script.write_text(_PRELUDE + body)
        env = dict(
            os.environ,
            LOGDIR=os.fspath(self.logdir),
            PROGRESS=os.fspath(self.progress_file),
            PYTHONWARNINGS="ignore",
        )
        self.proc = subprocess.Popen(
            [sys.executable, os.fspath(script)],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group: a hang kills its children too
        )

    def progress(self) -> int:
        """Logging calls the child had completed (still valid after it died)."""
        return int(struct.unpack("<q", self.progress_file.read_bytes())[0])

    def wait_for_progress(self, at_least: int) -> int:
        deadline = time.monotonic() + _TIMEOUT
        while (done := self.progress()) < at_least:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.finish()
                raise AssertionError(f"child stopped at {done} calls: {self.proc.stderr}")
            time.sleep(0.01)
        return done

    def readline(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"child ended early (exit {self.proc.wait(_TIMEOUT)})"
        return line.strip()

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def finish(self) -> tuple[int, str, str]:
        """(returncode, stdout, stderr); a child still running after the timeout is killed."""
        try:
            out, err = self.proc.communicate(timeout=_TIMEOUT)
        except subprocess.TimeoutExpired:
            # The whole group: a grandchild left alive would hold the pipes open forever.
            os.killpg(self.proc.pid, signal.SIGKILL)
            out, err = self.proc.communicate()
            raise AssertionError(f"child hung (killed after {_TIMEOUT} s); stderr:\n{err}") from None
        return self.proc.returncode, out, err


def run_child(tmp_path: Path, body: str) -> tuple[int, str, str]:
    """Run a case to its end: (returncode, stdout, stderr)."""
    return Child(tmp_path, body).finish()


def steps(acc: Any, tag: str) -> list[int]:
    return [point.step for point in acc.Scalars(tag)]


def steps_by_file(logdir: Path, tag: str) -> dict[str, list[int]]:
    """Steps of ``tag`` in each event file (keyed by the pid in the name), in file order."""
    found: dict[str, list[int]] = {}
    for name in read.event_files(logdir):
        match = re.match(r"events\.out\.tfevents\.\d+\..*\.(\d+)\.tblog\d+", os.path.basename(name))
        assert match, name
        pid = match.group(1)
        found.setdefault(pid, []).extend(
            e.step
            for e in read.events(name, on_corrupt="raise")
            if e.WhichOneof("what") == "summary" and e.summary.value[0].tag == tag
        )
    return found


def no_traceback(stderr: str) -> bool:
    return "Traceback" not in stderr and "Exception ignored" not in stderr


# ----- signals and exits ----------------------------------------------------------------------


def test_exit_without_close_loses_nothing(tmp_path: Path, event_accumulator: Any) -> None:
    """A script that never calls close() has every event of every writer on disk after exit."""
    rc, _, err = run_child(
        tmp_path,
        """
writer = tblog.SummaryWriter(LOGDIR, flush_secs=3600, max_queue=10**6, max_pending_events=10**6)
other = tblog.SummaryWriter(LOGDIR + "/other")
for i in range(50_000):
    writer.add_scalar("x", i, i)
writer.log({"a": 1, "b": 2}, 1)
writer.add_text("t", "bye", 1)
writer.add_scalars("pair", {"u": 1.0, "v": 2.0}, 3)
other.add_scalar("y", 1.0, 1)
""",
    )
    assert (rc, err) == (0, "")
    acc = event_accumulator(tmp_path / "run")
    assert steps(acc, "x") == list(range(50_000))
    assert acc.Tags()["tensors"] == ["t/text_summary"]
    assert steps(event_accumulator(tmp_path / "run" / "pair_u"), "pair") == [3]
    assert steps(event_accumulator(tmp_path / "run" / "other"), "y") == [1]


def test_exception_escaping_the_loop_loses_nothing(tmp_path: Path, event_accumulator: Any) -> None:
    """An exception escaping the training loop leaves every logged event on disk, and only the
    user's traceback on stderr."""
    rc, _, err = run_child(
        tmp_path,
        """
writer = tblog.SummaryWriter(LOGDIR, flush_secs=3600)
for i in range(20_000):
    writer.add_scalar("x", i, i)
    if i % 100 == 0:
        writer.add_text("t", "x" * 1000, i)
raise RuntimeError("diverged")
""",
    )
    assert rc == 1 and "RuntimeError: diverged" in err and "tblog" not in err, err
    acc = event_accumulator(tmp_path / "run")
    assert steps(acc, "x") == list(range(20_000))
    assert [e.step for e in acc.Tensors("t/text_summary")] == list(range(0, 20_000, 100))


# The loop of the interrupted children: a text every 10th step (the locked queue path), a
# scalar every step (the lock-free path), then the count of completed steps.
_LOG_FOREVER = """
progress = Progress()
i = 0
while True:
    if i % 10 == 0:
        writer.add_text("t", "some text", i)
    writer.add_scalar("x", i, i)
    i += 1
    progress.set(i)
"""


def _check_interrupted(acc: Any, before: int, completed: int) -> None:
    """Every step completed before the signal (``before``) is on disk, exactly once and in
    order; at most the steps completed before the process died (+1 interrupted mid-call)."""
    on_disk = steps(acc, "x")
    assert before <= len(on_disk) <= completed + 1, (before, len(on_disk), completed)
    assert on_disk == list(range(len(on_disk)))
    texts = [e.step for e in acc.Tensors("t/text_summary")]
    assert texts == list(range(0, len(texts) * 10, 10))
    assert -(-before // 10) <= len(texts) <= -(-(completed + 1) // 10)


def test_sigterm_while_logging_loses_nothing(tmp_path: Path, event_accumulator: Any) -> None:
    """SIGTERM sent while the child logs: everything logged before it is written, then the
    process ends by SIGTERM as it would have without tblog."""
    child = Child(tmp_path, "writer = tblog.SummaryWriter(LOGDIR, flush_secs=3600)\n" + _LOG_FOREVER)
    child.wait_for_progress(30_000)
    before = child.progress()  # calls completed before the signal
    child.proc.send_signal(signal.SIGTERM)
    rc, _, err = child.finish()
    assert rc == -signal.SIGTERM and err == "", err
    _check_interrupted(event_accumulator(child.logdir), before, child.progress())


def test_sigterm_inside_the_queue_lock_never_deadlocks(tmp_path: Path, event_accumulator: Any) -> None:
    """SIGTERM landing while the main thread holds the writer's queue lock (8 children logging
    only text, which takes that lock on every call): each still flushes and ends by SIGTERM."""
    body = """
writer = tblog.SummaryWriter(LOGDIR, flush_secs=3600, max_queue=50)
progress = Progress()
i = 0
while True:
    writer.add_text("t", "some text", i)
    i += 1
    progress.set(i)
"""
    children = [Child(tmp_path / str(n), body) for n in range(8) if (tmp_path / str(n)).mkdir() is None]
    for child in children:
        child.wait_for_progress(2000 + 100 * len(children))
    before = []
    for child in children:
        before.append(child.progress())
        child.proc.send_signal(signal.SIGTERM)
    for child, logged in zip(children, before, strict=True):
        rc, _, err = child.finish()
        assert rc == -signal.SIGTERM and err == "", err
        texts = [e.step for e in event_accumulator(child.logdir).Tensors("t/text_summary")]
        assert texts == list(range(len(texts))) and logged <= len(texts) <= child.progress() + 1


@pytest.mark.parametrize("installed", ["before", "after"])
def test_sigterm_handler_of_the_user_is_kept_and_called(
    tmp_path: Path, event_accumulator: Any, installed: str
) -> None:
    """A SIGTERM handler the user installed (before or after creating the writer) stays in
    place and is called; when it then exits the process, nothing logged is lost."""
    child = Child(
        tmp_path,
        f"""
def mine(signum, frame):
    print("handled", signum, flush=True)
    sys.exit(3)

if "{installed}" == "before":
    signal.signal(signal.SIGTERM, mine)
writer = tblog.SummaryWriter(LOGDIR, flush_secs=3600)
if "{installed}" == "after":
    signal.signal(signal.SIGTERM, mine)
assert signal.getsignal(signal.SIGTERM) is mine
"""
        + _LOG_FOREVER,
    )
    child.wait_for_progress(30_000)
    child.proc.send_signal(signal.SIGTERM)
    rc, out, err = child.finish()
    assert (rc, out, err) == (3, f"handled {int(signal.SIGTERM)}\n", "")
    completed = child.progress()  # the handler stopped the loop: exact
    _check_interrupted(event_accumulator(child.logdir), completed, completed)


def test_sigint_while_logging_loses_nothing(tmp_path: Path, event_accumulator: Any) -> None:
    """A real SIGINT (Ctrl-C → KeyboardInterrupt) while the child logs: everything logged is
    written and only Python's own KeyboardInterrupt report is printed."""
    child = Child(tmp_path, "writer = tblog.SummaryWriter(LOGDIR, flush_secs=3600)\n" + _LOG_FOREVER)
    child.wait_for_progress(30_000)
    child.proc.send_signal(signal.SIGINT)
    rc, _, err = child.finish()
    assert rc == -signal.SIGINT and err.rstrip().endswith("KeyboardInterrupt"), err
    assert "tblog:" not in err, err
    completed = child.progress()  # KeyboardInterrupt stopped the loop: exact
    _check_interrupted(event_accumulator(child.logdir), completed, completed)


def test_interpreter_shutdown_with_open_writers(tmp_path: Path, event_accumulator: Any) -> None:
    """At exit, writers in a module global, in a reference cycle and in a daemon thread that is
    still logging (into a full queue, on a slow disk) are all flushed: no hang, no traceback,
    nothing logged before exit lost."""
    rc, out, err = run_child(
        tmp_path,
        """
slow_disk(0.002)
GLOBAL = tblog.SummaryWriter(LOGDIR + "/global", flush_secs=3600)
for i in range(1000):
    GLOBAL.add_scalar("x", i, i)


class Holder:
    def __init__(self):
        self.me = self
        self.writer = tblog.SummaryWriter(LOGDIR + "/cycle", flush_secs=3600)


holder = Holder()
for i in range(1000):
    holder.writer.add_scalar("x", i, i)
    holder.writer.add_text("t", "text", i)
del holder
gc.collect()

progress = Progress()


def daemon():
    writer = tblog.SummaryWriter(LOGDIR + "/daemon", flush_secs=3600, max_queue=100, max_pending_events=200)
    i = 0
    while True:  # still logging while the interpreter shuts down
        writer.add_scalar("x", i, i)
        writer.add_text("t", "text", i)
        i += 1
        progress.set(i)


threading.Thread(target=daemon, daemon=True).start()
while progress.map[:8] == bytes(8) or struct.unpack("<q", progress.map[:8])[0] < 2000:
    time.sleep(0.01)
print(struct.unpack("<q", progress.map[:8])[0], flush=True)
""",
    )
    assert rc == 0 and err == "", err
    assert steps(event_accumulator(tmp_path / "run" / "global"), "x") == list(range(1000))
    assert steps(event_accumulator(tmp_path / "run" / "cycle"), "x") == list(range(1000))
    daemon_steps = steps(event_accumulator(tmp_path / "run" / "daemon"), "x")
    assert len(daemon_steps) >= int(out) and daemon_steps == list(range(len(daemon_steps)))


def test_sigkill_loses_at_most_one_flush_interval(tmp_path: Path, event_accumulator: Any) -> None:
    """Events older than one flush interval are on disk without any flush() call: a SIGKILL
    after that loses none of them, and the file reads back whole."""
    child = Child(
        tmp_path,
        """
writer = tblog.SummaryWriter(LOGDIR, flush_secs=0.2, max_queue=10**6, max_pending_events=10**6)
for i in range(10_000):
    writer.add_scalar("x", i, i)
print("logged", flush=True)
time.sleep(3600)
""",
    )
    assert child.readline() == "logged"
    deadline = time.monotonic() + _TIMEOUT  # the flush interval elapses (bounded wait, not a timing)
    while len(steps_by_file(child.logdir, "x").get(str(child.proc.pid), [])) < 10_000:
        assert time.monotonic() < deadline, "the periodic flush never wrote the events"
        time.sleep(0.05)
    child.proc.send_signal(signal.SIGKILL)
    assert child.finish()[0] == -signal.SIGKILL
    assert steps(event_accumulator(child.logdir), "x") == list(range(10_000))


@pytest.mark.slow
def test_sigkill_mid_write_leaves_a_readable_file(tmp_path: Path, event_accumulator: Any) -> None:
    """A SIGKILL while large events stream out leaves a file TensorBoard reads (a cut last
    record is skipped, never reported as corrupt), holding a gap-free prefix of what was logged."""
    child = Child(
        tmp_path,
        """
writer = tblog.SummaryWriter(LOGDIR, flush_secs=0.05, max_queue=16)
progress = Progress()
text = "x" * 300_000
i = 0
while True:
    writer.add_scalar("x", i, i)
    writer.add_text("t", text, i)
    i += 1
    progress.set(i)
""",
    )
    child.wait_for_progress(300)
    child.proc.send_signal(signal.SIGKILL)
    assert child.finish()[0] == -signal.SIGKILL
    logged = child.progress()
    list(read.events(child.logdir, on_corrupt="raise"))  # a truncated tail is no corruption
    on_disk = steps(event_accumulator(child.logdir), "x")
    assert 0 < len(on_disk) <= logged + 1 and on_disk == list(range(len(on_disk)))
    print(f"SIGKILL mid-write: {logged} logged, {len(on_disk)} on disk")


# ----- processes ------------------------------------------------------------------------------


def test_os_fork_under_load(tmp_path: Path) -> None:
    """Forking 20 times while two threads log through the writer (its thread busy writing, the
    queue lock taken often): no child deadlocks, each child writes its own complete file, and
    the parent's events are written exactly once, by the parent."""
    rc, out, err = run_child(
        tmp_path,
        """
writer = tblog.SummaryWriter(LOGDIR, flush_secs=3600, max_queue=64)
for i in range(1000):
    writer.add_scalar("parent", i, i)  # pending at the first fork
stop = threading.Event()
counts = [0, 0]


def produce(n):
    while not stop.is_set():
        writer.add_text(f"text{n}", "x" * 100, counts[n])
        counts[n] += 1


threads = [threading.Thread(target=produce, args=(n,)) for n in range(2)]
for thread in threads:
    thread.start()
children = []
for k in range(20):
    time.sleep(0.02)
    pid = os.fork()
    if pid == 0:
        for i in range(10):
            writer.add_scalar("child", i, i)
        writer.close()
        os._exit(0)
    children.append(pid)
for pid in children:
    _, status = os.waitpid(pid, 0)
    assert status == 0, status
stop.set()
for thread in threads:
    thread.join()
writer.add_scalar("parent", 1000, 1000)
print(*counts)
""",
    )
    assert rc == 0 and err == "", err
    by_file = steps_by_file(tmp_path / "run", "child")
    parents = steps_by_file(tmp_path / "run", "parent")
    writers_of_parent = [pid for pid, found in parents.items() if found]
    assert len(writers_of_parent) == 1
    parent = writers_of_parent[0]
    assert parents[parent] == list(range(1001))  # once, in order, never in a child's file
    children = {pid: found for pid, found in by_file.items() if pid != parent}
    assert len(children) == 20 and all(found == list(range(10)) for found in children.values())
    text_counts = [int(n) for n in out.split()]
    for n, count in enumerate(text_counts):
        assert steps_by_file(tmp_path / "run", f"text{n}/text_summary")[parent] == list(range(count))


def test_multiprocessing_fork_context(tmp_path: Path) -> None:
    """A multiprocessing child started with 'fork' logs through the inherited writer without
    closing it: its own file holds all its events; the parent's pending ones are written once."""
    rc, _, err = run_child(
        tmp_path,
        """
import multiprocessing


def work(writer, n):
    for i in range(100):
        writer.add_scalar("child", n * 1000 + i, i)


if __name__ == "__main__":
    writer = tblog.SummaryWriter(LOGDIR, flush_secs=3600, max_queue=10**6, max_pending_events=10**6)
    for i in range(1000):
        writer.add_scalar("parent", i, i)
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=work, args=(writer, n)) for n in range(2)]
    for worker in workers:
        worker.start()
    with ctx.Pool(2) as pool:
        pool.starmap(work, [(writer, 2), (writer, 3)])
    for worker in workers:
        worker.join()
        assert worker.exitcode == 0
""",
    )
    assert rc == 0 and err == "", err
    children = steps_by_file(tmp_path / "run", "child")
    parents = steps_by_file(tmp_path / "run", "parent")
    (parent,) = [pid for pid, found in parents.items() if found]
    assert parents[parent] == list(range(1000))
    in_children = Counter(s for pid, found in children.items() if pid != parent for s in found)
    assert in_children == Counter(list(range(100)) * 4)  # 2 Processes + 2 Pool tasks, no duplicates
    assert all(found == [] for pid, found in parents.items() if pid != parent)


def test_pool_terminate_never_hangs_on_tblog_signal_handling(tmp_path: Path) -> None:
    """``with Pool() as pool`` ends its workers with SIGTERM (``terminate()``) while they wait
    for tasks: 40 pools in a row, workers with and without writers, never hang, and every
    event a worker logged is written once. (A Python SIGTERM handler inherited by the workers
    used to miss a signal landing just before the worker blocked on the task queue.)"""
    rc, _, err = run_child(
        tmp_path,
        """
import multiprocessing


def work(writer, n):
    for i in range(20):
        writer.add_scalar("child", n * 1000 + i, i)


if __name__ == "__main__":
    writer = tblog.SummaryWriter(LOGDIR, flush_secs=3600)
    writer.add_scalar("parent", 0, 0)
    ctx = multiprocessing.get_context("fork")
    for round in range(40):
        with ctx.Pool(2) as pool:
            pool.starmap(work, [(writer, round)])
""",
    )
    assert rc == 0 and no_traceback(err), err
    in_children = Counter(s for found in steps_by_file(tmp_path / "run", "child").values() for s in found)
    assert in_children == Counter(list(range(20)) * 40)


def test_multiprocessing_spawn_context(tmp_path: Path, event_accumulator: Any) -> None:
    """With 'spawn', a writer pickled to the child and a writer created in the child each
    write the child's own file; nothing needs close()."""
    rc, _, err = run_child(
        tmp_path,
        """
import multiprocessing


def work(writer):
    for i in range(100):
        writer.add_scalar("pickled", i, i)
    mine = tblog.SummaryWriter(os.path.join(LOGDIR, "own"))
    for i in range(100):
        mine.add_scalar("own", i, i)


if __name__ == "__main__":
    writer = tblog.SummaryWriter(LOGDIR, flush_secs=3600, filename_suffix=".w")
    for i in range(1000):
        writer.add_scalar("parent", i, i)
    worker = multiprocessing.get_context("spawn").Process(target=work, args=(writer,))
    worker.start()
    worker.join()
    assert worker.exitcode == 0
""",
    )
    assert rc == 0 and err == "", err
    pickled = steps_by_file(tmp_path / "run", "pickled")
    parents = steps_by_file(tmp_path / "run", "parent")
    assert len(pickled) == 2 and sorted(map(len, pickled.values())) == [0, 100]
    assert sorted(map(len, parents.values())) == [0, 1000]
    assert all(name.endswith(".w") for name in os.listdir(tmp_path / "run") if name.startswith("events"))
    assert steps(event_accumulator(tmp_path / "run" / "own"), "own") == list(range(100))


def test_writer_pickles_as_a_new_writer_on_the_same_dir(tmp_path: Path) -> None:
    """Unpickling gives a writer on the same log directory with the same options, writing its
    own file; what the original has pending stays with the original."""
    writer = tblog.SummaryWriter(tmp_path, flush_secs=5.0, filename_suffix=".w")
    writer.add_scalar("x", 1.0, 0)
    copy = pickle.loads(pickle.dumps(writer))
    assert (copy.get_logdir(), copy._options) == (writer.get_logdir(), writer._options)
    copy.add_scalar("y", 2.0, 0)
    copy.close()
    writer.close()
    files = read.event_files(tmp_path)
    assert len(files) == 2 and all(name.endswith(".w") for name in files)
    tags = [
        [value.tag for e in read.events(name) if e.HasField("summary") for value in e.summary.value]
        for name in files
    ]
    assert sorted(tags) == [["x"], ["y"]]


@pytest.mark.framework
@pytest.mark.slow
@pytest.mark.parametrize("start_method", ["fork", "spawn", "forkserver"])
def test_dataloader_workers_log(tmp_path: Path, start_method: str) -> None:
    """torch DataLoader workers (num_workers=2) whose Dataset logs through the writer it holds
    (inherited with fork, pickled with spawn/forkserver): each worker writes its own file with
    every item it loaded exactly once, and the parent's pending events are written once."""
    rc, _, err = run_child(
        tmp_path,
        f"""
import torch


class Logged(torch.utils.data.Dataset):
    def __init__(self, writer):
        self.writer = writer

    def __len__(self):
        return 64

    def __getitem__(self, index):
        self.writer.add_scalar("item", float(index), index)
        return torch.tensor(float(index))


if __name__ == "__main__":
    writer = tblog.SummaryWriter(LOGDIR, flush_secs=3600, max_queue=10**6, max_pending_events=10**6)
    for i in range(1000):
        writer.add_scalar("parent", i, i)
    loader = torch.utils.data.DataLoader(
        Logged(writer), batch_size=4, num_workers=2, multiprocessing_context="{start_method}"
    )
    for epoch in range(2):
        for batch in loader:
            writer.add_scalar("batch", float(batch.sum()), epoch)
""",
    )
    assert rc == 0 and err == "", err
    items = steps_by_file(tmp_path / "run", "item")
    parents = steps_by_file(tmp_path / "run", "parent")
    (parent,) = [pid for pid, found in parents.items() if found]
    assert parents[parent] == list(range(1000)) and items[parent] == []
    workers = {pid: found for pid, found in items.items() if pid != parent}
    assert len(workers) == 4  # 2 workers per epoch, each its own file
    assert Counter(s for found in workers.values() for s in found) == Counter(list(range(64)) * 2)
    assert len(steps_by_file(tmp_path / "run", "batch")[parent]) == 32


# ----- faults in the disk ---------------------------------------------------------------------


@pytest.mark.slow
def test_disk_full_raises_in_the_caller(tmp_path: Path) -> None:
    """With the file-size limit hit (EFBIG, as on a full disk) the caller gets an error naming
    the file and the cause; logging on stays bounded in memory and the process exits cleanly."""
    rc, out, err = run_child(
        tmp_path,
        """
import resource, tracemalloc
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
writer = tblog.SummaryWriter(LOGDIR, max_pending_events=4096)
tracemalloc.start()
errors, first = 0, None
for i in range(300_000):
    try:
        writer.add_scalar("x", i, i)
    except tblog.BackgroundWriteError as exc:
        errors, first = errors + 1, first or exc
try:
    writer.flush()
except tblog.BackgroundWriteError as exc:
    errors, first = errors + 1, first or exc
peak = tracemalloc.get_traced_memory()[1]
print(errors, peak, type(first.__cause__).__name__, first.__cause__.errno)
print(first)
writer.add_scalar("x", 0, 0)  # the error stays unreported: at exit it is printed, not raised
""",
    )
    assert rc == 0, err
    counts, message = out.splitlines()[:2]
    n_errors, peak, cause, errno = counts.split()
    print(f"disk full: {n_errors} errors raised, traced peak {int(peak) / 2**20:.1f} MiB")
    assert int(n_errors) >= 1 and (cause, int(errno)) == ("OSError", 27)  # EFBIG
    assert int(peak) < 16 << 20, peak  # 300,000 queued scalars would take ~45 MiB
    assert os.fspath(tmp_path / "run" / "events.out.tfevents.") in message
    assert "File too large" in message
    assert no_traceback(err), err


def test_directory_removed_while_writing(tmp_path: Path, event_accumulator: Any) -> None:
    """The log directory deleted (by another process) while the child logs: the child's next
    call raises an error naming the file and the cause; the writer then goes on in a new file."""
    child = Child(
        tmp_path,
        """
writer = tblog.SummaryWriter(LOGDIR, flush_secs=0.05, max_queue=100)
progress = Progress()
i = 0
try:
    while True:
        writer.add_scalar("x", i, i)
        i += 1
        progress.set(i)
except tblog.BackgroundWriteError as exc:
    print(type(exc.__cause__).__name__, exc, flush=True)
for j in range(10):
    writer.add_scalar("after", j, j)
writer.close()
""",
    )
    child.wait_for_progress(1000)
    shutil.rmtree(child.logdir)
    rc, out, err = child.finish()
    assert rc == 0 and err == "", err
    assert out.startswith("FileNotFoundError") and "was deleted while tblog was writing" in out
    assert os.fspath(child.logdir / "events.out.tfevents.") in out
    assert steps(event_accumulator(child.logdir), "after") == list(range(10))


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory that user ``nobody`` can reach (pytest's own tmp dirs are root-only)."""
    path = Path(tempfile.mkdtemp(prefix="tblog-faults-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _prepare_for_nobody(path: Path, mode: int) -> None:
    path.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)
    path.chmod(mode)


def test_read_only_directory(shared_dir: Path) -> None:
    """Creating a writer in a directory the process may not write raises at once, naming the
    path and the cause; the process exits cleanly."""
    _prepare_for_nobody(shared_dir / "run", 0o555)
    rc, out, err = run_child(
        shared_dir,
        """
drop_privileges()
try:
    tblog.SummaryWriter(LOGDIR)
except PermissionError as exc:
    print(exc)
""",
    )
    assert rc == 0 and err == "", err
    assert "Permission denied" in out and os.fspath(shared_dir / "run") in out


def test_directory_becomes_read_only_mid_run(shared_dir: Path, event_accumulator: Any) -> None:
    """The log directory turns read-only while the child logs: the open event file goes on
    (POSIX keeps it writable) and loses nothing; a new file then needed (an add_scalars sub-run)
    fails with an error naming its path and the cause; the process exits cleanly."""
    _prepare_for_nobody(shared_dir / "run", 0o755)
    child = Child(
        shared_dir,
        """
warm = tblog.SummaryWriter(os.path.join(os.environ["HOME_FOR_WARMUP"]))
warm.add_scalars("w", {"a": 1}, 0)
warm.close()  # every module imported while still allowed to read them
drop_privileges()
writer = tblog.SummaryWriter(LOGDIR, flush_secs=3600)
for i in range(1000):
    writer.add_scalar("x", i, i)
print("ready", flush=True)
sys.stdin.readline()
for i in range(1000, 2000):
    writer.add_scalar("x", i, i)
writer.add_scalars("pair", {"u": 1.0}, 0)
try:
    writer.flush()
except tblog.BackgroundWriteError as exc:
    print(type(exc.__cause__).__name__, exc, flush=True)
""".replace('os.environ["HOME_FOR_WARMUP"]', repr(os.fspath(shared_dir / "warm"))),
        stdin=True,
    )
    assert child.readline() == "ready"
    (shared_dir / "run").chmod(0o555)
    child.send("go")
    rc, out, err = child.finish()
    assert rc == 0 and no_traceback(err), err
    assert out.startswith("PermissionError") and "Permission denied" in out, out
    assert os.fspath(shared_dir / "run" / "pair_u") in out
    assert steps(event_accumulator(shared_dir / "run"), "x") == list(range(2000))


@pytest.mark.slow
def test_slow_disk_bounds_memory_and_loses_nothing(tmp_path: Path, event_accumulator: Any) -> None:
    """Against a slow disk the caller is slowed, not buffered: the queue stays within
    max_pending_events, traced memory stays small, and every event arrives (no close())."""
    rc, out, err = run_child(
        tmp_path,
        """
import tracemalloc
slow_disk(0.005)
writer = tblog.SummaryWriter(LOGDIR, max_queue=500, max_pending_events=2000)
tracemalloc.start()
peak_queue = 0
for i in range(200_000):
    writer.add_scalar("x", i, i)
    peak_queue = max(peak_queue, len(writer._events.queue))
print(peak_queue, tracemalloc.get_traced_memory()[1])
""",
    )
    assert rc == 0 and err == "", err
    peak_queue, peak_bytes = map(int, out.split())
    print(f"slow disk: peak queue {peak_queue}, traced peak {peak_bytes / 2**20:.1f} MiB")
    assert peak_queue <= 2000 and peak_bytes < 8 << 20, (peak_queue, peak_bytes)
    assert steps(event_accumulator(tmp_path / "run"), "x") == list(range(200_000))


def test_stuck_disk_does_not_hang_the_exit(tmp_path: Path) -> None:
    """A disk that never completes a write (a hung network mount): the interpreter still exits,
    after the at-exit time limit, with a message naming the log directory, and no traceback."""
    rc, _, err = run_child(
        tmp_path,
        """
async_writer._EXIT_TIMEOUT_SECS = 1.0
writer = tblog.SummaryWriter(LOGDIR)
slow_disk(10**6)
for i in range(10):
    writer.add_scalar("x", i, i)
""",
    )
    assert rc == 0 and no_traceback(err), err
    assert f"tblog: at exit, tblog: the writer of {tmp_path / 'run'} did not finish within 1.0 s" in err
