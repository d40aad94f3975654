"""Profiles in the run directory, where TensorBoard's profile plugin and Perfetto find them.

``profile_run_dir(log_dir)`` makes a fresh ``<log_dir>/plugins/profile/<YYYY_MM_DD_HH_MM_SS>[_n]``
directory: the layout of TensorBoard's profile plugin (``pip install
tensorboard-plugin-profile``). The framework adapters (``tblog.adapters.torch.profile``,
``tblog.adapters.jax.profile``) put their profilers' traces there.

``StepProfiler`` needs no framework: it records wall-clock spans of a plain Python training
loop (NumPy, or anything else) as a Chrome trace, one ``ProfilerStep#N`` span per step::

    with StepProfiler(writer) as prof:
        for step in range(100):
            with prof.step(step):
                with prof.span("forward"):
                    ...
                with prof.span("backward"):
                    ...

or, like ``torch.profiler``'s ``prof.step()``, call ``prof.next_step()`` once per iteration.
On exit (or ``write()``) it writes ``<host>.trace.json.gz`` into a new profile run directory. Open it in
https://ui.perfetto.dev, or with the profile plugin's trace viewer in TensorBoard. With a writer
on a rank that does not write (``writer.is_writing`` False) it records and writes nothing.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

__all__ = ["StepProfiler", "profile_run_dir"]


def profile_run_dir(log_dir: str) -> str:
    """Create and return a new ``<log_dir>/plugins/profile/<timestamp>[_n]`` directory."""
    if "://" in log_dir:  # an fsspec URL (s3://…): traces are written with local file calls
        raise NotImplementedError(
            f"profile traces are written into a local log directory; {log_dir!r} is a URL. "
            "Profile with a SummaryWriter on a local directory and copy it over."
        )
    root = os.path.join(log_dir, "plugins", "profile")
    os.makedirs(root, exist_ok=True)
    stamp = time.strftime("%Y_%m_%d_%H_%M_%S", time.localtime())
    for n in range(10_000):
        run_dir = os.path.join(root, stamp if n == 0 else f"{stamp}_{n}")
        try:
            os.mkdir(run_dir)  # atomic: two profilers never share a directory
            return run_dir
        except FileExistsError:
            continue
    raise FileExistsError(f"no free profile directory name under {root} for {stamp}")


class StepProfiler:
    """Records step and span timings of a Python loop as a Chrome trace (see module doc)."""

    def __init__(self, writer: Any, name: str = "train") -> None:
        log_dir = getattr(writer, "log_dir", None)
        if not isinstance(log_dir, str):
            raise TypeError(f"writer must be a tblog.SummaryWriter; got {type(writer).__name__}")
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty str; got {name!r}")
        self.log_dir = log_dir
        self.name = name
        self.path: str | None = None  # the trace file, once written
        self.enabled = bool(getattr(writer, "is_writing", True))
        self._events: list[dict[str, Any]] = []
        self._origin = time.perf_counter_ns()
        self._pid = os.getpid()
        self._open_step: tuple[int, int] | None = None  # (step, start) of next_step()'s span

    @contextmanager
    def step(self, step: int) -> Iterator[None]:
        """Mark one training step (``ProfilerStep#<step>``, as torch names them)."""
        with self._record(f"ProfilerStep#{int(step)}", "user_annotation", {"step": int(step)}):
            yield

    def next_step(self, step: int | None = None) -> None:
        """End the step opened by the previous call (if any) and start ``step`` (default: the
        previous step + 1, or 0 at first): one call per iteration, as torch's ``prof.step()``."""
        now = time.perf_counter_ns()
        previous = self._end_open_step(now)
        step = (0 if previous is None else previous + 1) if step is None else int(step)
        self._open_step = (step, now)

    def _end_open_step(self, now: int) -> int | None:
        if self._open_step is None:
            return None
        step, start = self._open_step
        self._open_step = None
        self._add(f"ProfilerStep#{step}", "user_annotation", {"step": step}, start, now)
        return step

    @contextmanager
    def span(self, name: str) -> Iterator[None]:
        """Time one part of a step (forward, backward, data loading, …)."""
        with self._record(str(name), "cpu_op", None):
            yield

    @contextmanager
    def _record(self, name: str, category: str, args: dict[str, Any] | None) -> Iterator[None]:
        start = time.perf_counter_ns()
        try:
            yield
        finally:
            self._add(name, category, args, start, time.perf_counter_ns())

    def _add(self, name: str, category: str, args: dict[str, Any] | None, start: int, end: int) -> None:
        if not self.enabled:
            return
        event: dict[str, Any] = {
            "name": name,
            "cat": category,
            "ph": "X",  # a complete event: start and duration, in microseconds
            "ts": (start - self._origin) / 1000,
            "dur": (end - start) / 1000,
            "pid": self._pid,
            "tid": threading.get_ident(),
        }
        if args:
            event["args"] = args
        self._events.append(event)

    def write(self) -> str | None:
        """Write the trace recorded so far into a new profile run directory; return its path
        (None, and nothing written, on a rank whose writer does not write)."""
        self._end_open_step(time.perf_counter_ns())
        if not self.enabled:
            return None
        trace = {
            "displayTimeUnit": "ms",
            "traceEvents": [
                {"name": "process_name", "ph": "M", "pid": self._pid, "args": {"name": self.name}},
                *self._events,
            ],
        }
        run_dir = profile_run_dir(self.log_dir)
        host = socket.gethostname() or "localhost"
        self.path = os.path.join(run_dir, f"{host}.trace.json.gz")
        with gzip.open(self.path, "wt", encoding="utf-8", compresslevel=6) as out:
            json.dump(trace, out)
        return self.path

    def __enter__(self) -> StepProfiler:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.write()  # also after an exception: the steps so far are what one wants to see
