"""JAX adapter: a function's jaxpr in TensorBoard's Graphs dashboard, and profiler traces.

Import it explicitly (``import tblog.adapters.jax``); ``import tblog`` never loads JAX.

- :func:`add_graph` traces a function with ``jax.make_jaxpr`` and writes the jaxpr as a
  ``GraphDef``: one node per equation (op = primitive name), edges by variable, output shapes
  and dtypes as attributes, nested jaxprs (``jit``, ``scan``, ``cond``, ``while``,
  ``custom_jvp_call``, ``custom_vjp_call``, ``checkpoint``) and ``jax.named_scope`` names as
  name scopes.
- :func:`profile` records a ``jax.profiler`` trace with step markers into the run directory.
- :func:`log_step` wraps a training step ``step(state, batch) -> (state, metrics)``: counts
  steps and logs the metrics pytree (and optionally parameter histograms) every N steps,
  without waiting for the device.
- :func:`scalar` and :func:`scalars` log from inside ``jax.jit`` (ordered host callbacks, the
  step may be traced); :func:`flush` and :func:`close` wait for those callbacks first.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import jax
import jax.experimental
import jax.numpy as jnp
import numpy as np

from tblog import _convert
from tblog.events.async_writer import BYTES
from tblog.profile import profile_run_dir
from tblog.proto import attr_value_pb2, graph_pb2, node_def_pb2, tensor_shape_pb2, types_pb2
from tblog.summary import _wire

__all__ = [
    "add_graph",
    "graph_def",
    "profile",
    "JaxProfile",
    "log_step",
    "LoggedStep",
    "scalar",
    "scalars",
    "flush",
    "close",
]

EVENT_GRAPH_DEF = b"\x22"  # Event field 4, length-delimited

_DTYPES = {
    "float16": types_pb2.DT_HALF,
    "bfloat16": types_pb2.DT_BFLOAT16,
    "float32": types_pb2.DT_FLOAT,
    "float64": types_pb2.DT_DOUBLE,
    "int8": types_pb2.DT_INT8,
    "int16": types_pb2.DT_INT16,
    "int32": types_pb2.DT_INT32,
    "int64": types_pb2.DT_INT64,
    "uint8": types_pb2.DT_UINT8,
    "uint16": types_pb2.DT_UINT16,
    "uint32": types_pb2.DT_UINT32,
    "uint64": types_pb2.DT_UINT64,
    "bool": types_pb2.DT_BOOL,
    "complex64": types_pb2.DT_COMPLEX64,
    "complex128": types_pb2.DT_COMPLEX128,
}
_BAD_CHARS = re.compile(r"[^A-Za-z0-9_.\-/>]")
_MAX_PARAM_CHARS = 200


def _clean(name: str) -> str:
    """A name TensorFlow would accept: no empty parts, only [A-Za-z0-9_.-/>]."""
    parts = [_BAD_CHARS.sub("_", part) for part in name.split("/") if part]
    return "/".join(parts)


def _is_literal(var: Any) -> bool:
    return type(var).__name__ == "Literal" and hasattr(var, "val")


def _is_drop(var: Any) -> bool:
    return type(var).__name__ == "DropVar"


def _sub_jaxprs(eqn: Any) -> list[tuple[str, Any, list[int]]]:
    """(scope suffix, jaxpr, which of ``eqn.invars`` its invars bind to) per nested jaxpr."""
    params = eqn.params
    invars = list(range(len(eqn.invars)))
    name = eqn.primitive.name
    if name == "while":
        nc, nb = params["cond_nconsts"], params["body_nconsts"]
        carry = invars[nc + nb :]
        return [
            ("cond", params["cond_jaxpr"], invars[:nc] + carry),
            ("body", params["body_jaxpr"], invars[nc : nc + nb] + carry),
        ]
    if name == "cond":
        return [(f"branch_{i}", b, invars[1:]) for i, b in enumerate(params["branches"])]
    found = []
    for key in ("jaxpr", "call_jaxpr", "fun_jaxpr"):
        sub = params.get(key)
        if sub is not None and hasattr(_open(sub), "eqns"):
            found.append(("", sub, invars))
            break
    return found


def _open(jaxpr: Any) -> Any:
    """The open ``Jaxpr`` of a ``ClosedJaxpr`` (or the argument itself)."""
    return getattr(jaxpr, "jaxpr", jaxpr)


def _shape_proto(aval: Any) -> tensor_shape_pb2.TensorShapeProto:
    shape = tensor_shape_pb2.TensorShapeProto()
    for size in getattr(aval, "shape", ()):
        shape.dim.add(size=int(size) if isinstance(size, (int, np.integer)) else -1)
    return shape


def _dtype_enum(aval: Any) -> int:
    dtype = getattr(aval, "dtype", None)
    return _DTYPES.get(str(dtype), types_pb2.DT_INVALID)


class _Builder:
    def __init__(self) -> None:
        self.graph = graph_pb2.GraphDef()
        self._used: dict[str, int] = {}

    def unique(self, name: str) -> str:
        """``name``, or ``name_1``, ``name_2``... if taken (as TensorFlow numbers them)."""
        name = _clean(name) or "node"
        count = self._used.get(name)
        if count is None:
            self._used[name] = 0
            return name
        while True:
            count += 1
            candidate = f"{name}_{count}"
            if candidate not in self._used:
                self._used[name] = count
                self._used[candidate] = 0
                return candidate

    def node(
        self, name: str, op: str, inputs: list[str], avals: list[Any], params: dict[str, Any]
    ) -> node_def_pb2.NodeDef:
        node = self.graph.node.add(name=name, op=op, input=inputs)
        if avals:
            node.attr["_output_shapes"].CopyFrom(
                attr_value_pb2.AttrValue(
                    list=attr_value_pb2.AttrValue.ListValue(shape=[_shape_proto(a) for a in avals])
                )
            )
            node.attr["dtype"].type = _dtype_enum(avals[0])
            if len(avals) > 1:
                node.attr["_output_types"].list.type.extend(_dtype_enum(a) for a in avals)
        for key, value in params.items():
            text = str(value)
            if len(text) > _MAX_PARAM_CHARS:
                text = text[: _MAX_PARAM_CHARS - 3] + "..."
            node.attr[_clean(key) or "param"].s = text.encode("utf-8")
        return node

    def const(self, scope: str, aval: Any, value: Any = None) -> str:
        name = self.unique(f"{scope}/Const" if scope else "Const")
        params = {} if value is None else {"value": value}
        self.node(name, "Const", [], [aval], params)
        return name

    def run(self, jaxpr: Any, scope: str, env: dict[Any, str], stack_prefix: str) -> list[str]:
        """Add the equations of ``jaxpr`` (invars already bound in ``env``); its outputs' names."""

        def literal(var: Any, at: str) -> str:
            return self.const(at, var.aval, var.val)

        for eqn in jaxpr.eqns:
            prim = eqn.primitive.name
            stack = str(getattr(eqn.source_info, "name_stack", "") or "")
            # Inside a nested jaxpr the name stack may repeat the outer one: keep the new part.
            if stack_prefix and (stack == stack_prefix or stack.startswith(stack_prefix + "/")):
                stack = stack[len(stack_prefix) :]
            eqn_scope = "/".join(p for p in (scope, _clean(stack)) if p)
            inputs = [literal(v, eqn_scope) if _is_literal(v) else env[v] for v in eqn.invars]
            subs = _sub_jaxprs(eqn)
            nested_params = {"jaxpr", "call_jaxpr", "fun_jaxpr", "branches"}
            nested_params |= {"cond_jaxpr", "body_jaxpr", "jvp_jaxpr_fun", "jvp_jaxpr_thunk"}
            nested_params |= {"fwd_jaxpr_thunk", "bwd"}
            params = {k: v for k, v in eqn.params.items() if k not in nested_params}
            out_avals = [v.aval for v in eqn.outvars]
            if subs:
                label = str(eqn.params.get("name", "")) if prim in ("jit", "pjit") else ""
                sub_scope = self.unique("/".join(p for p in (eqn_scope, label or prim) if p))
                node_inputs = list(inputs) if prim == "cond" else []
                for suffix, sub, outer in subs:
                    closed = sub
                    sub = _open(sub)
                    inner_scope = f"{sub_scope}/{suffix}" if suffix else sub_scope
                    inner: dict[Any, str] = {}
                    consts = getattr(closed, "consts", ())
                    for var, value in zip(sub.constvars, consts, strict=False):
                        inner[var] = self.const(inner_scope, var.aval, _summarise(value))
                    for k, var in enumerate(sub.invars):
                        if k < len(outer):
                            inner[var] = inputs[outer[k]]
                        else:  # a layout this adapter does not know: an input of the scope
                            inner[var] = self.unique(f"{inner_scope}/input")
                            self.node(inner[var], "Placeholder", [], [var.aval], {})
                    node_inputs += self.run(sub, inner_scope, inner, str(stack or ""))
                name = self.unique(f"{sub_scope}/{prim}")
                self.node(name, prim, node_inputs, out_avals, params)
            else:
                name = self.unique(f"{eqn_scope}/{prim}" if eqn_scope else prim)
                self.node(name, prim, inputs, out_avals, params)
            for i, var in enumerate(eqn.outvars):
                if not _is_drop(var):
                    env[var] = name if i == 0 else f"{name}:{i}"
        return [literal(v, scope) if _is_literal(v) else env[v] for v in jaxpr.outvars]


