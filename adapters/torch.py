"""PyTorch adapter: a training-loop tracker, model watching, and profiler traces.

Import it explicitly (``import tblog.adapters.torch``); ``import tblog`` never loads torch.

* :func:`track` attaches to an optimizer's step hooks: every step counted; every
  ``log_every`` steps the learning rates, the global gradient norm, the step time, the
  throughput and (on CUDA) the memory counters are logged.
* :func:`watch` logs histograms and norms of a model's parameters and/or gradients every
  ``log_freq`` training forward passes, binned on the tensors' device.
* :func:`profile` / :func:`trace_handler`: ``torch.profiler`` traces in the run directory.

With a writer on a rank that does not write (``writer.is_writing`` False, see
``SummaryWriter(rank=, per_rank=)``) they keep counting steps but compute and log nothing,
and :func:`profile` records nothing.

None of them calls ``.item()`` (or any other host read of a device tensor) in the training
thread: device values go to ``SummaryWriter.add_scalar`` / the writer's deferred queue as
device tensors and are read on the writer's background thread. The same holds for logging
a loss yourself: ``writer.add_scalar("loss", loss, step)`` with a CUDA ``loss`` does not sync.
"""

from __future__ import annotations

import gzip
import math
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import numpy as np
import torch
import torch.profiler

from tblog import _convert
from tblog.profile import profile_run_dir
from tblog.summary import _wire
from tblog.summary import histogram as _histogram

__all__ = ["OptimizerTracker", "WatchHandle", "profile", "trace_handler", "track", "watch"]


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
    if not getattr(writer, "is_writing", True):  # a profiler that never starts recording
        return torch.profiler.profile(schedule=_never, **profiler_kwargs)
    return torch.profiler.profile(
        schedule=torch.profiler.schedule(wait=wait, warmup=warmup, active=active, repeat=repeat),
        on_trace_ready=trace_handler(log_dir),
        **profiler_kwargs,
    )


def _never(step: int) -> torch.profiler.ProfilerAction:
    return torch.profiler.ProfilerAction.NONE


# ----- training-loop tracker ---------------------------------------------------------------


def _tblog_writer(writer: Any) -> Any:
    if not hasattr(writer, "_put_deferred") or not hasattr(writer, "add_scalar"):
        raise TypeError(f"writer: expected a tblog.SummaryWriter, got {_convert.describe(writer)}")
    return writer


def _prefixed(prefix: Any) -> str:
    if not isinstance(prefix, str):
        raise TypeError(f"prefix: expected a str, got {_convert.describe(prefix)}")
    prefix = prefix.strip("/")
    return prefix + "/" if prefix else ""


def _global_grad_norm(optimizer: torch.optim.Optimizer) -> torch.Tensor | None:
    """The 2-norm of every gradient together, as one tensor on the first gradient's device.

    The same value as ``torch.nn.utils.clip_grad_norm_(params, max_norm=inf)``; computed
    with device ops only (per-tensor norms, stacked, normed), so nothing is read back.
    """
    grads = [
        p.grad.detach()
        for group in optimizer.param_groups
        for p in group["params"]
        if isinstance(p, torch.Tensor) and p.grad is not None
    ]
    if not grads:
        return None
    device = grads[0].device
    norms = []
    for grad in grads:
        if grad.is_sparse:
            grad = grad.coalesce()._values()
        norms.append(torch.linalg.vector_norm(grad, 2.0).to(device))
    return torch.linalg.vector_norm(torch.stack(norms), 2.0)


