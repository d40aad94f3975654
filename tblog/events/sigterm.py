"""SIGTERM and SIGHUP: flush every writer, then end the process as the signal would have.

Python ends on SIGTERM and SIGHUP (a closed terminal or ssh session) without running atexit
hooks, so tblog installs a handler for each, but only where the signal has none: a handler
of the user or a framework is never replaced (it is then theirs to call ``close()``).

Only the main thread may install a handler, so they are installed at ``import tblog`` (which
nearly always runs there: then writers that open on other threads are flushed too), again
when a writer opens in the main thread and the default action came back (asyncio sets it
back), and when the main thread calls ``tblog.flush_on_signals()`` (for a program that
imported tblog on another thread). Until a writer opens, the handler only takes the
default action, and called by a handler that chains to it (Lightning's) it does nothing:
such a process ends, or goes on, as it would without tblog. One cost remains: a Python
handler runs only when the main thread gets back to bytecode, so a process that imported
tblog, opened no writer and sits in a long C call ends when that call returns (once a
writer is open, the helper thread below ends it after a grace period).

Three hazards shape this module:

* The Python handler runs in the main thread between two bytecodes: perhaps inside a tblog
  lock that the writer thread needs, perhaps inside ``threading``'s bookkeeping while a
  process shuts down. So it takes no lock, waits for nothing and starts no thread: a helper
  thread, started with the first writer of each process, does the flushing.
* A signal that lands just before the main thread blocks in a system call (a multiprocessing
  worker waiting for a task, which ``Pool.terminate()`` ends with SIGTERM) never runs the
  Python handler at all. So the helper also listens on ``signal.set_wakeup_fd``, which the
  C-level handler writes at once, and after flushing sends the signal to the main thread
  until its handler ends the process with the default action.
* A forked child inherits the handler and the wakeup descriptor, which is the parent's pipe:
  a signal meant for the child that landed before the child had reset them was read by the
  parent's helper as the parent's own, and the parent ended (seen with ``Pool.terminate()``
  on a loaded machine). So the signals are blocked across ``fork()`` and unblocked in the
  child only once it has the default action back; a child that opens a writer installs its
  own.

While the helper flushes, the main thread goes on; a logging call that finds its writer
closed by the helper blocks until the process ends instead of returning (see AsyncWriter),
as long as tblog's handler is the installed one (a handler of the user's that chained to
ours may let the process go on: then the call opens a new file).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable

_ENDING_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
# Blocked in tblog's threads, so that the kernel hands these to the main thread.
_MAIN_THREAD_SIGNALS = {*_ENDING_SIGNALS, signal.SIGINT}
_FROM_HANDLER = 0x80  # tblog's handler writes signum | 0x80; the C-level wakeup writes signum
_RESIGNAL_SECS = 0.05
_EXIT_WAIT_SECS = 60.0  # as long as the exit flush may take
_MAIN_THREAD_GRACE_SECS = 2.0  # after the flush, for the main thread's handler to end it

terminating = False  # an ending signal came: the writers are being closed and none may reopen
_received = 0  # which signal
_terminated = threading.Event()  # ... and now they are closed
_handler_pid: int | None = None  # the process whose handlers write to _wake_fd
_helper_pid: int | None = None  # the process whose helper thread reads _read_fd
_wake_fd: int | None = None  # write end of the helper's pipe
_read_fd: int | None = None  # its read end
_wakeup_is_ours = False  # signal.set_wakeup_fd points at _wake_fd
_wakeup_claimed = False  # this process tried to make _wake_fd the wakeup fd
_close_all: Callable[[], None] | None = None  # closes every writer of the process
_start_lock = threading.Lock()


def start_without_signals(thread: threading.Thread) -> None:
    """Start a tblog thread with the ending signals and SIGINT blocked in it (it inherits the mask).

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