def _summarise(value: Any) -> str:
    """A short description of a constant: its value if small, else its shape and dtype."""
    try:
        size = int(np.size(value))
    except Exception:
        return _convert.describe(value)
    if size <= 8:
        return str(np.asarray(value).tolist())
    return _convert.describe(value)


def _input_names(args: tuple[Any, ...], kwargs: dict[str, Any], count: int) -> list[str]:
    """``input/<path>`` for each array leaf of ``(args, kwargs)``, as make_jaxpr orders them."""
    leaves, _ = jax.tree_util.tree_flatten_with_path((args, kwargs))
    if len(leaves) != count:
        return [f"input/{i}" for i in range(count)]
    names = []
    for path, _leaf in leaves:
        parts = []
        for i, key in enumerate(path):
            text = str(getattr(key, "key", getattr(key, "idx", getattr(key, "name", key))))
            if i == 0:  # 0: positional args, 1: keyword args
                continue
            parts.append(text)
        names.append("input/" + "/".join(parts) if parts else "input")
    return names


def graph_def(fn: Callable[..., Any], *example_args: Any, **example_kwargs: Any) -> bytes:
    """The serialized ``GraphDef`` of ``jax.make_jaxpr(fn)(*example_args, **example_kwargs)``.

    Raises:
        TypeError: ``fn`` is not callable.
        ValueError: ``fn`` could not be traced with these arguments (the cause is chained).
    """
    if not callable(fn):
        raise TypeError(f"fn: expected a callable (a JAX function), got {_convert.describe(fn)}")
    try:
        closed = jax.make_jaxpr(fn)(*example_args, **example_kwargs)
    except Exception as e:
        fn_name = getattr(fn, "__name__", type(fn).__name__)
        raise ValueError(
            f"fn: could not trace {fn_name!r} with jax.make_jaxpr on the example arguments "
            f"(pytrees of arrays expected): {type(e).__name__}: {e}"
        ) from e
    builder = _Builder()
    jaxpr = closed.jaxpr
    env: dict[Any, str] = {}
    for var, value in zip(jaxpr.constvars, closed.consts, strict=True):
        env[var] = builder.const("", var.aval, _summarise(value))
    names = _input_names(example_args, example_kwargs, len(jaxpr.invars))
    for var, name in zip(jaxpr.invars, names, strict=True):
        unique = builder.unique(name)
        builder.node(unique, "Placeholder", [], [var.aval], {})
        env[var] = unique
    outputs = builder.run(jaxpr, "", env, "")
    for i, (src, var) in enumerate(zip(outputs, jaxpr.outvars, strict=True)):
        builder.node(builder.unique(f"output/{i}"), "Identity", [src], [var.aval], {})
    builder.graph.versions.producer = 22
    return builder.graph.SerializeToString()


