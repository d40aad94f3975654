"""A ``torch.nn.Module`` as graph nodes, through ``torch.jit.trace``.

Imports torch only inside functions: ``import tblog`` stays free of torch. Node names carry
the module hierarchy with torch's writer's scope names, ``<Model>/Sequential[layer1]/
BasicBlock[0]/Conv2d[conv1]/<op>`` (class, then attribute name), so the Graphs dashboard
groups them and graphs from both writers compare side by side; ``op`` is the TorchScript
kind (``aten::conv2d``, ``prim::Constant``...); parameters and buffers are nodes named by
their module's scope and their name (``.../Conv2d[conv1]/weight``); model inputs are
``input/<arg>``, outputs ``output/output.<i>``; shapes and dtypes are attributes.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from tblog import _convert
from tblog.summary.graph import Node

_DTYPE_NAMES = {
    "Float": "float32",
    "Double": "float64",
    "Half": "float16",
    "BFloat16": "bfloat16",
    "Int": "int32",
    "Long": "int64",
    "Short": "int16",
    "Char": "int8",
    "Byte": "uint8",
    "Bool": "bool",
    "ComplexFloat": "complex64",
    "ComplexDouble": "complex128",
    "UInt16": "uint16",
    "UInt32": "uint32",
    "UInt64": "uint64",
}


def is_module(model: Any) -> bool:
    """Whether ``model`` is a ``torch.nn.Module`` (False without importing torch)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(model, torch.nn.Module)


def _as_args(input_to_model: Any) -> tuple[Any, ...]:
    """Positional arguments as ``torch.jit.trace`` reads ``example_inputs``."""
    import torch

    if input_to_model is None:
        return ()
    if isinstance(input_to_model, (torch.Tensor, dict)):
        return (input_to_model,)
    if isinstance(input_to_model, tuple):
        return input_to_model
    if isinstance(input_to_model, list):
        return tuple(input_to_model)
    raise TypeError(
        "input_to_model must be a tensor, a tuple or list of inputs, or a dict; "
        f"got {_convert.describe(input_to_model)}"
    )


def _failing_part(model: Any, error: BaseException) -> str:
    """``Model.path.to.sub (Class)`` of the deepest module of ``model`` on ``error``'s stack."""
    names = {id(m): n for n, m in model.named_modules()}
    root = type(model).__name__
    found = root
    tb: types.TracebackType | None = error.__traceback__
    while tb is not None:
        owner = tb.tb_frame.f_locals.get("self")
        if owner is not None and id(owner) in names:
            path = names[id(owner)]
            found = f"{root}.{path} ({type(owner).__name__})" if path else root
        tb = tb.tb_next
    return found


class _Training:
    """Eval mode for the trace; every submodule's own flag restored afterwards."""

    def __init__(self, model: Any) -> None:
        self.flags = [(m, m.training) for m in model.modules()]
        self.model = model

    def __enter__(self) -> None:
        self.model.train(False)

    def __exit__(self, *exc: object) -> None:
        for module, flag in self.flags:
            module.training = flag


def _trace(model: Any, args: tuple[Any, ...], strict: bool) -> Any:
    """The inlined TorchScript graph of ``model(*args)``; clear errors on failure."""
    import torch

    with _Training(model):
        try:
            traced = torch.jit.trace(model, args, strict=strict)
        except Exception as trace_error:
            # Did the model reject its inputs (it fails eagerly too), or the tracer the model?
            try:
                with torch.no_grad():
                    model(*args)
            except Exception as eager_error:
                raise ValueError(
                    f"input_to_model does not fit the model: {_failing_part(model, eager_error)} "
                    f"raised {type(eager_error).__name__}: {eager_error}"
                ) from eager_error
            hint = "" if not strict else "; for dict or list outputs pass use_strict_trace=False"
            raise RuntimeError(
                f"add_graph could not trace {_failing_part(model, trace_error)}: "
                f"{type(trace_error).__name__}: {trace_error}{hint}"
            ) from trace_error
    graph = traced.graph
    torch._C._jit_pass_inline(graph)
    return graph


def _shape(value: Any) -> tuple[list[int] | None, str | None]:
    """Dims and dtype name of a graph value (None, None when not a tensor)."""
    import torch

    kind = value.type()
    if not isinstance(kind, torch._C.TensorType):
        return None, None
    sizes = kind.sizes() if value.isCompleteTensor() else None
    scalar = kind.scalarType()
    dims = None if sizes is None else [-1 if s is None else int(s) for s in sizes]
    return dims, _DTYPE_NAMES.get(scalar) if scalar else None


def _scope(scope_name: str) -> list[str]:
    """``__module.layer1/__module.layer1.0`` → ``["layer1", "0"]``."""
    if not scope_name:
        return []
    last = scope_name.split("/")[-1]
    if last.startswith("__module."):
        last = last[len("__module.") :]
    elif last == "__module":
        return []
    return [part for part in last.split(".") if part]


def _class_name(module: Any) -> str:
    """A module's class as torch's writer names it: for a traced or scripted module (Ultralytics
    passes ``torch.jit.trace(model)``), the class it was made from, not ``TracedModule``."""
    import torch

    if isinstance(module, torch.jit.TracedModule):
        return str(module._name)
    if isinstance(module, torch.jit.ScriptModule):
        return str(getattr(module, "original_name", type(module).__name__))
    return type(module).__name__