class OptimizerTracker:
    """Hooks on an optimizer that log training-loop statistics; made by :func:`track`.

    ``step``: optimizer steps counted so far (plus ``start_step``). ``remove()`` (or leaving
    the ``with`` block) takes the hooks off; the optimizer then behaves as if never tracked.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        writer: Any,
        log_every: int,
        batch_size: int | None,
        prefix: str,
        start_step: int,
    ) -> None:
        self.optimizer = optimizer
        self.writer = writer
        self.log_every = log_every
        self.batch_size = batch_size
        self.prefix = prefix
        self.step = start_step
        self._writing = bool(getattr(writer, "is_writing", True))
        self._grad_norm: torch.Tensor | None = None
        self._last_time: float | None = None
        self._last_step = start_step
        self._handles = [
            optimizer.register_step_pre_hook(self._pre_hook),
            optimizer.register_step_post_hook(self._post_hook),
        ]

    def _pre_hook(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        if self._last_time is None:
            self._last_time = time.perf_counter()
        if self._writing and (self.step + 1) % self.log_every == 0:
            with torch.no_grad():
                self._grad_norm = _global_grad_norm(self.optimizer)

    def _post_hook(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        self.step += 1
        if self.step % self.log_every or not self._writing:
            return
        now = time.perf_counter()
        writer, tag, step = self.writer, self.prefix, self.step
        for index, group in enumerate(self.optimizer.param_groups):
            lr = group.get("lr")
            if lr is not None:
                writer.add_scalar(f"{tag}lr/group{index}", lr, step)
        if self._grad_norm is not None:
            writer.add_scalar(f"{tag}grad_norm", self._grad_norm, step)
            self._grad_norm = None
        steps = step - self._last_step
        if self._last_time is not None and steps > 0 and now > self._last_time:
            elapsed = now - self._last_time
            writer.add_scalar(f"{tag}step_time", elapsed / steps, step)
            if self.batch_size is not None:
                writer.add_scalar(f"{tag}samples_per_sec", self.batch_size * steps / elapsed, step)
        self._last_time, self._last_step = now, step
        device = self._cuda_device()
        if device is not None:
            gib = float(1 << 30)
            writer.add_scalar(f"{tag}memory/allocated_gib", torch.cuda.memory_allocated(device) / gib, step)
            writer.add_scalar(
                f"{tag}memory/max_allocated_gib", torch.cuda.max_memory_allocated(device) / gib, step
            )
            writer.add_scalar(f"{tag}memory/reserved_gib", torch.cuda.memory_reserved(device) / gib, step)

    def _cuda_device(self) -> torch.device | None:
        if not torch.cuda.is_available():
            return None
        for group in self.optimizer.param_groups:
            for p in group["params"]:
                if isinstance(p, torch.Tensor) and p.device.type == "cuda":
                    return p.device
        return None

    def log(self, name: str, value: Any) -> bool:
        """Log ``value`` as ``<prefix>/<name>`` if the last optimizer step was a logging step.

        Call it after ``optimizer.step()``, e.g. ``tracker.log("loss", loss)``: a CUDA
        ``loss`` is read on the writer thread, never with ``.item()`` here. Returns whether
        it logged.
        """
        _convert.tag(name)
        if self.step == 0 or self.step % self.log_every or not self._writing:
            return False
        self.writer.add_scalar(f"{self.prefix}{name}", value, self.step)
        return True

    def remove(self) -> None:
        """Take the hooks off the optimizer (idempotent)."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self) -> OptimizerTracker:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.remove()


def track(
    optimizer: Any,
    writer: Any,
    log_every: int = 10,
    batch_size: int | None = None,
    prefix: str = "train",
    start_step: int = 0,
) -> OptimizerTracker:
    """Attach to ``optimizer``'s step hooks and log the training loop every ``log_every`` steps.

    Every ``optimizer.step()`` is counted (``tracker.step``, starting at ``start_step``); on
    every ``log_every``-th step, at that step number, it logs (tags under ``prefix/``):

    * ``lr/group<i>``: each param group's learning rate (after any scheduler change);
    * ``grad_norm``: the 2-norm of all gradients together, taken just before the step (the
      value ``clip_grad_norm_(params, inf)`` returns), computed on the gradients' device
      and handed to the writer as a device tensor (read on the writer thread);
    * ``step_time``: mean wall seconds per step since the last log (the whole loop
      iteration; on CUDA the host may run ahead of the device, which evens out over
      ``log_every`` steps);
    * ``samples_per_sec``: ``batch_size`` × steps / elapsed, when ``batch_size`` is given;
    * ``memory/allocated_gib``, ``memory/max_allocated_gib``, ``memory/reserved_gib``: the
      CUDA caching allocator's counters (host-side, no sync), when the parameters are on
      CUDA. The peak is never reset here.

    ::

        with tblog.adapters.torch.track(optimizer, writer, log_every=10, batch_size=64) as tracker:
            for x, y in loader:
                loss = loss_fn(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                tracker.log("loss", loss)  # no .item(): read on the writer thread

    The hooks never change the optimizer's work; ``tracker.remove()`` (or leaving the
    ``with`` block) takes them off.
    """
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer: expected a torch.optim.Optimizer, got {_convert.describe(optimizer)}")
    _tblog_writer(writer)
    log_every = _count(log_every, "log_every", 1)
    if batch_size is not None:
        batch_size = _count(batch_size, "batch_size", 1)
    start_step = _count(start_step, "start_step", 0)
    return OptimizerTracker(optimizer, writer, log_every, batch_size, _prefixed(prefix), start_step)