def add_graph(writer: Any, fn: Callable[..., Any], *example_args: Any, **example_kwargs: Any) -> None:
    """Log ``fn``'s jaxpr to the Graphs dashboard of ``writer``'s run.

    ``fn`` is traced (not run) by ``jax.make_jaxpr`` on ``example_args``/``example_kwargs``,
    pytrees of arrays (or ``jax.ShapeDtypeStruct``). Each equation becomes a node whose op is
    the primitive name, with ``_output_shapes`` and ``dtype`` attributes and its parameters as
    string attributes; inputs are ``input/<pytree path>`` placeholders, outputs
    ``output/<i>``. Nested jaxprs become name scopes (``f/scan/...``, ``while/body/...``,
    ``cond/branch_1/...``) and ``jax.named_scope`` names are kept.

    Example::

        import tblog.adapters.jax as tbjax
        tbjax.add_graph(writer, jax.jit(loss), params, batch)

    Raises:
        TypeError: ``writer`` is not a tblog SummaryWriter or ``fn`` is not callable.
        ValueError: tracing failed; nothing is written and the writer stays usable.
    """
    events = getattr(writer, "_events", None)
    if events is None or not hasattr(writer, "log_dir"):
        raise TypeError(f"writer: expected a tblog.SummaryWriter, got {_convert.describe(writer)}")
    if not getattr(writer, "is_writing", True):  # a rank that does not write: no tracing
        return
    graph = graph_def(fn, *example_args, **example_kwargs)
    event = _wire.event_head(time.time(), 0) + _wire.field_bytes(EVENT_GRAPH_DEF, graph)
    events.put(BYTES, "", event, len(event))


