"""SIGTERM: flush every writer, then end the process as SIGTERM would have.

Python ends on SIGTERM without running atexit hooks, so tblog installs a handler, but only
where SIGTERM has none: a handler of the user or a framework is never replaced (it is then
theirs to call ``close()``), and only the main thread may install one.

Two hazards shape this module:

* The Python handler runs in the main thread between two bytecodes: perhaps inside a tblog
  lock that the writer thread needs, perhaps inside ``threading``'s bookkeeping while a
  process shuts down. So it takes no lock, waits for nothing and starts no thread: a helper
  thread, started with the first writer of each process, does the flushing.
* A signal that lands just before the main thread blocks in a system call (a multiprocessing
  worker waiting for a task, which ``Pool.terminate()`` ends with SIGTERM) never runs the
  Python handler at all. So the helper also listens on ``signal.set_wakeup_fd``, which the
  C-level handler writes at once, and after flushing sends SIGTERM to the main thread until
  its handler ends the process with the default action.

The main thread goes on while the helper flushes; what it logs after the signal may be dropped.
A forked child starts with the default action and no helper until it opens a writer itself.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable

_MAIN_THREAD_SIGNALS = {signal.SIGTERM, signal.SIGINT}
_FROM_HANDLER = b"\xff"  # what tblog's own Python handler writes to the helper's pipe
_RESIGNAL_SECS = 0.05
_EXIT_WAIT_SECS = 60.0  # as long as the exit flush may take

terminating = False  # SIGTERM came: the writers are being closed and none may reopen
_terminated = threading.Event()  # ... and now they are closed
_helper_pid: int | None = None  # the process whose helper thread reads _wake_fd
_wake_fd: int | None = None  # write end of the helper's pipe
_read_fd: int | None = None  # its read end
_wakeup_is_ours = False  # signal.set_wakeup_fd points at _wake_fd
_close_all: Callable[[], None] | None = None  # closes every writer of the process


def start_without_signals(thread: threading.Thread) -> None:
    """Start a tblog thread with SIGTERM and SIGINT blocked in it (it inherits the mask).

    Python runs signal handlers in the main thread only. A process-directed signal that the
    kernel hands to one of tblog's threads instead does not interrupt a main thread blocked in
    a system call, so Ctrl-C or SIGTERM would wait until that call returns.
    """
    if not hasattr(signal, "pthread_sigmask"):
        thread.start()
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _MAIN_THREAD_SIGNALS)
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def flush_on_sigterm(close_all: Callable[[], None]) -> None:
    """Have SIGTERM run ``close_all`` first, where nobody else handles SIGTERM.

    Called whenever a writer opens a file; cheap after the first call of a process.
    """
    global _close_all
    _close_all = close_all
    if _helper_pid == os.getpid() or threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return
        read_fd = _open_pipe()
        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError, AttributeError):  # no signals here (embedded, some platforms)
        return
    helper = threading.Thread(target=_flush_then_end, args=(read_fd,), name="tblog-sigterm")
    helper.daemon = True
    start_without_signals(helper)


def _open_pipe() -> int:
    """The helper's pipe, also made the wakeup fd if nobody (asyncio, say) has one."""
    global _helper_pid, _wake_fd, _read_fd, _wakeup_is_ours
    _read_fd, _wake_fd = os.pipe()
    os.set_blocking(_wake_fd, False)  # signal handlers must never block
    _helper_pid = os.getpid()
    previous = signal.set_wakeup_fd(_wake_fd, warn_on_full_buffer=False)
    _wakeup_is_ours = previous == -1
    if not _wakeup_is_ours:
        signal.set_wakeup_fd(previous)
    return _read_fd


def _on_sigterm(signum: int, frame: object) -> None:
    global terminating
    if _terminated.is_set() or _helper_pid != os.getpid() or _wake_fd is None:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    elif not terminating:
        terminating = True
        with contextlib.suppress(OSError):
            os.write(_wake_fd, _FROM_HANDLER)


def _flush_then_end(read_fd: int) -> None:
    while True:
        data = os.read(read_fd, 64)
        if not data:  # closed: this process is a forked child's copy
            return
        # Signal numbers from the wakeup fd count only while tblog's handler is installed: a
        # handler of the user's (installed later) decides for itself, and may chain to ours.
        if _FROM_HANDLER in data or (
            bytes([signal.SIGTERM]) in data and signal.getsignal(signal.SIGTERM) is _on_sigterm
        ):
            break
    global terminating
    terminating = True
    if _close_all is not None:
        _close_all()
    _terminated.set()
    main = threading.main_thread().ident
    while signal.getsignal(signal.SIGTERM) is _on_sigterm and main is not None:
        # To the main thread itself, until its handler runs: one that lands just before the
        # main thread blocks in a system call is not seen there.
        signal.pthread_kill(main, signal.SIGTERM)
        time.sleep(_RESIGNAL_SECS)


def end_if_terminated_in_main_thread() -> None:
    """At the exit of a process that got SIGTERM: end as SIGTERM would have (status -15).

    The main thread may reach the end of the script while the helper still flushes; without
    this the process would exit 0. Only while tblog's handler is installed: a handler of the
    user's that chained to ours decides the exit status itself.
    """
    if (
        terminating
        and _helper_pid == os.getpid()
        and threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) is _on_sigterm
    ):
        _terminated.wait(_EXIT_WAIT_SECS)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)


def _after_fork_in_child() -> None:
    """The parent's pipe and helper are not this process's: start with the default action."""
    global _helper_pid, _wake_fd, _read_fd, _wakeup_is_ours, terminating
    if _helper_pid is None:
        return
    with contextlib.suppress(ValueError, OSError):
        if _wakeup_is_ours:
            signal.set_wakeup_fd(-1)
        if signal.getsignal(signal.SIGTERM) is _on_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for fd in (_wake_fd, _read_fd):
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
    _helper_pid = _wake_fd = _read_fd = None
    _wakeup_is_ours = terminating = False
    _terminated.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