# ----- watching a model --------------------------------------------------------------------

_WATCH_LOGS = ("gradients", "parameters", "all")
_edge_cache: dict[tuple[torch.device, torch.dtype], torch.Tensor] = {}


def _device_edges(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    key = (device, dtype)
    edges = _edge_cache.get(key)
    if edges is None:
        edges = torch.from_numpy(np.array(_histogram.tensorflow_edges())).to(device=device, dtype=dtype)
        _edge_cache[key] = edges
    return edges


def _log_device_histogram(writer: Any, tag: str, tensor: torch.Tensor, step: int) -> None:
    """Bin ``tensor`` on its device into TensorBoard's default buckets; read on the writer thread.

    Only the bucket counts (about 1,500 int64) and six statistics leave the device. NaN and
    ±inf are left out of the histogram (``num`` counts the finite values); a tensor with no
    finite value logs nothing.
    """
    flat = tensor.detach().reshape(-1)
    if flat.numel() == 0:
        return
    dtype = torch.float32 if flat.device.type == "mps" else torch.float64
    flat = flat.to(dtype)
    edges = _device_edges(flat.device, dtype)
    finite = torch.isfinite(flat)
    clean = torch.where(finite, flat, torch.zeros((), dtype=dtype, device=flat.device))
    padded = torch.bincount(torch.bucketize(clean, edges, right=True), minlength=edges.numel() + 1)
    inf = torch.tensor(math.inf, dtype=dtype, device=flat.device)
    stats = torch.stack(
        [
            torch.where(finite, flat, inf).min(),
            torch.where(finite, flat, -inf).max(),
            finite.sum().to(dtype),
            clean.sum(),
            clean.dot(clean),
            (clean == edges[-1]).sum().to(dtype),
        ]
    )
    zero_bin = int((edges.numel() - 1) // 2) + 1  # index of [0, first positive edge)
    size = flat.numel()  # the closure keeps only the counts and the statistics
    step, wall = writer._step_and_wall(step, None)
    host_edges = _histogram.tensorflow_edges()

    def encode() -> bytes:
        counts_padded = padded.cpu().numpy().astype(np.int64)
        vmin, vmax, num, total, squares, on_last_edge = (float(x) for x in stats.cpu().tolist())
        counts_padded[zero_bin] -= size - int(num)  # the non-finite values, binned as 0
        if num == 0:
            return _wire.event(wall, step, _wire.summary([]))
        counts = counts_padded[1:-1]
        below, above = int(counts_padded[0]), int(counts_padded[-1])
        if on_last_edge:  # np.histogram's last bin is closed
            counts[-1] += int(on_last_edge)
            above -= int(on_last_edge)
        limits = host_edges
        if below or above:
            counts = np.concatenate([[below] if below else [], counts, [above] if above else []])
            limits = np.concatenate([[vmin] if below else [], limits, [vmax] if above else []])
        kept, kept_limits = _histogram._support(counts.astype(np.int64), limits)
        value = _histogram.histogram_raw_value(tag, vmin, vmax, num, total, squares, kept_limits, kept)
        return _wire.event(wall, step, _wire.summary([value]))

    writer._put_deferred(encode, int(padded.numel()) * 8 + 64)


class WatchHandle:
    """Hooks on a model that log histograms and norms; made by :func:`watch`.

    ``step``: training-mode forward passes counted so far. ``remove()`` (or leaving the
    ``with`` block) takes every hook off.
    """

    def __init__(self, model: torch.nn.Module, writer: Any, log: str, log_freq: int) -> None:
        self.model = model
        self.writer = writer
        self.log = log
        self.log_freq = log_freq
        self.step = 0
        self._writing = bool(getattr(writer, "is_writing", True))
        self._logged_grads: set[str] = set()
        self._handles: list[Any] = [model.register_forward_pre_hook(self._forward_pre_hook)]
        if log in ("gradients", "all") and self._writing:
            for name, param in model.named_parameters():
                if param.requires_grad:
                    self._handles.append(param.register_post_accumulate_grad_hook(self._grad_hook(name)))

    def _forward_pre_hook(self, module: Any, args: Any) -> None:
        if not module.training:
            return
        self.step += 1
        self._logged_grads.clear()
        if self.step % self.log_freq or self.log == "gradients" or not self._writing:
            return
        with torch.no_grad():
            for name, param in self.model.named_parameters():
                self._log_tensor("parameters", name, param)

    def _grad_hook(self, name: str) -> Callable[[torch.Tensor], None]:
        def hook(param: torch.Tensor) -> None:
            if self.step == 0 or self.step % self.log_freq or name in self._logged_grads:
                return
            if param.grad is None:
                return
            self._logged_grads.add(name)
            with torch.no_grad():
                self._log_tensor("gradients", name, param.grad)

        return hook

    def _log_tensor(self, kind: str, name: str, tensor: torch.Tensor) -> None:
        tensor = tensor.detach()
        if tensor.is_sparse:
            tensor = tensor.coalesce()._values()
        if tensor.is_complex() or tensor.numel() == 0:
            return
        _log_device_histogram(self.writer, f"{kind}/{name}", tensor, self.step)
        norm = torch.linalg.vector_norm(
            tensor.to(torch.float32 if tensor.device.type == "mps" else torch.float64)
        )
        self.writer.add_scalar(f"{kind}_norm/{name}", norm, self.step)

    def remove(self) -> None:
        """Take every hook off the model (idempotent)."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self) -> WatchHandle:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.remove()


def watch(model: Any, writer: Any, log: str = "gradients", log_freq: int = 100) -> WatchHandle:
    """Log histograms and norms of ``model``'s parameters and/or gradients every ``log_freq`` steps.

    ``log``: ``"gradients"`` (default), ``"parameters"`` or ``"all"``. A step is one forward
    pass of ``model`` in training mode (``model.train()``; eval passes are not counted).
    On every ``log_freq``-th step it logs, at that step number:

    * ``parameters/<name>`` (histogram) and ``parameters_norm/<name>`` (2-norm), as the
      weights are when that forward pass starts;
    * ``gradients/<name>`` and ``gradients_norm/<name>``, when that step's backward has
      accumulated the parameter's ``.grad`` (the first backward after the forward, with
      any gradient accumulated from earlier backwards that were not zeroed).

    Binning runs on the tensor's device (``torch.bucketize`` into TensorBoard's default
    exponential buckets, the ones ``add_histogram`` uses, then ``torch.bincount``), so only
    the bucket counts and a few statistics cross to the host, and that read happens on the
    writer's background thread: the training thread never syncs. NaN/±inf values are left
    out of a histogram (its ``num`` counts the finite values). ::

        handle = tblog.adapters.torch.watch(model, writer, log="all", log_freq=100)
        ...
        handle.remove()
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {_convert.describe(model)}")
    _tblog_writer(writer)
    if not isinstance(log, str) or log not in _WATCH_LOGS:
        raise ValueError(f"log: expected one of {_WATCH_LOGS}, got {log!r}")
    log_freq = _count(log_freq, "log_freq", 1)
    return WatchHandle(model, writer, log, log_freq)
