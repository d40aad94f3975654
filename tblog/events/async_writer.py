"""The background writer: a queue of pending events and the one thread that writes them.

Callers append to a deque (atomic under the GIL, no lock on the scalar hot path). The thread
wakes every ``flush_secs``, when ``max_queue`` events are pending, on ``flush()`` and on
``close()``; it encodes what is pending, frames it and hands it to the OS in one ``write``
per file.

Contracts (see DESIGN.md): ``flush()`` is a barrier; pending memory is bounded (callers
block); a failure in the thread is re-raised, chained, in the caller's next call; every
writer still open at interpreter exit is flushed by one ``atexit`` hook (and on SIGTERM, and
at the end of multiprocessing children, which skip atexit); a forked child starts with an
empty queue and writes its own file.
"""

from __future__ import annotations

import atexit
import os
import queue
import sys
import threading
import time
import weakref
from collections import deque
from typing import Any

from tblog import _fs
from tblog.events import sigterm
from tblog.events.files import EventFile
from tblog.events.record import frame, frame_into, frame_parts
from tblog.events.remote import SegmentFile
from tblog.summary.scalar import ScalarEventEncoder


class BackgroundWriteError(RuntimeError):
    """The background thread failed to write events; the cause is chained as ``__cause__``."""


# Queue items are 4-tuples. The hot path appends ``(tag: str, value, step, wall_time)``: a
# legacy scalar for the main event file. Everything else is ``(kind: int, run, payload,
# nbytes)``, where run "" is the main event file and other runs are sub-directories
# (add_scalars), and nbytes is what the item counts against max_pending_bytes.
BYTES = 0  # payload: an encoded Event
SCALAR = 1  # payload: (tag, value, step, wall_time, new_style, double_precision)
MULTI_SCALAR = 2  # payload: (tags, values, step, wall_time), one Event
DEFERRED = 3  # payload: a callable returning an encoded Event, run on the writer thread
_BARRIER = 4  # payload: a _Wakeup, set when everything before it is in the OS

_BATCH_ITEMS = 8192  # items encoded per write, so one drain cannot hold unbounded memory
_RELEASE_BYTES = 4 << 20  # within a batch, free queued bytes for blocked callers this often
_DIRECT_WRITE_BYTES = 64 << 10  # events this large are written without copying them
_JOIN_POLL_SECS = 0.05


class _Wakeup:
    """A ``threading.Event`` for signals between the caller and the writer thread whose
    ``set()`` and ``wait()`` are single C calls.

    ``Event`` and ``Condition`` take their lock in Python code: a KeyboardInterrupt landing
    right after the lock is taken leaves it held for ever, and the writer thread then hangs.
    (For the same reason callers take ``_space_lock`` directly, never ``with _space:``.)
    """

    __slots__ = ("_tokens",)

    def __init__(self) -> None:
        self._tokens: queue.SimpleQueue[None] = queue.SimpleQueue()

    def set(self) -> None:
        self._tokens.put(None)

    def wait(self, timeout: float) -> bool:
        """True when set (the token is taken), False after ``timeout`` seconds."""
        try:
            self._tokens.get(timeout=timeout)
        except queue.Empty:
            return False
        return True

    def clear(self) -> None:
        while True:
            try:
                self._tokens.get_nowait()
            except queue.Empty:
                return


