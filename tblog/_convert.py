"""Turning user values into numbers without importing torch or jax.

Frameworks are recognised by ``type(x).__module__``. A torch tensor that lives on an
accelerator, and any JAX array, is *not* read here: reading it would wait for the device
(a host sync in the training loop). It is passed on as a 0-d device value, and the
background writer reads it with ``float()``. torch tensors are cloned first (an
asynchronous device op), so an in-place update after logging cannot change what was logged.
"""

from __future__ import annotations

import math
import numbers
import operator
from typing import Any

import numpy as np


def describe(value: Any) -> str:
    """A short description of a value for error messages: its type, and shape/dtype if any."""
    kind = type(value).__name__
    shape = getattr(value, "shape", None)
    if shape is not None and not isinstance(value, (str, bytes)):
        text = f"{kind} of shape {tuple(shape)}"
        dtype = getattr(value, "dtype", None)
        if dtype is not None:
            text += f" and dtype {dtype}"
        device = getattr(value, "device", None)
        if device is not None and not callable(device):
            text += f" on {device}"
        return text
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{kind} {shown}"


def _framework(value: Any) -> str:
    module = type(value).__module__
    return module.partition(".")[0]


def _numeric_kind(dtype: Any) -> str:
    """NumPy dtype kind ('b', 'i', 'u', 'f', 'c', …) of a NumPy/torch/JAX dtype, or '?'."""
    try:
        kind = np.dtype(dtype).kind
    except TypeError:
        kind = "?"
    if kind not in "V?":
        return kind
    name = str(dtype).rpartition(".")[2]  # torch.float32 -> float32; ml_dtypes' bfloat16 is 'V'
    if name.startswith(("float", "bfloat", "half", "double")):
        return "f"
    if name.startswith(("int", "long", "short")):
        return "i"
    if name.startswith("uint"):
        return "u"
    if name == "bool":
        return "b"
    if name.startswith("complex"):
        return "c"
    return "?"


_SCALAR_HINT = "a number (int, float, bool), or a NumPy/torch/JAX scalar or one-element array"


def scalar(value: Any, name: str = "scalar_value") -> Any:
    """A Python float now, or a 0-d device value for the background thread to read.

    Raises TypeError/ValueError naming ``name`` for anything that is not one real number.
    """
    if isinstance(value, (float, int)):  # bool too
        try:
            return float(value)
        except OverflowError:
            raise ValueError(f"{name} is too large for a float: {describe(value)}") from None
    if isinstance(value, (np.generic, np.ndarray)):
        return _numpy_scalar(np.asarray(value), name, value)
    framework = _framework(value)
    if framework == "torch" and hasattr(value, "numel"):
        return _torch_scalar(value, name)
    if framework in ("jax", "jaxlib") and hasattr(value, "shape"):
        return _jax_scalar(value, name)
    if isinstance(value, (str, bytes)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {_SCALAR_HINT}; got {describe(value)}")
    return float(value)  # Fraction, Decimal and other real numbers


def _check_one_element(size: int, kind: str, name: str, value: Any) -> None:
    if size != 1:
        raise ValueError(f"{name} must hold exactly one element; got {describe(value)}")
    if kind not in "biuf":
        raise TypeError(f"{name} must be a real number; got {describe(value)}")


def _numpy_scalar(array: np.ndarray, name: str, original: Any) -> float:
    _check_one_element(array.size, array.dtype.kind, name, original)
    return float(array.reshape(()))


def _torch_scalar(tensor: Any, name: str) -> Any:
    _check_one_element(tensor.numel(), _numeric_kind(tensor.dtype), name, tensor)
    tensor = tensor.detach()
    if tensor.device.type == "cpu":
        return float(tensor.reshape(()))
    if tensor.device.type == "meta":
        raise ValueError(f"{name} is a meta tensor with no value; got {describe(tensor)}")
    return tensor.reshape(()).clone()


def _jax_scalar(array: Any, name: str) -> Any:
    if "Tracer" in type(array).__name__:
        raise TypeError(
            f"{name} is a traced JAX value (logging was called inside jax.jit, vmap or grad); "
            "return it from the jitted function and log it outside, or use tblog.adapters.jax"
        )
    _check_one_element(int(np.prod(array.shape)), _numeric_kind(array.dtype), name, array)
    return array if array.ndim == 0 else array.reshape(())


def step(value: Any, name: str = "global_step") -> int:
    """A step as a Python int; None means 0, as torch writes it."""
    if value is None:
        return 0
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueError(f"{name} must be a whole number; got {describe(value)}")
    try:
        result = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int (or None); got {describe(value)}") from None
    if not -(1 << 63) <= result < (1 << 63):
        raise ValueError(f"{name} must fit in int64; got {result}")
    return result


def walltime(value: Any, name: str = "walltime") -> float:
    """Seconds since the epoch as a finite float."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (numbers.Real, np.generic)):
        raise TypeError(f"{name} must be a number of seconds since the epoch; got {describe(value)}")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"{name} must be finite; got {result}")
    return result + 0.0  # -0.0 -> 0.0, so the encoding matches protobuf's


def tag(value: Any, name: str = "tag") -> str:
    """A non-empty str tag."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str; got {describe(value)}")
    if not value:
        raise ValueError(f"{name} must not be empty")
    return value