class JaxProfile:
    """What :func:`profile` yields: step markers for the trace being recorded."""

    def __init__(self, log_dir: str, name: str, steps: Iterable[int] | None) -> None:
        self.log_dir = log_dir
        self.name = name
        self._steps = steps

    def step(self, step_num: int) -> AbstractContextManager[Any]:
        """A context manager marking one step (``jax.profiler.StepTraceAnnotation``)."""
        return jax.profiler.StepTraceAnnotation(self.name, step_num=int(step_num))

    def __iter__(self) -> Iterator[int]:
        """Iterate over ``steps``; each loop body runs inside its step marker."""
        if self._steps is None:
            raise TypeError("profile(): pass steps= to iterate over the profile")
        for i in self._steps:
            with self.step(i):
                yield i


@contextmanager
def profile(
    writer: Any,
    steps: Iterable[int] | int | None = None,
    *,
    name: str = "train",
    create_perfetto_trace: bool = False,
) -> Iterator[JaxProfile]:
    """Record a ``jax.profiler`` trace with step markers into ``writer``'s run directory.

    The trace lands in ``<log_dir>/plugins/profile/<timestamp>/<host>.xplane.pb`` (and, with
    ``create_perfetto_trace=True``, a ``perfetto_trace.json.gz`` beside it). Each step is a
    ``jax.profiler.StepTraceAnnotation(name, step_num=i)``, which the profile tools use to
    split the trace into steps. ``steps``: an int ``n`` (steps ``0..n-1``) or an iterable of
    step numbers to iterate over; without it, mark steps with ``prof.step(i)``::

        with tblog.adapters.jax.profile(writer, steps=5) as prof:
            for i in prof:
                state = train_step(state, batch)
        # or
        with tblog.adapters.jax.profile(writer) as prof:
            for i in range(5):
                with prof.step(i):
                    state = train_step(state, batch)

    Block on results inside the step (``jax.block_until_ready``), or the work shows up
    outside it.

    Viewing: ``pip install tensorboard-plugin-profile`` and run ``tensorboard --logdir`` on
    the log directory: the PROFILE tab lists the run (trace viewer, overview, per-op stats).
    Or open ``perfetto_trace.json.gz`` (``create_perfetto_trace=True``) at
    https://ui.perfetto.dev.
    """
    log_dir = getattr(writer, "log_dir", None)
    if not isinstance(log_dir, str) or not hasattr(writer, "_events"):
        raise TypeError(f"writer: expected a tblog.SummaryWriter, got {_convert.describe(writer)}")
    if isinstance(steps, bool):
        raise TypeError(f"steps: expected an int or an iterable of ints, got {steps!r}")
    if isinstance(steps, int):
        if steps < 0:
            raise ValueError(f"steps: expected a count >= 0, got {steps}")
        steps = range(steps)
    elif steps is not None and not isinstance(steps, Iterable):
        raise TypeError(f"steps: expected an int or an iterable of ints, got {_convert.describe(steps)}")
    if not isinstance(name, str) or not name:
        raise TypeError(f"name: expected a non-empty str, got {name!r}")
    writer.flush()
    if not getattr(writer, "is_writing", True):  # a rank that does not write: no trace
        yield JaxProfile(log_dir, name, steps)
        return
    # jax names the run directory after the current second: trace into a private directory,
    # then move the run under plugins/profile/ with a name no earlier trace has taken.
    root = os.path.join(log_dir, "plugins", "profile")
    os.makedirs(root, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".tblog-trace-", dir=root)
    try:
        with jax.profiler.trace(staging, create_perfetto_trace=create_perfetto_trace):
            yield JaxProfile(log_dir, name, steps)
        staged = os.path.join(staging, "plugins", "profile")
        for run in sorted(os.listdir(staged)) if os.path.isdir(staged) else ():
            target = profile_run_dir(log_dir)
            os.rmdir(target)  # a fresh, unique name for the traced run
            os.rename(os.path.join(staged, run), target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# ----- training-step wrapper ----------------------------------------------------------------


def _check_writer(writer: Any) -> None:
    if not hasattr(writer, "_events") or not hasattr(writer, "log"):
        raise TypeError(f"writer: expected a tblog.SummaryWriter, got {_convert.describe(writer)}")


def _key_text(key: Any) -> str:
    for attr in ("key", "name", "idx"):
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return str(key)


def _path_tag(path: tuple[Any, ...], prefix: str) -> str:
    """``prefix/a/b/0`` for a pytree path (dict keys, attribute names, sequence indices)."""
    parts = [_key_text(k) for k in path]
    if prefix:
        parts.insert(0, prefix)
    return "/".join(p for p in parts if p) or "value"


def _flat_metrics(metrics: Any, prefix: str) -> dict[str, Any]:
    """The leaves of a metrics pytree keyed by their ``a/b`` path (``None`` leaves dropped)."""
    if isinstance(metrics, (int, float)) or hasattr(metrics, "shape"):
        return {prefix or "value": metrics}
    leaves, _ = jax.tree_util.tree_flatten_with_path(metrics)
    return {_path_tag(path, prefix): leaf for path, leaf in leaves}


def _check_every(value: Any, name: str, optional: bool) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        allowed = "an int >= 1" + (" or None" if optional else "")
        raise ValueError(f"{name}: expected {allowed}, got {value!r}")
    return value


class LoggedStep:
    """A training step that logs its metrics; made by :func:`log_step`.

    Call it as the step it wraps: ``state, metrics = logged(state, batch)``. ``step`` is the
    number the next call will log under.
    """

    def __init__(
        self,
        step_fn: Callable[..., Any],
        writer: Any,
        *,
        every: int = 1,
        histograms_every: int | None = None,
        params: Callable[[Any], Any] | None = None,
        prefix: str = "",
        histogram_prefix: str = "params",
        start_step: int = 0,
        all_processes: bool = False,
        process_index: int | None = None,
    ) -> None:
        if not callable(step_fn):
            raise TypeError(f"step_fn: expected a callable, got {_convert.describe(step_fn)}")
        _check_writer(writer)
        if params is not None and not callable(params):
            raise TypeError(
                f"params: expected a callable state -> parameter pytree or None, "
                f"got {_convert.describe(params)}"
            )
        for name, text in (("prefix", prefix), ("histogram_prefix", histogram_prefix)):
            if not isinstance(text, str):
                raise TypeError(f"{name}: expected a str, got {_convert.describe(text)}")
        self.step_fn = step_fn
        self.writer = writer
        self.every: int = _check_every(every, "every", optional=False) or 1
        self.histograms_every = _check_every(histograms_every, "histograms_every", optional=True)
        self.params = params
        self.prefix = prefix.strip("/")
        self.histogram_prefix = histogram_prefix.strip("/")
        self.step = _convert.step(start_step, "start_step")
        if process_index is None:
            process_index = jax.process_index()
        self.writes = _writer_writes(writer) and (
            bool(all_processes) or getattr(writer, "per_rank", False) or process_index == 0
        )
        self.__wrapped__ = step_fn

    def __call__(self, state: Any, *args: Any, **kwargs: Any) -> Any:
        out = self.step_fn(state, *args, **kwargs)
        step = self.step
        self.step = step + 1
        if not self.writes:
            return out
        every, hist_every = self.every, self.histograms_every
        log_metrics = step % every == 0
        log_hists = hist_every is not None and step % hist_every == 0
        if not (log_metrics or log_hists):
            return out
        if not isinstance(out, tuple) or len(out) != 2:
            raise TypeError(
                f"step_fn must return (state, metrics); got {_convert.describe(out)} (step {step})"
            )
        new_state, metrics = out
        if log_metrics and metrics is not None:
            # JAX arrays go to the writer as they are: it reads them on its own thread, so
            # the caller never waits for the device.
            flat = _flat_metrics(metrics, self.prefix)
            if flat:
                self.writer.log(flat, step=step)
        if log_hists:
            tree = new_state if self.params is None else self.params(new_state)
            for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
                if _convert.dtype_kind(leaf) not in ("f", "i", "u", "b") and not _is_ml_float(leaf):
                    continue
                if int(np.prod(_convert.shape_of(leaf))) == 0:
                    continue
                self.writer.add_histogram(_path_tag(path, self.histogram_prefix), leaf, step)
        return out


def _is_ml_float(leaf: Any) -> bool:
    return "bfloat16" in str(getattr(leaf, "dtype", "")) or "float8" in str(getattr(leaf, "dtype", ""))


def log_step(
    step_fn: Callable[..., Any],
    writer: Any,
    *,
    every: int = 1,
    histograms_every: int | None = None,
    params: Callable[[Any], Any] | None = None,
    prefix: str = "",
    histogram_prefix: str = "params",
    start_step: int = 0,
    all_processes: bool = False,
    process_index: int | None = None,
) -> LoggedStep:
    """Wrap ``step_fn(state, batch, ...) -> (state, metrics)`` so that it logs as it runs.

    Each call runs ``step_fn`` and counts one step (the first is ``start_step``, 0 unless
    resuming). On steps that are multiples of ``every``, the ``metrics`` pytree (dicts,
    lists, tuples, dataclasses, registered nodes; leaves JAX/NumPy scalars or one-element
    arrays) is logged with ``writer.log`` as one event, each leaf under its path joined by
    ``/`` (``{"loss": l, "acc": {"top1": a}}`` → ``loss``, ``acc/top1``), after ``prefix/``
    when ``prefix`` is set. On multiples of ``histograms_every`` (never by default), every
    numeric array leaf of ``params(new_state)`` (the whole new state when ``params`` is None)
    is logged with ``add_histogram`` under ``<histogram_prefix>/<path>``.

    Nothing here waits for the device: the JAX arrays are handed to the writer, whose
    background thread reads them when they are ready, so asynchronous dispatch goes on and
    the wrapped call returns as soon as ``step_fn`` does. A metric that is not one real
    number raises in the caller (checked from its shape and dtype); NaN checks of histogram
    values run on the writer thread and raise from the next call.

    Multi-host: only the process with ``process_index == 0`` (``jax.process_index()``
    unless given) logs, and only if its writer writes (``writer.is_writing``: a tblog writer
    finds its rank itself, see ``SummaryWriter(rank=, per_rank=)``). A writer made with
    ``per_rank=True``, or ``all_processes=True``, logs from every process whose writer
    writes, each into its own ``rank_<n>`` run.

    Example::

        import tblog.adapters.jax as tbjax
        train_step = tbjax.log_step(jax.jit(train_step), writer, every=10,
                                    histograms_every=100, params=lambda s: s.params)
        for batch in batches:
            state, metrics = train_step(state, batch)

    Raises:
        TypeError/ValueError: bad arguments (before anything runs); ``step_fn`` not
            returning a ``(state, metrics)`` pair on a logged step; a metric that is not
            one real number.
    """
    return LoggedStep(
        step_fn,
        writer,
        every=every,
        histograms_every=histograms_every,
        params=params,
        prefix=prefix,
        histogram_prefix=histogram_prefix,
        start_step=start_step,
        all_processes=all_processes,
        process_index=process_index,
    )


# ----- logging from inside jax.jit ----------------------------------------------------------


def _check_traced_scalar(value: Any, name: str) -> Any:
    shape = getattr(value, "shape", None)
    if shape is None:
        value = jnp.asarray(value)
        shape = value.shape
    if int(np.prod(shape)) != 1:
        raise ValueError(f"{name} must hold exactly one element; got shape {tuple(shape)}")
    kind = np.dtype(value.dtype).kind if not _is_ml_float(value) else "f"
    if kind not in "biuf":
        raise TypeError(f"{name} must be a real number; got dtype {value.dtype}")
    return value


def _writer_writes(writer: Any) -> bool:
    return bool(getattr(writer, "is_writing", True))


def _host_writes(writer: Any, all_processes: bool) -> bool:
    return all_processes or getattr(writer, "per_rank", False) or jax.process_index() == 0


def scalar(writer: Any, tag: str, value: Any, step: Any, *, all_processes: bool = False) -> None:
    """Log one scalar from inside ``jax.jit`` (or outside it): ``add_scalar(tag, value, step)``.

    ``value`` and ``step`` may be traced: the call becomes an ordered host callback
    (``jax.experimental.io_callback(..., ordered=True)``), so the values are written in
    program order when the computation reaches it, without a device sync in the caller.
    Call :func:`flush` (or :func:`close`) rather than ``writer.flush()``: it first waits
    for callbacks still pending (``jax.effects_barrier()``).

    Transformations:

    - ``vmap``: not supported — ordered callbacks cannot be batched and JAX raises
      ``ValueError: Cannot `vmap` ordered IO callback``. Reduce over the batch first (e.g.
      ``loss.mean()``) and log outside the ``vmap``.
    - ``jit`` over sharded arrays: the callback runs once, on one device, with the whole
      (gathered) value.
    - ``shard_map``/``pmap`` (per-device code): the callback runs once per device with that
      device's value, so each step is logged once per device; reduce first
      (``lax.pmean``) or return the value and log it outside.
    - Multi-host: only process 0 writes unless ``all_processes=True`` or the writer was made
      with ``per_rank=True``. With a writer that does not write on this rank, no callback
      is added to the computation at all.
    - ``grad``: only the primal computation logs.

    Raises:
        TypeError/ValueError at trace time: bad writer or tag, or a value that is not one
        real number.
    """
    _check_writer(writer)
    tag = _convert.tag(tag)
    value = _check_traced_scalar(value, "value")
    step = _check_traced_scalar(step, "step")
    if not _writer_writes(writer):
        return

    def write(v: Any, s: Any) -> None:
        if _host_writes(writer, all_processes):
            writer.add_scalar(tag, float(np.asarray(v).reshape(())), int(np.asarray(s).reshape(())))

    jax.experimental.io_callback(write, None, value, step, ordered=True)


def scalars(writer: Any, metrics: Any, step: Any, *, prefix: str = "", all_processes: bool = False) -> None:
    """Log a pytree of scalars from inside ``jax.jit`` as one event (``writer.log``).

    Tags are the leaves' paths joined by ``/`` (after ``prefix/``), as :func:`log_step`
    names them. Same callback, ordering, flushing and transformation rules as
    :func:`scalar`.
    """
    _check_writer(writer)
    if not isinstance(prefix, str):
        raise TypeError(f"prefix: expected a str, got {_convert.describe(prefix)}")
    flat = _flat_metrics(metrics, prefix.strip("/"))
    tags = list(flat)
    values = [_check_traced_scalar(v, f"metrics[{t!r}]") for t, v in flat.items()]
    step = _check_traced_scalar(step, "step")
    if not _writer_writes(writer):
        return

    def write(vs: list[Any], s: Any) -> None:
        if _host_writes(writer, all_processes):
            row = {t: float(np.asarray(v).reshape(())) for t, v in zip(tags, vs, strict=True)}
            writer.log(row, step=int(np.asarray(s).reshape(())))

    if tags:
        jax.experimental.io_callback(write, None, values, step, ordered=True)


def flush(writer: Any) -> None:
    """Wait for pending JAX host callbacks (``jax.effects_barrier()``), then ``writer.flush()``."""
    _check_writer(writer)
    jax.effects_barrier()
    writer.flush()


def close(writer: Any) -> None:
    """Wait for pending JAX host callbacks (``jax.effects_barrier()``), then ``writer.close()``."""
    _check_writer(writer)
    jax.effects_barrier()
    writer.close()