def install_handlers(*, claim_wakeup_fd: bool = True) -> None:
    """Install tblog's handler for each ending signal that has the default action now (also
    one that asyncio, say, set back to it). Does nothing off the main thread.

    ``claim_wakeup_fd``: also make the helper's pipe the signal wakeup fd, if nobody has
    one. Not at import: trio, for one, warns when it finds a wakeup fd already set; a writer
    opened in the main thread claims it."""
    global _handler_pid
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        free = [s for s in _ENDING_SIGNALS if signal.getsignal(s) is signal.SIG_DFL]
        if free and _handler_pid != os.getpid():
            _open_pipe()
            _handler_pid = os.getpid()
        for signum in free:
            signal.signal(signum, _on_signal)
        if claim_wakeup_fd and _handler_pid == os.getpid():
            _claim_wakeup_fd()
    except (ValueError, OSError, AttributeError):  # no signals here (embedded, some platforms)
        return


def flush_on_signals(close_all: Callable[[], None]) -> None:
    """Have the ending signals run ``close_all`` first, where tblog's handlers are installed.

    Called whenever a writer opens a file, from any thread; cheap after the first call of a
    process."""
    global _close_all, _helper_pid
    _close_all = close_all
    install_handlers()
    if _helper_pid == os.getpid():
        return
    with _start_lock:
        if _helper_pid == os.getpid() or _handler_pid != os.getpid() or _read_fd is None:
            return
        _drain(_read_fd)
        helper = threading.Thread(target=_flush_then_end, args=(_read_fd,), name="tblog-signals")
        helper.daemon = True
        start_without_signals(helper)
        _helper_pid = os.getpid()


def ending_by_tblog() -> bool:
    """An ending signal came and tblog's handler is the installed one: tblog ends the process
    once every writer is closed, so nothing may reopen one."""
    signum = _received
    return terminating and bool(signum) and signal.getsignal(signum) is _on_signal


def _open_pipe() -> None:
    """The helper's pipe."""
    global _wake_fd, _read_fd, _wakeup_claimed
    _read_fd, _wake_fd = os.pipe()
    os.set_blocking(_wake_fd, False)  # signal handlers must never block
    _wakeup_claimed = False


def _claim_wakeup_fd() -> None:
    """Make the pipe the wakeup fd, once per process, if nobody (asyncio, trio) has one."""
    global _wakeup_is_ours, _wakeup_claimed
    if _wakeup_claimed or _wake_fd is None:
        return
    _wakeup_claimed = True
    previous = signal.set_wakeup_fd(_wake_fd, warn_on_full_buffer=False)
    _wakeup_is_ours = previous == -1
    if not _wakeup_is_ours:
        signal.set_wakeup_fd(previous)


def _on_signal(signum: int, frame: object) -> None:
    global terminating, _received
    if _terminated.is_set() or _helper_pid != os.getpid() or _wake_fd is None:
        # Nothing (more) to flush. Called by a handler that chains to ours, its owner decides.
        if signal.getsignal(signum) is _on_signal:
            _end_with(signum)
    elif not terminating:
        terminating = True
        _received = signum
        with contextlib.suppress(OSError):
            os.write(_wake_fd, bytes([signum | _FROM_HANDLER]))


def _end_with(signum: int) -> None:
    """The signal's default action, now."""
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _next_signal(read_fd: int) -> tuple[int, bool]:
    """The next ending signal the pipe reports, and whether tblog's handler was the installed
    one when it came ((0, False): the pipe is gone)."""
    while True:
        try:
            data = os.read(read_fd, 64)
        except OSError:  # closed under us: this process is a forked child's copy
            return 0, False
        if not data:
            return 0, False
        signum = _signal_in(data)
        if signum:
            return signum, signal.getsignal(signum) is _on_signal


def _drain(read_fd: int) -> None:
    """Drop what the pipe holds from before the helper listened: signals that another
    handler took (the wakeup fd reports every signal with a Python handler), never ours."""
    os.set_blocking(read_fd, False)
    try:
        while os.read(read_fd, 4096):
            pass
    except OSError:  # empty (EAGAIN)
        pass
    finally:
        os.set_blocking(read_fd, True)