class AsyncWriter:
    """Owns the event files of one run directory and the thread that writes them."""

    # Shared with the thread; (re)set by _new_sync_state() after a fork.
    _space: threading.Condition  # its lock is _space_lock, which callers take directly
    _space_lock: threading.Lock
    _wake: _Wakeup
    _woken: bool  # _wake was set and the thread has not yet taken it
    _closing: bool
    _detached: bool  # close_soon(): the thread closes the files itself
    _pending_bytes: int
    _others_queued: int
    _waiting_producers: int

    def __init__(
        self,
        log_dir: str,
        *,
        filename_suffix: str = "",
        purge_step: int | None = None,
        max_queue: int = 1024,
        flush_secs: float = 10.0,
        max_pending_events: int = 65536,
        max_pending_bytes: int = 64 << 20,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        self.log_dir = log_dir
        # An fsspec URL: files are SegmentFiles, committed on flush, every flush_secs and on close.
        self._remote = _fs.is_url(log_dir)
        self._storage_options = storage_options
        self._commit_at = 0.0  # monotonic time of the next timed commit
        self._suffix = filename_suffix
        self._purge_step = purge_step
        self._wake_at = max_queue
        self._flush_secs = flush_secs
        self._max_events = max_pending_events
        self._max_bytes = max_pending_bytes
        self.queue: deque[tuple[Any, ...]] = deque()
        self.ready = False  # False: the next put goes through _ensure_ready()
        self._thread: threading.Thread | None = None
        self._files: dict[str, EventFile | SegmentFile] = {}
        self._error: BaseException | None = None
        self._dropped = 0
        self._dead = False  # the thread stopped on an I/O error
        self._new_sync_state()
        self._open()
        _live_writers.add(self)

    # ----- caller side -------------------------------------------------------------------

    # Every item is appended, then ``ready`` is read again: ``close()`` sets it False before
    # it drains the queue, so an item appended while it was still True is drained by close(),
    # and a call that finds it False afterwards sees to its item in _after_close_began().

    def put_scalar(self, tag: str, value: Any, step: int, wall_time: float) -> None:
        """Queue a legacy-layout scalar for the main file (the hot path)."""
        if not self.ready:
            self._ensure_ready()
        queue = self.queue
        queue.append((tag, value, step, wall_time))
        if not self.ready:
            self._after_close_began()
        elif len(queue) >= self._wake_at:
            self._kick()

    def put(self, kind: int, run: str, payload: Any, nbytes: int = 64) -> None:
        """Queue any other item; ``nbytes`` counts against ``max_pending_bytes``."""
        if not self.ready:
            self._ensure_ready()
        with self._space_lock:
            # One item larger than the whole budget still goes through, alone.
            while self._pending_bytes and self._pending_bytes + nbytes > self._max_bytes:
                if not self._wait_for_space():
                    break
            self._pending_bytes += nbytes
            self._others_queued += 1
            self.queue.append((kind, run, payload, nbytes))
        if not self.ready:
            self._after_close_began()
        elif len(self.queue) >= self._wake_at:
            self._kick()

    def flush(self) -> None:
        """Return once every event queued before this call is in the OS."""
        if self._thread is None:  # closed: nothing pending
            self._raise_pending_error()
            return
        done = _Wakeup()
        self.put(_BARRIER, "", done, 0)
        self._wake.set()
        while not done.wait(_JOIN_POLL_SECS):  # a thread that fails sets it too (_fail)
            thread = self._thread
            if thread is None or not thread.is_alive():  # never wait on a barrier nobody will take
                self._after_close_began()
        self._raise_pending_error()

    def close(self, timeout: float | None = None) -> None:
        """Flush everything, stop the thread and close the files. Idempotent.

        Other threads may log while one closes: what they logged before close() began is
        written by it; a call that comes after waits for it, then reopens (as after close())."""
        # _state_lock: the signal helper thread, the exit hook or another of the user's
        # threads may close or reopen while the caller does.
        self._state_lock.acquire()  # not ``with``: see _Wakeup
        try:
            self._close(timeout)
        finally:
            self._state_lock.release()

    def _close(self, timeout: float | None) -> None:
        thread = self._thread
        if thread is None:
            self._raise_pending_error()
            return
        self.ready = False
        self._closing = True
        self._wake.set()
        thread.join(timeout)
        if thread.is_alive():
            raise TimeoutError(
                f"tblog: the writer of {self.log_dir} did not finish within {timeout} s; "
                f"{len(self.queue)} events are still pending"
            )
        self._thread = None
        if self._dead:  # the thread failed; what came after cannot be written to its files
            self._drop_queue()
        else:
            try:  # a thread that logged while close() ran may have left a few items
                for _ in range(-(-len(self.queue) // _BATCH_ITEMS)):
                    self._write_batch()
            except Exception as exc:
                self._fail(exc)
                self._dead = True
        self._close_files()
        self._purge_step = None  # like torch: a writer reopened after close() purges nothing
        self._raise_pending_error()

    def close_soon(self) -> None:
        """Ask the thread to write what is pending, close the files and end (no waiting)."""
        if self._thread is not None:
            self._detached = True
            self._closing = True
            self._wake.set()

    def _kick(self) -> None:
        if not self._woken:
            self._woken = True
            self._wake.set()
        if len(self.queue) >= self._max_events:
            with self._space_lock:
                while len(self.queue) >= self._max_events and self._wait_for_space():
                    pass

    def _wait_for_space(self) -> bool:
        """Block (holding ``_space``) until the thread has written a batch.

        False: the thread has ended (close() from another thread or the exit hook, or a
        failure); stop waiting: the item is queued after all, and the caller's check of
        ``ready`` sees to it."""
        self._wake.set()
        self._waiting_producers += 1
        try:
            self._space.wait(_JOIN_POLL_SECS)
        finally:
            self._waiting_producers -= 1
        thread = self._thread
        return not (self._dead or thread is None or not thread.is_alive())

    def _ensure_ready(self) -> None:
        """Raise a background error, or (re)open after close(), a failure or a fork.

        Once the process is ending (an ending signal, or the exit hook and a thread other than
        the main one, such as a daemon thread) a closed writer is not reopened: the call
        blocks until the process ends. Nothing would close a new file, Python 3.12 refuses to
        start threads at shutdown, and returning would lose the event without a word."""
        self._raise_pending_error()
        self._state_lock.acquire()
        try:
            if self._thread is None and self._process_is_ending():
                ending = True
            else:
                ending = False
                if self._thread is None or self._dead:
                    self._reopen()
                self.ready = True
                # The thread may have failed since: it sets _dead, then ready = False. Read
                # _dead after setting ready, so one of the two leaves ready False.
                if self._dead:
                    self.ready = False
        finally:
            self._state_lock.release()
        if ending:
            sigterm.wait_until_process_ends()

    def _after_close_began(self) -> None:
        """This call's item was appended while close() (or a failure) had begun: see that it
        is written, or raise, or block until the process ends; never drop it silently."""
        self._state_lock.acquire()  # a close() under way finishes first
        try:
            self._raise_pending_error()  # the thread failed: the item was dropped with the rest
            if (self._thread is not None and not self._dead) or not self.queue:
                return  # the thread is running, or close() wrote the item
            if self._process_is_ending():
                ending = True
            else:
                ending = False
                self._reopen()  # a new file, as for a call after close(): it writes the queue
                self._wake.set()
        finally:
            self._state_lock.release()
        if ending:
            sigterm.wait_until_process_ends()

    def _process_is_ending(self) -> bool:
        return sigterm.ending_by_tblog() or (
            _exiting and threading.current_thread() is not threading.main_thread()
        )

    def _reopen(self) -> None:
        old = self._thread
        if old is not None and old is not threading.current_thread():
            old.join()  # a failed thread is ending: it must not take the new file's items
        self._thread = None
        self._close_files()
        try:
            self._open()
        except OSError as exc:
            raise BackgroundWriteError(
                f"tblog: cannot open a new event file under {self.log_dir!r} after an earlier failure: {exc}"
            ) from exc

    def _raise_pending_error(self) -> None:
        error = self._error
        if error is None:
            return
        self._error = None
        dropped, self._dropped = self._dropped, 0
        lost = f" {dropped} pending events were not written." if dropped else ""
        then = " The next call opens a new event file." if self._dead else ""
        raise BackgroundWriteError(
            f"tblog: writing events under {self.log_dir!r} failed in the background thread: "
            f"{type(error).__name__}: {error}.{lost}{then}"
        ) from error

    # ----- lifecycle ---------------------------------------------------------------------

    def _new_sync_state(self) -> None:
        self._space_lock = threading.Lock()
        self._space = threading.Condition(self._space_lock)
        self._state_lock = threading.Lock()
        self._wake = _Wakeup()
        self._woken = False
        self._closing = False
        self._detached = False
        self._pending_bytes = 0
        self._others_queued = 0  # queued items that are not hot-path scalars
        self._waiting_producers = 0

    def _open(self) -> None:
        self._files = {"": self._new_file("")}
        self._commit_at = time.monotonic() + self._flush_secs
        self._encoder = ScalarEventEncoder()
        self._closing = False
        self._detached = False
        self._dead = False
        thread = threading.Thread(target=self._run, name=f"tblog-writer:{self.log_dir}", daemon=True)
        sigterm.start_without_signals(thread)
        self._thread = thread  # once started: close() may join it
        self.ready = True
        _flush_at_process_exit()
        sigterm.flush_on_signals(_close_all_on_signal)

    def _close_files(self) -> None:
        files, self._files = self._files, {}
        for event_file in files.values():
            try:
                event_file.close()
            except OSError as exc:
                self._error = self._error or exc

    def _after_fork_in_child(self) -> None:
        """The parent's thread and pending events stay the parent's: start clean."""
        for event_file in self._files.values():
            event_file.abandon()
        self._files = {}
        self.queue.clear()
        self._new_sync_state()
        self._thread = None
        self._error = None
        self._dropped = 0
        self.ready = False

    # ----- background thread -------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                self._wake.wait(self._wait_secs())
                self._wake.clear()
                self._woken = False  # after clear(): a kick in between is drained below
                closing = self._closing  # read before the backlog: close() wants all of it
                # Only the backlog of this wake-up: a producer that keeps the queue full must
                # not keep the thread from checking its files or from ending on close().
                for _ in range(-(-len(self.queue) // _BATCH_ITEMS)):
                    self._write_batch()
                self._check_files()
                if self._remote:
                    self._commit_files(due_only=True)
                if closing:
                    break
        except BaseException as exc:
            self._fail(exc)
            self._dead = True  # after _fail: a reopen may start once it is set (see _reopen)
            self.ready = False  # after _dead: see _ensure_ready
        if self._detached:
            self._close_files()

    def _fail(self, exc: BaseException) -> None:
        """Keep the error for the caller; drop what can no longer be written."""
        self._error = self._error or exc
        self.ready = False
        self._drop_queue()

    def _drop_queue(self) -> None:
        items = []
        # Under the lock put() appends under: an item counted in _others_queued is either
        # taken here or appended (and counted) after the counters are reset.
        with self._space:
            while self.queue:  # popleft, not clear(): a hot-path scalar may come meanwhile
                items.append(self.queue.popleft())
            self._pending_bytes = 0
            self._others_queued = 0
            self._space.notify_all()
        self._dropped += len(items) - _release_barriers(items)

    def _report(self, exc: BaseException) -> None:
        """Keep an error for the caller's next call; the thread goes on."""
        self._error = self._error or exc
        self.ready = False

    def _write_batch(self) -> None:
        """Encode, frame and write up to _BATCH_ITEMS queued items."""
        queue = self.queue
        count = min(len(queue), _BATCH_ITEMS)
        # Read after ``count``: an item of another kind among the first ``count`` items was
        # counted before it was appended, hence before ``count`` was taken.
        others_queued = self._others_queued
        popleft = queue.popleft
        items = [popleft() for _ in range(count)]
        buffers: dict[str, bytearray] = {"": bytearray()}
        if not others_queued:  # the hot path: nothing but legacy scalars
            self._frame_scalars(items, buffers[""])
            self._write_buffers(buffers)
        else:
            try:
                self._write_mixed(items, buffers)
            except BaseException as exc:
                self._error = self._error or exc  # first: the flush() calls woken next raise it
                _release_barriers(items)
                raise
        if self._waiting_producers:
            with self._space:
                self._space.notify_all()

    def _write_mixed(self, items: list[tuple[Any, ...]], buffers: dict[str, bytearray]) -> None:
        scalars: list[tuple[Any, ...]] = []
        others = nbytes = 0  # taken off the queue, not yet released to waiting callers
        for item in items:
            if type(item[0]) is str:
                scalars.append(item)
                continue
            if scalars:
                self._frame_scalars(scalars, buffers[""])
                scalars = []
            kind, run, payload, size = item
            others += 1
            nbytes += size
            if kind == _BARRIER:
                self._write_buffers(buffers)
                if self._remote:  # flush() promises the events are uploaded
                    self._commit_files()
                self._check_files()  # flush() promises a file that still exists
                payload.set()
                continue
            try:
                event = self._encode(kind, payload)
            except Exception as exc:  # a value that could not be read: skip it, report it
                self._report(exc)
                continue
            buffer = buffers.get(run)
            if buffer is None:
                buffer = buffers[run] = bytearray()
            if len(event) < _DIRECT_WRITE_BYTES:
                buffer += frame(event)
            else:  # large (images, histograms, …): no copy into the buffer; keep file order
                if buffer:
                    self._write_buffers({run: buffer})
                event_file = self._file(run)
                if event_file is not None:
                    event_file.write_parts(frame_parts(event))
            if nbytes >= _RELEASE_BYTES:  # let blocked callers go on while this batch runs
                self._write_buffers(buffers)
                self._release(others, nbytes)
                others = nbytes = 0
        if scalars:
            self._frame_scalars(scalars, buffers[""])
        self._write_buffers(buffers)
        self._release(others, nbytes)

    def _release(self, others: int, nbytes: int) -> None:
        """Written: those items no longer count against the queue's bounds."""
        with self._space:
            self._others_queued -= others
            self._pending_bytes -= nbytes
            if self._waiting_producers:
                self._space.notify_all()

    def _encode(self, kind: int, payload: Any) -> bytes:
        if kind == BYTES:
            return payload
        if kind == SCALAR:
            return self._encoder.event(*payload)
        if kind == MULTI_SCALAR:
            return self._encoder.multi_event(*payload)
        if kind == DEFERRED:
            return payload()
        raise ValueError(f"unknown queue item kind {kind!r}")

    def _frame_scalars(self, scalars: list[tuple[Any, ...]], out: bytearray) -> None:
        try:
            frame_into(out, self._encoder.legacy_events(scalars))
        except Exception:  # one unreadable device value: encode one by one, skip the bad ones
            for item in scalars:
                try:
                    out += frame(self._encoder.event(*item))
                except Exception as exc:
                    self._report(exc)

    def _write_buffers(self, buffers: dict[str, bytearray]) -> None:
        for run, buffer in buffers.items():
            if buffer:
                event_file = self._file(run)
                if event_file is not None:
                    event_file.write(buffer)
                buffer.clear()

    def _check_files(self) -> None:
        for event_file in self._files.values():
            event_file.check()

    def _file(self, run: str) -> EventFile | SegmentFile | None:
        """The run's file, created on first use. None: a sub-run's file could not be created
        (a file where its directory should be, say); its events are dropped and the error is
        reported, while the main file and the other runs go on."""
        event_file = self._files.get(run)
        if event_file is None:
            try:
                event_file = self._new_file(run)
            except OSError as exc:
                if not run:
                    raise
                self._report(exc)
                return None
            self._files[run] = event_file
        return event_file

    def _new_file(self, run: str) -> EventFile | SegmentFile:
        if self._remote:
            directory = _fs.join(self.log_dir, run)
            segments = SegmentFile(directory, self._suffix, self._purge_step, self._storage_options)
            if not run:
                # The store's client (s3fs, aiohttp) registers exit hooks that close its sessions
                # on first use, i.e. just now; atexit runs the hook registered last first, so
                # register tblog's again to upload what is pending before they close.
                atexit.unregister(_close_all_at_exit)
                atexit.register(_close_all_at_exit)
            return segments
        return EventFile(
            os.path.join(self.log_dir, run) if run else self.log_dir, self._suffix, self._purge_step
        )

    # A remote run uploads a segment per flush and per flush_secs, not per max_queue wake-up:
    # that would make thousands of tiny objects.
    def _wait_secs(self) -> float:
        if not self._remote:
            return self._flush_secs
        return min(self._flush_secs, max(0.0, self._commit_at - time.monotonic()))

    def _commit_files(self, due_only: bool = False) -> None:
        now = time.monotonic()
        if due_only and now < self._commit_at:
            return
        self._commit_at = now + self._flush_secs
        for event_file in list(self._files.values()):
            if isinstance(event_file, SegmentFile):
                event_file.commit()


def _release_barriers(items: list[tuple[Any, ...]]) -> int:
    """Wake the flush() calls waiting on the barriers among ``items``; how many there were."""
    barriers = [item for item in items if type(item[0]) is int and item[0] == _BARRIER]
    for item in barriers:
        item[2].set()
    return len(barriers)


# Every open writer, for the at-exit flush and the fork handler. The thread of a writer holds
# a strong reference to it, so a writer with pending events stays here until it is closed.
_live_writers: weakref.WeakSet[AsyncWriter] = weakref.WeakSet()

_EXIT_TIMEOUT_SECS = 60.0
_exiting = False  # the process is ending: writers closed by the exit hook stay closed


def flush_on_signals() -> None:
    """Flush every writer on SIGTERM and SIGHUP, also writers created on other threads.

    ``import tblog`` does this when it runs in the main thread, as it nearly always does;
    Python lets only the main thread install signal handlers, so a program that first
    imports tblog on another thread calls this once from the main thread. Where the signal
    already has a handler (yours, a framework's) nothing changes: that handler decides, and
    may call ``close()`` or chain to the handler it replaced."""
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError(
            "tblog.flush_on_signals() must be called from the main thread (Python installs "
            f"signal handlers there only); it was called from {threading.current_thread().name!r}"
        )
    sigterm.flush_on_signals(_close_all_on_signal)


def _close_all_at_exit() -> None:
    global _exiting
    _exiting = True
    _close_all("at exit")
    sigterm.end_if_terminated_in_main_thread()


def _close_all_on_signal() -> None:
    """The signal helper's flush. Not the exit's: a handler of the user's that chained to
    tblog's may let the process go on, and then every thread may log on (into new files)."""
    _close_all("on a signal")


def _close_all(when: str) -> None:
    for writer in list(_live_writers):
        try:
            writer.close(timeout=_EXIT_TIMEOUT_SECS)
        except Exception as exc:  # the process may be ending: report, never raise
            print(f"tblog: {when}, {exc}", file=sys.stderr)


_exit_hooked_pid: int | None = None


def _flush_at_process_exit() -> None:
    """Flush at the end of a multiprocessing child too.

    Children started with ``fork`` or ``forkserver`` (multiprocessing, torch DataLoader workers)
    end with ``os._exit``, which skips atexit hooks; multiprocessing runs its own finalizers
    first. A child clears those when it starts (after unpickling its arguments, which may
    open a writer), then runs its after-fork hooks: so the flush is registered from one.
    """
    global _exit_hooked_pid
    util = sys.modules.get("multiprocessing.util")
    if util is None or _exit_hooked_pid == os.getpid():
        return
    _exit_hooked_pid = os.getpid()
    util.register_after_fork(_exit_hook_token, _finalize_in_child)
    _finalize_in_child(_exit_hook_token)


class _ExitHookToken:
    """A weakly referenceable key for multiprocessing's after-fork registry."""


_exit_hook_token = _ExitHookToken()


def _finalize_in_child(token: object) -> None:
    process = sys.modules.get("multiprocessing.process")
    util = sys.modules.get("multiprocessing.util")
    if process is not None and util is not None and process.parent_process() is not None:
        util.Finalize(None, _close_all_at_exit, exitpriority=0)


def _after_fork_in_child() -> None:
    for writer in list(_live_writers):
        writer._after_fork_in_child()


atexit.register(_close_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

__all__ = [
    "BYTES",
    "DEFERRED",
    "MULTI_SCALAR",
    "SCALAR",
    "AsyncWriter",
    "BackgroundWriteError",
    "flush_on_signals",
]
