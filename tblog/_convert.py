"""Turning user values into numbers without importing torch or jax.

Frameworks are recognised by ``type(x).__module__``. A torch tensor that lives on an
accelerator, and any JAX array, is *not* read here: reading it would wait for the device
(a host sync in the training loop). It is passed on as a 0-d device value, and the
background writer reads it with ``float()``. torch tensors are cloned first (an
asynchronous device op), so an in-place update after logging cannot change what was logged.
"""

from __future__ import annotations

import functools
import math
import numbers
import operator
import os
import sys
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
    try:
        return float(value)  # Fraction, Decimal and other real numbers
    except OverflowError:
        raise ValueError(f"{name} is too large for a float: {describe(value)}") from None


def _check_one_element(size: int, kind: str, name: str, value: Any) -> None:
    if size != 1:
        raise ValueError(f"{name} must hold exactly one element; got {describe(value)}")
    if kind not in "biuf":
        raise TypeError(f"{name} must be a real number; got {describe(value)}")


def _numpy_scalar(array: np.ndarray, name: str, original: Any) -> float:
    _check_one_element(array.size, _numeric_kind(array.dtype), name, original)
    if array.dtype.kind == "V":  # ml_dtypes' bfloat16 / float8: exact in float32
        array = array.astype(np.float32)
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


INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def step(value: Any, name: str = "global_step") -> int:
    """A step as a Python int in int64's range; None means 0, as torch writes it."""
    if value is None:
        return 0
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{name} must be a whole number; got {describe(value)}")
        result = int(value)
    else:
        try:
            result = operator.index(value)
        except TypeError:
            raise TypeError(f"{name} must be an int (or None); got {describe(value)}") from None
    if not INT64_MIN <= result <= INT64_MAX:
        raise ValueError(f"{name} must fit in int64 (-2**63 to 2**63 - 1); got {describe(value)}")
    return result


def walltime(value: Any, name: str = "walltime") -> float:
    """Seconds since the epoch as a finite float."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (numbers.Real, np.generic)):
        raise TypeError(f"{name} must be a number of seconds since the epoch; got {describe(value)}")
    try:
        result = float(value)
    except (OverflowError, TypeError, ValueError):  # an int beyond float's range; a complex
        raise ValueError(
            f"{name} must be a finite number of seconds since the epoch; got {describe(value)}"
        ) from None
    if not math.isfinite(result):
        raise ValueError(f"{name} must be finite; got {result}")
    return result + 0.0  # -0.0 -> 0.0, so the encoding matches protobuf's


def text(value: str, name: str) -> str:
    """``value`` if it encodes as UTF-8 (what protobuf strings and file names need).

    A lone surrogate (``"\\ud800"``, or what ``os.fsdecode`` makes of undecodable bytes) has no
    UTF-8 encoding: left in, it would fail where the string is encoded, on the writer thread.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{name} must be text that encodes as UTF-8; got {describe(value)}, which holds a lone "
            f"surrogate {value[exc.start]!r} at index {exc.start}"
        ) from None
    return value