# ----- arrays (histograms, images, audio, …) -----------------------------------------------


def _is_torch(value: Any) -> bool:
    return _framework(value) == "torch" and hasattr(value, "numel")


def _is_jax(value: Any) -> bool:
    return _framework(value) in ("jax", "jaxlib") and hasattr(value, "shape")


def shape_of(value: Any) -> tuple[int, ...]:
    """The shape of an array-like, read from metadata (never waits for a device)."""
    if _is_torch(value) or _is_jax(value) or isinstance(value, np.ndarray):
        return tuple(int(d) for d in value.shape)
    return np.shape(value)


def dtype_kind(value: Any) -> str:
    """NumPy dtype kind of an array-like ('b', 'i', 'u', 'f', 'c', 'U', 'O', …)."""
    if _is_torch(value) or _is_jax(value):
        return _numeric_kind(value.dtype)
    return np.asarray(value).dtype.kind


def snapshot(value: Any, name: str) -> Any:
    """Freeze an array-like now, for the writer thread to read later, without a host sync.

    NumPy arrays, lists and CPU tensors are copied into a NumPy array (so changing them after
    the call changes nothing logged); a torch tensor on an accelerator is ``clone()``d on its
    device; a JAX array is immutable and kept as it is. Use ``array()`` on the result.
    """
    if _is_jax(value):
        if "Tracer" in type(value).__name__:
            raise TypeError(f"{name} is a traced JAX value (inside jax.jit, vmap or grad)")
        return value
    if _is_torch(value):
        tensor = value.detach()
        if tensor.device.type == "meta":
            raise ValueError(f"{name} is a meta tensor with no values; got {describe(value)}")
        if tensor.device.type != "cpu":
            return tensor.clone()
        return _torch_to_numpy(tensor, copy=True)
    try:
        return np.array(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be array-like; got {describe(value)}") from exc


def array(value: Any, name: str = "value") -> np.ndarray:
    """A NumPy array of an array-like; reads device values (use on the writer thread)."""
    if _is_torch(value):
        return _torch_to_numpy(value.detach(), copy=False)
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be array-like; got {describe(value)}") from exc


def _torch_to_numpy(tensor: Any, copy: bool) -> np.ndarray:
    tensor = tensor.cpu()
    if str(tensor.dtype) == "torch.bfloat16":  # NumPy has no bfloat16
        tensor = tensor.float()
    result = tensor.resolve_conj().resolve_neg().numpy()
    return result.copy() if copy else result