class _ScopeNames:
    """Attribute paths as torch's writer names scopes: ``["net", "0"]`` →
    ``["Sequential[net]", "Linear[0]"]``; a part that is no module (a parameter) stays."""

    def __init__(self, model: Any) -> None:
        self.classes = {name: _class_name(module) for name, module in model.named_modules() if name}

    def __call__(self, path: list[str]) -> list[str]:
        parts = []
        for depth, part in enumerate(path, 1):
            cls = self.classes.get(".".join(path[:depth]))
            parts.append(part if cls is None else f"{cls}[{part}]")
        return parts


def _device(model: Any, args: tuple[Any, ...]) -> str:
    """The device the model runs on, as TensorBoard spells it (``/device:GPU:0``)."""
    import torch

    tensors = [*model.parameters(), *model.buffers()]
    tensors += [a for a in args if isinstance(a, torch.Tensor)]
    if not tensors:
        return "/device:CPU:0"
    device = tensors[0].device
    kind = {"cpu": "CPU", "cuda": "GPU"}.get(device.type, device.type.upper())
    return f"/device:{kind}:{device.index or 0}"


def trace_nodes(model: Any, input_to_model: Any, verbose: bool, strict: bool) -> tuple[list[Node], str]:
    """The graph nodes of ``model`` traced on ``input_to_model``, and its device."""
    import torch

    args = _as_args(input_to_model)
    graph = _trace(model, args, strict)
    if verbose:
        print(graph)
    root = _class_name(model)
    device = _device(model, args)

    # Which name each value is read under: "producer" or "producer:i".
    source: dict[Any, str] = {}
    # Module-typed values (the model itself, submodules reached by GetAttr) → their path.
    module_path: dict[Any, list[str]] = {}
    nodes: list[Node] = []
    used: set[str] = set()

    for value in graph.inputs():
        if isinstance(value.type(), torch._C.ClassType):
            module_path[value] = []
    planned: list[tuple[Any, list[str]]] = []  # (jit node, attribute path) of the nodes to emit
    scopes: set[str] = set()
    for jit_node in graph.nodes():
        if jit_node.kind() == "prim::GetAttr":
            parent = jit_node.input()
            output = jit_node.output()
            if parent in module_path:
                path = [*module_path[parent], jit_node.s("name")]
                if isinstance(output.type(), torch._C.ClassType):
                    module_path[output] = path
                    continue
                planned.append((jit_node, path))
                continue
        path = _scope(jit_node.scopeName())
        planned.append((jit_node, path))
    shown = _ScopeNames(model)
    for jit_node, path in planned:
        depth_max = len(path) - 1 if jit_node.kind() == "prim::GetAttr" else len(path)
        for depth in range(depth_max + 1):
            scopes.add("/".join([root, *shown(path[:depth])]))
    scopes.update({"input", "output"})

    def unique(name: str) -> str:
        candidate, n = name, 0
        while candidate in used or candidate in scopes:
            n += 1
            candidate = f"{name}_{n}"
        used.add(candidate)
        return candidate

    for value in graph.inputs():
        if value in module_path:
            continue
        dims, dtype = _shape(value)
        # "x.1" when forward reassigns x: the argument's own name is the part before the dot
        name = unique(f"input/{value.debugName().split('.')[0]}")
        source[value] = name
        nodes.append(Node(name, "IO Node", [], [dims], dtype, str(value.type()), device))

    parameters = dict(model.named_parameters())
    parameters.update(dict(model.named_buffers()))
    for jit_node, path in planned:
        kind = jit_node.kind()
        if kind == "prim::GetAttr":
            # A parameter or buffer: named by its path, shaped by the tensor itself.
            name = unique("/".join([root, *shown(path)]))
            tensor = parameters.get(".".join(path))
            dims, dtype = _shape(jit_node.output())
            if isinstance(tensor, torch.Tensor):
                dims = list(tensor.shape)
                dtype = _torch_dtype_name(tensor.dtype) or dtype
            source[jit_node.output()] = name
            nodes.append(Node(name, kind, [], [dims], dtype, "name=" + path[-1], device))
            continue
        short = kind.split("::")[-1]
        name = unique("/".join([root, *shown(path), short]))
        inputs = [source[v] for v in jit_node.inputs() if v in source]
        shapes: list[list[int] | None] = []
        dtype = None
        for i, output in enumerate(jit_node.outputs()):
            dims, out_dtype = _shape(output)
            shapes.append(dims)
            dtype = dtype if i else out_dtype
            source[output] = name if i == 0 else f"{name}:{i}"
        attributes = {key: _attribute(jit_node, key) for key in jit_node.attributeNames()}
        attr = ", ".join(f"{k}={v}" for k, v in attributes.items())
        nodes.append(Node(name, kind, inputs, shapes, dtype, attr, device))

    for i, value in enumerate(graph.outputs()):
        dims, dtype = _shape(value)
        name = unique(f"output/output.{i + 1}")
        inputs = [source[value]] if value in source else []
        nodes.append(Node(name, "IO Node", inputs, [dims], dtype, str(value.type()), device))
    return nodes, device


def _torch_dtype_name(dtype: Any) -> str | None:
    """``torch.float32`` → ``"float32"``."""
    return str(dtype).removeprefix("torch.") or None


def _attribute(jit_node: Any, key: str) -> str:
    """A node attribute as short text (constants' values, GetAttr names)."""
    try:
        value = getattr(jit_node, jit_node.kindOf(key))(key)
    except Exception:  # attribute kinds without a Python getter
        return "?"
    text = str(value).replace("\n", " ")
    return text if len(text) <= 200 else text[:197] + "..."