def _signal_in(data: bytes) -> int:
    """The ending signal that ``data`` from the pipe reports, or 0."""
    for byte in data:
        if byte & _FROM_HANDLER:
            return byte & ~_FROM_HANDLER
        # A signal number from the wakeup fd counts only while tblog's handler is installed: a
        # handler of the user's (installed later) decides for itself, and may chain to ours.
        if byte in _ENDING_SIGNALS and signal.getsignal(byte) is _on_signal:
            return byte
    return 0


def _flush_then_end(read_fd: int) -> None:
    global terminating, _received
    while True:
        signum, ours = _next_signal(read_fd)
        if not signum:
            return
        _received = signum
        terminating = True
        if _close_all is not None:
            _close_all()
        if ours:
            break
        # A handler of the user's (Lightning's) chained to ours: it decides, and the process
        # may go on; a later signal is a new one, and calls after this one open new files.
        terminating = False
        _received = 0
    _terminated.set()
    main = threading.main_thread().ident
    deadline = time.monotonic() + _MAIN_THREAD_GRACE_SECS
    while signal.getsignal(signum) is _on_signal and main is not None:
        # To the main thread itself, until its handler runs: one that lands just before the
        # main thread blocks in a system call is not seen there.
        signal.pthread_kill(main, signum)
        time.sleep(_RESIGNAL_SECS)
        if time.monotonic() > deadline:  # stuck in C code (a collective, a C wait): end it here
            _end_from_this_thread(signum)


def _end_from_this_thread(signum: int) -> None:
    """The signal's default action from a thread other than the main one, where Python's
    ``signal.signal`` may not be called: through the C library's ``signal()``."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.signal.restype = ctypes.c_void_p
        libc.signal(ctypes.c_int(signum), ctypes.c_void_p(0))  # SIG_DFL
    except (OSError, AttributeError):  # no C library to call: go on asking the main thread
        return
    os.kill(os.getpid(), signum)


def wait_until_process_ends() -> None:
    """Block for good: the caller's writer was closed because the process is ending.

    In the main thread the signal's handler still runs here (lock waits are interrupted by
    signals) and ends the process."""
    forever = threading.Event()
    while True:
        forever.wait(3600)


def end_if_terminated_in_main_thread() -> None:
    """At the exit of a process that got an ending signal: end as it would have (-15, -1).

    The main thread may reach the end of the script while the helper still flushes; without
    this the process would exit 0. Only while tblog's handler is installed: a handler of the
    user's that chained to ours decides the exit status itself.
    """
    signum = _received
    if (
        terminating
        and signum
        and _helper_pid == os.getpid()
        and threading.current_thread() is threading.main_thread()
        and signal.getsignal(signum) is _on_signal
    ):
        _terminated.wait(_EXIT_WAIT_SECS)
        _end_with(signum)


# ----- fork: the child must never act on, or report, a signal with the parent's state --------

_fork_masks = threading.local()


def _before_fork() -> None:
    if _handler_pid == os.getpid() and hasattr(signal, "pthread_sigmask"):
        _fork_masks.previous = signal.pthread_sigmask(signal.SIG_BLOCK, _ENDING_SIGNALS)


def _after_fork_in_parent() -> None:
    previous = getattr(_fork_masks, "previous", None)
    if previous is not None:
        _fork_masks.previous = None
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _after_fork_in_child() -> None:
    """The parent's pipe and helper are not this process's: back to the default action, then
    let through what was blocked across the fork."""
    global _handler_pid, _helper_pid, _wake_fd, _read_fd, _wakeup_is_ours, _wakeup_claimed
    global terminating, _received
    global _start_lock
    _start_lock = threading.Lock()  # a thread of the parent may have held it at the fork
    if _handler_pid is not None:
        with contextlib.suppress(ValueError, OSError):
            if _wakeup_is_ours:
                signal.set_wakeup_fd(-1)
            for signum in _ENDING_SIGNALS:
                if signal.getsignal(signum) is _on_signal:
                    signal.signal(signum, signal.SIG_DFL)
        for fd in (_wake_fd, _read_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
    _handler_pid = _helper_pid = _wake_fd = _read_fd = None
    _wakeup_is_ours = _wakeup_claimed = terminating = False
    _received = 0
    _terminated.clear()
    _after_fork_in_parent()  # the same mask restore


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
    )
