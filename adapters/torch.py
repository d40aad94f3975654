"""PyTorch adapter: ``torch.profiler`` traces written into a tblog run directory.

Import it explicitly (``import tblog.adapters.torch``); ``import tblog`` never loads torch.
"""

from __future__ import annotations

import gzip
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from typing import Any

import torch
import torch.profiler

from tblog import _convert
from tblog.profile import profile_run_dir

__all__ = ["profile", "trace_handler"]


def _count(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an int >= {minimum}, got {_convert.describe(value)}")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return value


def _log_dir(writer: Any) -> str:
    log_dir = getattr(writer, "log_dir", None)
    if not isinstance(log_dir, str) or not hasattr(writer, "_events"):
        raise TypeError(f"writer: expected a tblog.SummaryWriter, got {_convert.describe(writer)}")
    return log_dir


def trace_handler(log_dir: str) -> Callable[[Any], None]:
    """An ``on_trace_ready`` handler for ``torch.profiler.profile``.

    Each finished trace goes to ``<log_dir>/plugins/profile/<timestamp>/<host>.pt.trace.json.gz``:
    torch's Chrome trace JSON (``{"traceEvents": [...]}``, with ``ProfilerStep#N`` events
    for the steps), gzip-compressed. ``<timestamp>`` is ``YYYY_MM_DD_HH_MM_SS`` (plus
    ``_<n>`` if that directory exists already), the run layout TensorBoard's profile tools
    use.
    """
    host = socket.gethostname() or "localhost"

    def handle(prof: Any) -> None:
        run_dir = profile_run_dir(log_dir)
        target = os.path.join(run_dir, f"{host}.pt.trace.json.gz")
        fd, tmp = tempfile.mkstemp(suffix=".json", dir=run_dir)
        os.close(fd)
        try:
            prof.export_chrome_trace(tmp)
            partial = target + ".tmp"
            with open(tmp, "rb") as src, gzip.open(partial, "wb", compresslevel=6) as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            os.replace(partial, target)
        finally:
            os.remove(tmp)

    return handle


def profile(
    writer: Any,
    wait: int = 1,
    warmup: int = 1,
    active: int = 3,
    repeat: int = 1,
    **profiler_kwargs: Any,
) -> torch.profiler.profile:
    """A ``torch.profiler.profile`` that writes its traces into ``writer``'s run directory.

    The schedule is ``torch.profiler.schedule(wait=, warmup=, active=, repeat=)``: call
    ``prof.step()`` at the end of every training step; each ``active`` window is saved by
    :func:`trace_handler` to ``<log_dir>/plugins/profile/<timestamp>/<host>.pt.trace.json.gz``
    with one ``ProfilerStep#N`` event per step. Other keyword arguments go to
    ``torch.profiler.profile`` (``activities``, ``record_shapes``, ``profile_memory``,
    ``with_stack``...)::

        with tblog.adapters.torch.profile(writer, wait=1, warmup=1, active=3) as prof:
            for batch in loader:
                train_step(batch)
                prof.step()

    Viewing: open the ``.pt.trace.json.gz`` file at https://ui.perfetto.dev (or
    ``chrome://tracing``); or ``pip install torch-tb-profiler`` and run ``tensorboard
    --logdir`` on the log directory (its PYTORCH_PROFILER tab finds ``*.pt.trace.json.gz``
    under the run). TensorBoard's ``tensorboard-plugin-profile`` (PROFILE tab) reads the
    ``plugins/profile/<timestamp>/`` layout for its trace viewer.
    """
    log_dir = _log_dir(writer)
    _count(wait, "wait", 0)
    _count(warmup, "warmup", 0)
    _count(active, "active", 1)
    _count(repeat, "repeat", 0)
    if "schedule" in profiler_kwargs or "on_trace_ready" in profiler_kwargs:
        raise TypeError(
            "profile(): schedule and on_trace_ready are set from wait/warmup/active/repeat "
            "and the run directory; use torch.profiler.profile directly for your own"
        )
    writer.flush()
    return torch.profiler.profile(
        schedule=torch.profiler.schedule(wait=wait, warmup=warmup, active=active, repeat=repeat),
        on_trace_ready=trace_handler(log_dir),
        **profiler_kwargs,
    )
