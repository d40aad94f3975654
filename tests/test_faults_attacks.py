"""The fault suite, continued: other writers beside tblog, racing threads, full disks, signals.

Each case runs in a real subprocess (tests/test_faults.py's ``Child``, with its hard timeout)
and TensorBoard's own EventAccumulator counts what came back.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from test_faults import _TIMEOUT, Child, no_traceback, run_child, steps

# ----- other writers in the same run directory -------------------------------------------------


@pytest.mark.framework
@pytest.mark.parametrize(
    "order",
    [("tblog", "torch", "tensorboardX"), ("torch", "tensorboardX", "tblog")],
    ids=["tblog-first", "tblog-last"],
)
def test_other_writers_in_the_same_directory_and_second(
    tmp_path: Path, event_accumulator: Any, order: tuple[str, ...]
) -> None:
    """torch's, tensorboardX's and tblog's writers opened in one run directory within the same
    second, in either order: no writer truncates another's file, none fails to open, and every
    event of every writer is read back (torch names its files like tblog used to, and opens
    them with truncation)."""
    pytest.importorskip("torch")
    pytest.importorskip("tensorboardX")
    rc, out, err = run_child(
        tmp_path,
        f"""
import torch.utils.tensorboard, tensorboardX
makers = {{
    "tblog": tblog.SummaryWriter,
    "torch": torch.utils.tensorboard.SummaryWriter,
    "tensorboardX": tensorboardX.SummaryWriter,
}}
while time.time() % 1 > 0.5:  # open all three in one second
    time.sleep(0.01)
second = int(time.time())
writers = [(name, makers[name](LOGDIR)) for name in {list(order)!r}]
print(int(time.time()) == second)
for i in range(500):
    for name, writer in writers:
        writer.add_scalar(name, i, i)
for name, writer in writers:
    writer.close()
""",
    )
    assert rc == 0 and no_traceback(err), err
    assert out.split() == ["True"]  # the three were opened in the same second
    acc = event_accumulator(tmp_path / "run")
    for name in order:
        assert steps(acc, name) == list(range(500)), name
    assert len([n for n in os.listdir(tmp_path / "run") if "tfevents" in n]) == 3


def test_file_names_are_never_taken_twice(tmp_path: Path, event_accumulator: Any) -> None:
    """A file already holding the name tblog would pick next (left by an earlier process with
    the same pid, or planted) is neither opened nor truncated: tblog takes the next name."""
    rc, out, err = run_child(
        tmp_path,
        """
os.makedirs(LOGDIR)
now = time.time()
taken = [files.event_file_name(now) for _ in range(5)]
files._file_counter = __import__("itertools").count()  # tblog's next names are those
for name in taken:
    with open(os.path.join(LOGDIR, name), "wb") as f:
        f.write(b"not tblog's")
writer = tblog.SummaryWriter(LOGDIR)
writer.add_scalar("x", 1.0, 1)
writer.close()
print(all(open(os.path.join(LOGDIR, n), "rb").read() == b"not tblog's" for n in taken))
""",
    )
    assert (rc, out.split(), err) == (0, ["True"], "")
    assert steps(event_accumulator(tmp_path / "run"), "x") == [1]


# ----- threads racing close() -----------------------------------------------------------------

_CLOSE_RACE = """
THREADS, CALLS = {threads}, {calls}
writer = tblog.SummaryWriter(LOGDIR, max_queue=50, max_pending_events=200)
returned = [0] * THREADS
raised = []


def log(k):
    for i in range(CALLS):
        try:
            writer.add_scalar(f"t{{k}}", i, i)
        except Exception as exc:  # allowed: a clear error instead of a lost call
            raised.append(f"{{type(exc).__name__}}: {{exc}}")
            continue
        returned[k] += 1


def closer():
    while any(t.is_alive() for t in threads):
        writer.close()
        time.sleep(0.001)


threads = [threading.Thread(target=log, args=(k,)) for k in range(THREADS)]
for t in threads:
    t.start()
closing = threading.Thread(target=closer)
closing.start()
for t in threads:
    t.join()