def tag(value: Any, name: str = "tag") -> str:
    """A non-empty str tag that encodes as UTF-8."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str; got {describe(value)}")
    if not value:
        raise ValueError(f"{name} must not be empty")
    if not value.isascii():  # O(1) for the usual ASCII tag
        text(value, name)
    return value


# ----- run names: directories under the log directory (add_scalars, add_hparams) ------------

_WINDOWS = sys.platform == "win32"
# One path component: NAME_MAX on Linux, macOS and Windows file systems (ext4, APFS, NTFS).
MAX_NAME_BYTES = 255


@functools.cache
def _max_path_bytes() -> int:
    """The longest path the OS takes (PATH_MAX: 4096 on Linux, 1024 on macOS)."""
    if _WINDOWS:
        return 32767  # with long paths enabled; otherwise the OS refuses beyond 260 itself
    try:
        return int(os.pathconf("/", "PC_PATH_MAX"))
    except (OSError, ValueError, AttributeError):
        return 4096


def run_name(name: str, what: str, log_dir: str) -> str:
    """``name`` as a run directory below ``log_dir`` (``/``-separated), or a ValueError.

    A run name (``add_scalars``' sub-runs, ``add_hparams(run_name=...)``) becomes directories
    that the writer thread creates; what the OS would refuse there, or what would leave the
    log directory, is refused here instead, naming ``what``: NUL; a lone surrogate; an
    absolute path; a ``..`` part (``\\`` separates parts too); a ``:`` on Windows (drives,
    streams); a part over ``MAX_NAME_BYTES`` bytes of UTF-8; a whole path, with room for an
    event file's name, over the OS's limit. Empty and ``.`` parts are dropped, as the OS
    drops them in torch's ``os.path.join(log_dir, run_name)``: ``"."`` is ``log_dir`` itself
    (the run ``""``), ``"a//b/"`` is ``"a/b"``.
    """
    if "\0" in name:
        raise ValueError(f"{what} must not hold a NUL character; got {describe(name)}")
    text(name, what)
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if name.startswith(("/", "\\")) or ".." in parts or (_WINDOWS and ":" in name):
        raise ValueError(
            f"{what} must be a relative path inside the log directory, without '..' parts (or a "
            f"drive or ':' on Windows); got {describe(name)}"
        )
    for part in parts:
        size = len(part.encode("utf-8"))
        if size > MAX_NAME_BYTES:
            raise ValueError(
                f"{what} makes a directory name of {size} bytes (UTF-8); file systems take at most "
                f"{MAX_NAME_BYTES}: got {describe(name)}"
            )
    run = "/".join(parts)
    # The writer creates <log_dir>/<run>/<event file name>; the file name takes at most
    # MAX_NAME_BYTES + a separator.
    total = len(log_dir.encode("utf-8", "surrogatepass")) + 1 + len(run.encode("utf-8")) + 1 + MAX_NAME_BYTES
    limit = _max_path_bytes()
    if total >= limit:
        raise ValueError(
            f"{what} makes a path of about {total} bytes with the log directory and an event file "
            f"name; the OS takes paths of fewer than {limit}: got {describe(name)}"
        )
    return run


# ----- arrays (histograms, images, audio, …) -----------------------------------------------


def _is_torch(value: Any) -> bool:
    return _framework(value) == "torch" and hasattr(value, "numel")


def _is_jax(value: Any) -> bool:
    return _framework(value) in ("jax", "jaxlib") and hasattr(value, "shape")


def _not_rectangular(value: Any, name: str, exc: Exception) -> TypeError:
    return TypeError(
        f"{name} must be array-like: a NumPy/torch/JAX array, a number, or nested lists of equal "
        f"lengths; got {describe(value)} ({exc})"
    )


def shape_of(value: Any, name: str = "value") -> tuple[int, ...]:
    """The shape of an array-like, read from metadata (never waits for a device).

    Ragged nested lists raise a TypeError naming ``name``.
    """
    if _is_torch(value) or _is_jax(value) or isinstance(value, np.ndarray):
        return tuple(int(d) for d in value.shape)
    try:
        return np.shape(value)
    except (TypeError, ValueError) as exc:
        raise _not_rectangular(value, name, exc) from None


def dtype_kind(value: Any, name: str = "value") -> str:
    """NumPy dtype kind of an array-like ('b', 'i', 'u', 'f', 'c', 'U', 'O', …).

    ml_dtypes' bfloat16 and float8 types count as 'f' (``snapshot`` and ``array`` turn them
    into float32). Ragged nested lists raise a TypeError naming ``name``.
    """
    if _is_torch(value) or _is_jax(value):
        return _numeric_kind(value.dtype)
    if isinstance(value, np.ndarray):
        dtype = value.dtype
    else:
        try:
            dtype = np.asarray(value).dtype
        except (TypeError, ValueError) as exc:
            raise _not_rectangular(value, name, exc) from None
    return dtype.kind if dtype.kind != "V" else _numeric_kind(dtype)


def _is_ml_float(dtype: np.dtype) -> bool:
    """ml_dtypes' bfloat16 / float8 types (NumPy dtype kind 'V')."""
    return dtype.kind == "V" and dtype.name.startswith(("bfloat", "float"))


def _float32_if_ml(array: np.ndarray) -> np.ndarray:
    """ml_dtypes floats as float32, which holds every one of their values exactly."""
    return array.astype(np.float32) if _is_ml_float(array.dtype) else array


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
        return _float32_if_ml(np.array(value))
    except (TypeError, ValueError) as exc:
        raise _not_rectangular(value, name, exc) from None


def array(value: Any, name: str = "value") -> np.ndarray:
    """A NumPy array of an array-like; reads device values (use on the writer thread).

    bfloat16 and float8 values (ml_dtypes, torch) come back as float32.
    """
    if _is_torch(value):
        return _torch_to_numpy(value.detach(), copy=False)
    try:
        return _float32_if_ml(np.asarray(value))
    except (TypeError, ValueError) as exc:
        raise _not_rectangular(value, name, exc) from None


def _torch_to_numpy(tensor: Any, copy: bool) -> np.ndarray:
    tensor = tensor.cpu()
    name = str(tensor.dtype)
    if name == "torch.bfloat16" or name.startswith("torch.float8"):  # NumPy has neither
        tensor = tensor.float()  # exact: float32 holds every bfloat16 and float8 value
    result = tensor.resolve_conj().resolve_neg().numpy()
    return result.copy() if copy else result