closing.join()
writer.close()
print(json.dumps({{"returned": returned, "raised": raised[:5], "n_raised": len(raised)}}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("threads", [8, 32])
def test_close_from_another_thread_while_threads_log(
    tmp_path: Path, event_accumulator: Any, threads: int
) -> None:
    """Threads log while another thread calls close() over and over: every call that returned
    is in the files exactly once (written before the close, or in the file the next call
    reopens); nothing hangs, and no EBADF or 'cannot join thread' is printed."""
    calls = 200_000 // threads
    rc, out, err = run_child(tmp_path, "import json\n" + _CLOSE_RACE.format(threads=threads, calls=calls))
    assert rc == 0 and no_traceback(err), err
    result = json.loads(out)
    assert result["n_raised"] == 0, result["raised"]
    acc = event_accumulator(tmp_path / "run")
    for k, returned in enumerate(result["returned"]):
        found = Counter(steps(acc, f"t{k}"))
        assert sum(found.values()) == returned == calls, (k, returned, sum(found.values()))
        assert set(found.values()) == {1}  # each once
    print(f"close race, {threads} threads: {calls * threads} calls, all read back once")


# ----- a full disk ------------------------------------------------------------------------------


def _in_small_tmpfs(tmp_path: Path, body: str, size: str = "1m") -> tuple[int, str, str]:
    """Run ``body`` as a child whose LOGDIR's parent is a fresh tmpfs of ``size`` (in its own
    mount namespace, so nothing is left mounted); the child copies what it wrote to
    ``tmp_path/copy`` before it ends."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) to mount a small tmpfs")
    disk = tmp_path / "disk"
    disk.mkdir()
    script = tmp_path / "child.py"
    script.write_text(
        textwrap.dedent(
            """
            import json, os, shutil, sys, time
            import tblog
            LOGDIR = os.environ["LOGDIR"]
            try:
            {body}
            finally:
                shutil.copytree(LOGDIR, os.environ["COPY"])
            """
        ).format(body=textwrap.indent(textwrap.dedent(body), "    "))
    )
    env = dict(os.environ, LOGDIR=os.fspath(disk / "run"), COPY=os.fspath(tmp_path / "copy"))
    command = f"mount -t tmpfs -o size={size} tmpfs {disk} && exec {sys.executable} {script}"
    proc = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", command],
        env=env,
        capture_output=True,
        text=True,
        timeout=_TIMEOUT,
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.slow
def test_disk_full_leaks_nothing_and_recovers(tmp_path: Path, event_accumulator: Any) -> None:
    """On a full disk (ENOSPC on a 1 MiB tmpfs) every failing call raises tblog's error naming
    the log directory; no descriptor leaks, no empty file is left; once space is freed the
    writer goes on, and everything written before and after is read back."""
    rc, out, err = _in_small_tmpfs(
        tmp_path,
        """
        os.makedirs(LOGDIR)
        filler = os.path.join(os.path.dirname(LOGDIR), "filler")
        with open(filler, "wb") as f:  # leave about 100 KiB free
            f.write(b"x" * (os.statvfs(LOGDIR).f_bavail * os.statvfs(LOGDIR).f_frsize - (100 << 10)))
        writer = tblog.SummaryWriter(LOGDIR, max_queue=100)
        fds_before = len(os.listdir("/proc/self/fd"))
        errors, kinds, written = 0, set(), 0
        for i in range(20_000):  # ~40 B a scalar: the disk fills after a few thousand
            try:
                writer.add_scalar("before", i, i)
                written = i + 1
                if i % 100 == 99:
                    writer.flush()
            except tblog.BackgroundWriteError as exc:
                errors += 1
                kinds.add(type(exc.__cause__).__name__)
                message = str(exc)
            except OSError as exc:  # a raw OSError is what this test forbids
                errors += 1
                kinds.add("raw " + type(exc).__name__)
                message = str(exc)
            if errors >= 300:
                break
        fds_after = len(os.listdir("/proc/self/fd"))
        empty = [n for n in os.listdir(LOGDIR) if os.path.getsize(os.path.join(LOGDIR, n)) == 0]
        os.unlink(filler)
        for i in range(100):
            writer.add_scalar("after", i, i)
        writer.close()
        print(json.dumps(dict(errors=errors, kinds=sorted(kinds), message=message, empty=empty,
                              fds=fds_after - fds_before, logdir=LOGDIR)))
        """,
    )
    assert rc == 0, err
    result = json.loads(out)
    print(
        f"disk full: {result['errors']} errors, fd growth {result['fds']}, empty files {len(result['empty'])}"
    )
    assert result["errors"] >= 300
    assert result["kinds"] == ["OSError"], result  # all of them tblog's, caused by ENOSPC
    assert "No space left on device" in result["message"] and result["logdir"] in result["message"]
    assert result["fds"] <= 0, result
    assert result["empty"] == []
    assert no_traceback(err), err
    acc = event_accumulator(tmp_path / "copy")
    assert steps(acc, "after") == list(range(100))
    before = steps(acc, "before")
    assert before == list(range(len(before))) and len(before) > 1000  # a gap-free prefix


# ----- a sub-run that cannot be created ---------------------------------------------------------


def test_sub_run_blocked_by_a_file_keeps_the_other_events(tmp_path: Path, event_accumulator: Any) -> None:
    """A regular file where add_scalars' sub-run directory should go: the next call raises an
    error naming it, the writer thread goes on, and every other event, logged before and after
    (main run and the other sub-run), is written."""
    rc, out, err = run_child(
        tmp_path,
        """
os.makedirs(LOGDIR)
open(os.path.join(LOGDIR, "pair_u"), "w").close()
writer = tblog.SummaryWriter(LOGDIR, max_queue=10)
for i in range(1000):
    writer.add_scalar("main", i, i)
writer.add_scalars("pair", {"u": 1.0, "v": 2.0}, 5)
try:
    writer.flush()
except tblog.BackgroundWriteError as exc:
    print(exc)
for i in range(1000, 2000):
    writer.add_scalar("main", i, i)
writer.close()
""",
    )
    assert rc == 0 and no_traceback(err), err
    assert "pair_u" in out and "File exists" in out, out
    assert steps(event_accumulator(tmp_path / "run"), "main") == list(range(2000))
    assert steps(event_accumulator(tmp_path / "run" / "pair_v"), "pair") == [5]


def signal_after(tmp_path: Path, body: str, signum: int, progress: int) -> tuple[Child, int, str, str]:
    """Run ``body``, wait until its Progress reaches ``progress``, send ``signum``: the child
    and its (returncode, stdout, stderr)."""
    child = Child(tmp_path, body)
    child.wait_for_progress(progress)
    child.proc.send_signal(signum)
    rc, out, err = child.finish()
    return child, rc, out, err


# ----- signals -----------------------------------------------------------------------------------


def test_sighup_flushes_like_sigterm(tmp_path: Path, event_accumulator: Any) -> None:
    """SIGHUP (a closed terminal or ssh session) with its default disposition: every pending
    event is written, and the process still ends with SIGHUP's status."""
    child, rc, _, err = signal_after(
        tmp_path,
        """
writer = tblog.SummaryWriter(LOGDIR, flush_secs=3600, max_queue=10**6, max_pending_events=10**6)
for i in range(50_000):
    writer.add_scalar("x", i, i)
Progress().set(1)
time.sleep(60)
""",
        signal.SIGHUP,
        1,
    )
    assert rc == -signal.SIGHUP and no_traceback(err), (rc, err)
    assert steps(event_accumulator(tmp_path / "run"), "x") == list(range(50_000))


# 50,000 events pending in a writer of another thread, then it waits for the signal
_WORK_ON_A_THREAD = """
def work():
    writer = tblog.SummaryWriter(LOGDIR, flush_secs=3600, max_queue=10**6, max_pending_events=10**6)
    for i in range(50_000):
        writer.add_scalar("x", i, i)
    Progress().set(1)
    time.sleep(60)


"""


def test_sigterm_with_a_writer_of_another_thread(tmp_path: Path, event_accumulator: Any) -> None:
    """A writer created and used on a thread other than the main one, while the main thread
    waits in join(): SIGTERM writes every pending event before the process ends with -15
    (``import tblog`` installed the handler in the main thread)."""
    start = "worker = threading.Thread(target=work)\nworker.start()\nworker.join()\n"
    child, rc, _, err = signal_after(tmp_path, _WORK_ON_A_THREAD + start, signal.SIGTERM, 1)
    assert rc == -signal.SIGTERM and no_traceback(err), (rc, err)
    assert steps(event_accumulator(tmp_path / "run"), "x") == list(range(50_000))


def test_flush_on_signals_after_the_default_came_back(tmp_path: Path, event_accumulator: Any) -> None:
    """Another library set SIGTERM back to the default after ``import tblog`` and the writers
    live on other threads: ``tblog.flush_on_signals()`` from the main thread installs tblog's
    handler again, and SIGTERM writes every pending event."""
    reset = "signal.signal(signal.SIGTERM, signal.SIG_DFL)\ntblog.flush_on_signals()\n"
    start = "threading.Thread(target=work, daemon=True).start()\ntime.sleep(60)\n"
    child, rc, _, err = signal_after(tmp_path, reset + _WORK_ON_A_THREAD + start, signal.SIGTERM, 1)
    assert rc == -signal.SIGTERM and no_traceback(err), (rc, err)
    assert steps(event_accumulator(tmp_path / "run"), "x") == list(range(50_000))


def test_flush_on_signals_off_the_main_thread_is_a_clear_error(tmp_path: Path) -> None:
    rc, out, err = run_child(
        tmp_path,
        """
def call():
    try:
        tblog.flush_on_signals()
    except RuntimeError as exc:
        print("main thread" in str(exc))


worker = threading.Thread(target=call)
worker.start()
worker.join()
""",
    )
    assert (rc, out.split(), err) == (0, ["True"], "")


@pytest.mark.parametrize("thread", ["main", "other"])
def test_calls_that_return_after_sigterm_are_written(
    tmp_path: Path, event_accumulator: Any, thread: str
) -> None:
    """The caller keeps logging while tblog flushes after SIGTERM (on the main thread, or on
    another while the main thread waits in join()): every call that returned, before or after the
    signal, is in the file (a call that finds the writer closed blocks until the process ends
    instead of returning)."""
    loop = """
def work():
    writer = tblog.SummaryWriter(LOGDIR, flush_secs=3600, max_queue=1000)
    progress = Progress()
    i = 0
    while True:
        writer.add_scalar("x", i, i)
        i += 1
        progress.set(i)
"""
    start = "work()"
    if thread == "other":
        start = "worker = threading.Thread(target=work)\nworker.start()\nworker.join()"
    child, rc, _, err = signal_after(tmp_path, loop + start + "\n", signal.SIGTERM, 100_000)
    returned = child.progress()
    assert rc == -signal.SIGTERM and no_traceback(err), (rc, err)
    found = steps(event_accumulator(tmp_path / "run"), "x")
    assert found[:returned] == list(range(returned)), (len(found), returned)
    print(f"after SIGTERM ({thread} thread): {returned} calls returned, {len(found)} read back")


# ----- multiprocessing pools on a loaded machine --------------------------------------------------

_BUSY = "import time\nend = time.time() + 300\nwhile time.time() < end: pass"
_POOL_SCRIPT = """
import multiprocessing, os, sys
import tblog


def work(writer, n):
    for i in range(20):
        writer.add_scalar("child", n * 1000 + i, i)


if __name__ == "__main__":
    writer = tblog.SummaryWriter(sys.argv[1], flush_secs=3600)
    writer.add_scalar("parent", 0, 0)
    ctx = multiprocessing.get_context("fork")
    for round in range(int(sys.argv[2])):
        with ctx.Pool(2) as pool:
            pool.starmap(work, [(writer, round)])
"""


@pytest.mark.slow
def test_pool_terminate_under_load_never_hits_the_parent(tmp_path: Path) -> None:
    """Pools whose workers are ended with SIGTERM by ``terminate()``, four scripts at once next
    to two busy processes: no parent ends with a SIGTERM meant for its workers (a worker's
    signal that landed before it had reset the inherited handler used to be written to the
    parent's wake-up pipe), none hangs, and every worker event is written once."""
    script = tmp_path / "pools.py"
    script.write_text(_POOL_SCRIPT)
    burners = [
        subprocess.Popen(
            [sys.executable, "-c", "import time\nend = time.time() + 300\nwhile time.time() < end: pass"]
        )
        for _ in range(2)
    ]
    try:
        runs = [
            subprocess.Popen(
                [sys.executable, os.fspath(script), os.fspath(tmp_path / f"run{k}"), "30"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
            for k in range(4)
        ]
        results = []
        for proc in runs:
            try:
                _, err = proc.communicate(timeout=4 * _TIMEOUT)
            except subprocess.TimeoutExpired:
                for other in runs:
                    os.killpg(other.pid, signal.SIGKILL)
                raise AssertionError("a pool script hung") from None
            results.append((proc.returncode, err))
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    assert [rc for rc, _ in results] == [0] * 4, results
    assert all(no_traceback(err) for _, err in results), results
    from tblog import read

    for k in range(4):
        found = Counter(
            e.step
            for name in read.event_files(tmp_path / f"run{k}")
            for e in read.events(name, on_corrupt="raise")
            if e.WhichOneof("what") == "summary" and e.summary.value[0].tag == "child"
        )
        assert found == Counter(list(range(20)) * 30), k


# ----- links planted in the log directory --------------------------------------------------------


@pytest.mark.parametrize("planted", ["step", "tag"])
def test_add_embedding_never_writes_through_a_planted_link(
    tmp_path: Path, event_accumulator: Any, planted: str
) -> None:
    """A symlink planted in the log directory where add_embedding's step or tag directory goes,
    pointing outside it: the call raises naming the link, nothing is written outside, and the
    writer's events before and after are all read back."""
    outside = tmp_path / "outside"
    outside.mkdir()
    link = "00003" if planted == "step" else "00003/emb"
    rc, out, err = run_child(
        tmp_path,
        f"""
import numpy as np
os.makedirs(os.path.join(LOGDIR, "00003") if {link!r} != "00003" else LOGDIR)
os.symlink({os.fspath(outside)!r}, os.path.join(LOGDIR, {link!r}), target_is_directory=True)
writer = tblog.SummaryWriter(LOGDIR)
writer.add_scalar("x", 0.0, 0)
try:
    writer.add_embedding(np.ones((3, 2)), metadata=["a", "b", "c"], tag="emb", global_step=3)
except ValueError as exc:
    print(exc)
writer.add_scalar("x", 1.0, 1)
writer.close()
""",
    )
    assert rc == 0 and no_traceback(err), err
    assert "leave the log directory" in out and link in out, out
    assert list(outside.iterdir()) == []
    assert steps(event_accumulator(tmp_path / "run"), "x") == [0, 1]


# ----- signal handling that must stay out of the way ------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_process_that_opens_no_writer_ends_as_without_tblog(tmp_path: Path, signum: int) -> None:
    """A process that imports tblog but opens no writer (a distributed rank that does not
    write) still ends with the signal's own status, at once."""
    child, rc, out, err = signal_after(tmp_path, "Progress().set(1)\ntime.sleep(60)\n", signum, 1)
    assert (rc, err) == (-signum, "")


def test_a_framework_chaining_to_tblogs_handler_without_a_writer_goes_on(tmp_path: Path) -> None:
    """A framework that installs its own SIGTERM handler and chains to the one it finds
    (Lightning does) for a graceful stop, in a process that opened no tblog writer: tblog's
    handler does nothing, and the process goes on to stop as the framework decides."""
    child, rc, out, err = signal_after(
        tmp_path,
        """
previous = signal.getsignal(signal.SIGTERM)
stop = False


def graceful(signum, frame):
    global stop
    stop = True
    if callable(previous):
        previous(signum, frame)


signal.signal(signal.SIGTERM, graceful)
Progress().set(1)
while not stop:
    time.sleep(0.01)
print("stopped gracefully")
""",
        signal.SIGTERM,
        1,
    )
    assert (rc, out, err) == (0, "stopped gracefully\n", "")


def test_import_leaves_the_wakeup_fd_alone(tmp_path: Path) -> None:
    """``import tblog`` sets no signal wakeup fd (trio warns, or fails under -W error, when it
    finds one set); a writer opened in the main thread takes it where it is free."""
    rc, out, err = run_child(
        tmp_path,
        """
print(signal.set_wakeup_fd(-1))
writer = tblog.SummaryWriter(LOGDIR)
print(signal.set_wakeup_fd(-1) != -1)
writer.close()
""",
    )
    assert (rc, out.split(), err) == (0, ["-1", "True"], "")


def test_a_signal_another_handler_took_is_not_replayed_later(tmp_path: Path, event_accumulator: Any) -> None:
    """A SIGTERM that a handler of the user's took before any writer opened (tblog's handler
    put back afterwards, as Lightning's teardown does) does not end the process when the
    first writer opens: the wakeup byte it left in tblog's pipe is not read as a new signal."""
    rc, out, err = run_child(
        tmp_path,
        """
got = []
previous = signal.signal(signal.SIGTERM, lambda signum, frame: got.append(signum))
os.kill(os.getpid(), signal.SIGTERM)
time.sleep(0.1)
signal.signal(signal.SIGTERM, previous)
writer = tblog.SummaryWriter(LOGDIR)
for i in range(5):
    writer.add_scalar("x", i, i)
    time.sleep(0.1)
writer.close()
print(got)
sys.exit(7)
""",
    )
    assert (rc, out.split(), err) == (7, ["[15]"], "")
    assert steps(event_accumulator(tmp_path / "run"), "x") == [0, 1, 2, 3, 4]


def test_after_a_chained_graceful_stop_every_thread_logs_on(tmp_path: Path, event_accumulator: Any) -> None:
    """A framework's handler chains to tblog's and stops gracefully (Lightning), then puts
    tblog's handler back at teardown: logging goes on from the main thread and from others
    (before, calls blocked for good once tblog's handler was back, or on other threads at
    once), and the process ends with the status the program chooses."""
    rc, out, err = run_child(
        tmp_path,
        """
writer = tblog.SummaryWriter(LOGDIR)
writer.add_scalar("x", 0, 0)
tblogs = signal.getsignal(signal.SIGTERM)
stopped = []


def framework_handler(signum, frame):
    stopped.append(signum)
    tblogs(signum, frame)


signal.signal(signal.SIGTERM, framework_handler)
os.kill(os.getpid(), signal.SIGTERM)
while not stopped:
    time.sleep(0.01)
time.sleep(0.5)  # the helper flushes meanwhile
worker = threading.Thread(target=writer.add_scalar, args=("x", 1, 1))
worker.start()
worker.join(30)
print(worker.is_alive())
signal.signal(signal.SIGTERM, tblogs)  # teardown
writer.add_scalar("x", 2, 2)
writer.close()
sys.exit(3)
""",
    )
    assert (rc, out.split(), err) == (3, ["False"], "")
    assert steps(event_accumulator(tmp_path / "run"), "x") == [0, 1, 2]


def test_sigterm_ends_a_main_thread_stuck_in_c_code(tmp_path: Path, event_accumulator: Any) -> None:
    """SIGTERM while the main thread sits in a long C call (a collective, a C-level wait) that
    never returns to Python: the events are written and the process still ends with -15 (the
    helper takes the default action itself when the main thread does not run its handler)."""
    child, rc, _, err = signal_after(
        tmp_path,
        """
import hashlib
writer = tblog.SummaryWriter(LOGDIR, flush_secs=3600, max_queue=10**6, max_pending_events=10**6)
for i in range(10_000):
    writer.add_scalar("x", i, i)
Progress().set(1)
hashlib.pbkdf2_hmac("sha256", b"password", b"salt", 2**31 - 1)  # minutes in C, no signal checks
""",
        signal.SIGTERM,
        1,
    )
    assert rc == -signal.SIGTERM and no_traceback(err), (rc, err)
    assert steps(event_accumulator(tmp_path / "run"), "x") == list(range(10_000))


def test_a_handler_that_chains_to_tblogs_may_log_on(tmp_path: Path, event_accumulator: Any) -> None:
    """A user's SIGTERM handler installed after the writer that calls tblog's and then lets
    the loop finish (a graceful stop): the calls after the signal are written too (in a new
    file), nothing hangs, and the process ends as the user's code decides."""
    child, rc, out, err = signal_after(
        tmp_path,
        """
writer = tblog.SummaryWriter(LOGDIR, flush_secs=3600)
previous = signal.getsignal(signal.SIGTERM)
stop = False


def graceful(signum, frame):
    global stop
    previous(signum, frame)
    stop = True


signal.signal(signal.SIGTERM, graceful)
i = 0
while not stop:
    writer.add_scalar("x", i, i)
    i += 1
    Progress().set(i) if i == 1000 else None
    time.sleep(0.0001) if i > 1000 else None
writer.add_scalar("final", i, i)
writer.close()
print(i)
""",
        signal.SIGTERM,
        1000,
    )
    assert rc == 0 and no_traceback(err), (rc, err)
    logged = int(out)
    acc = event_accumulator(tmp_path / "run")
    assert steps(acc, "x") == list(range(logged))
    assert steps(acc, "final") == [logged]


def test_sigterm_after_asyncio_gave_the_signal_back(tmp_path: Path, event_accumulator: Any) -> None:
    """asyncio adds and removes a SIGTERM handler (setting the default back) before a writer
    opens: the writer still gets tblog's flush on SIGTERM."""
    child, rc, _, err = signal_after(
        tmp_path,
        """
import asyncio
first = tblog.SummaryWriter(LOGDIR + "/first")
first.close()


async def main():
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, lambda: None)
    loop.remove_signal_handler(signal.SIGTERM)


asyncio.run(main())
writer = tblog.SummaryWriter(LOGDIR, flush_secs=3600)
for i in range(1000):
    writer.add_scalar("x", i, i)
Progress().set(1)
time.sleep(60)
""",
        signal.SIGTERM,
        1,
    )
    assert rc == -signal.SIGTERM and no_traceback(err), (rc, err)
    assert steps(event_accumulator(tmp_path / "run"), "x") == list(range(1000))
