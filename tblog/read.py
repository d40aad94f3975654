"""Reading event files back: the events of a file or log directory, and scalars as a table.

Reads what tblog, torch.utils.tensorboard, tensorboardX and tf.summary write. CRCs are
checked; a truncated last record is skipped; a corrupted one is reported (see
``tblog.events.record.read_records``).

    >>> table = tblog.read.scalars("runs")          # pandas DataFrame if pandas is installed
    >>> for event in tblog.read.events("runs/exp1"):
    ...     print(event.step, event.WhichOneof("what"))
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from tblog.events.files import FILE_PREFIX
from tblog.events.record import CorruptRecordWarning, OnCorrupt, read_records
from tblog.proto import event_pb2

__all__ = ["CorruptRecordWarning", "event_files", "events", "runs", "scalars", "tensor_to_numpy"]

Event = event_pb2.Event

_SCALAR_COLUMNS = ("run", "tag", "step", "wall_time", "value")


def event_files(path: str | os.PathLike[str]) -> list[str]:
    """The event files at ``path``: the file itself, or every one below a directory.

    Files are sorted by directory, then by name (name order is creation order).
    """
    path = os.fspath(path)
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise FileNotFoundError(f"no event file or directory at {path!r}")
    found: list[str] = []
    for directory, _, names in os.walk(path):
        found.extend(os.path.join(directory, n) for n in names if FILE_PREFIX.rstrip(".") in n)
    return sorted(found, key=lambda f: (os.path.dirname(f), os.path.basename(f)))


def runs(logdir: str | os.PathLike[str]) -> dict[str, list[str]]:
    """Run name (directory relative to ``logdir``, "." for itself) → its event files."""
    logdir = os.fspath(logdir)
    result: dict[str, list[str]] = {}
    for file in event_files(logdir):
        run = os.path.relpath(os.path.dirname(file), logdir) if os.path.isdir(logdir) else "."
        result.setdefault(run.replace(os.sep, "/"), []).append(file)
    return result


def events(path: str | os.PathLike[str], *, on_corrupt: OnCorrupt = "warn") -> Iterator[Any]:
    """Every ``Event`` (tblog.proto.event_pb2.Event) of a file, or of all files under a directory."""
    for file in event_files(path):
        with open(file, "rb") as stream:
            for payload in read_records(stream, file, on_corrupt):
                yield Event.FromString(payload)


def scalars(
    logdir: str | os.PathLike[str],
    *,
    dataframe: bool | None = None,
    on_corrupt: OnCorrupt = "warn",
) -> Any:
    """Every scalar under ``logdir`` as a table with columns run, tag, step, wall_time, value.

    Returns a pandas DataFrame when pandas is installed (``dataframe=None``) or asked for
    (``True``), else a dict of NumPy arrays. Legacy ``simple_value`` scalars and tensor
    scalars of the scalars plugin (torch's ``new_style``, ``tf.summary.scalar``) are read.
    Rows keep file order; purge markers (``purge_step``) are not applied.
    """
    columns: dict[str, list[Any]] = {name: [] for name in _SCALAR_COLUMNS}
    for run, files in runs(logdir).items():
        scalar_tags: set[str] = set()  # tags whose first metadata names the scalars plugin
        seen_tags: set[str] = set()
        for file in files:
            for event in events(file, on_corrupt=on_corrupt):
                if event.WhichOneof("what") != "summary":
                    continue
                for value in event.summary.value:
                    number = _scalar_of(value, scalar_tags, seen_tags)
                    if number is not None:
                        columns["run"].append(run)
                        columns["tag"].append(value.tag)
                        columns["step"].append(event.step)
                        columns["wall_time"].append(event.wall_time)
                        columns["value"].append(number)
    return _table(columns, dataframe)


def _scalar_of(value: Any, scalar_tags: set[str], seen_tags: set[str]) -> float | None:
    if value.tag not in seen_tags:  # TensorBoard keeps the first metadata of each tag
        seen_tags.add(value.tag)
        if value.metadata.plugin_data.plugin_name == "scalars":
            scalar_tags.add(value.tag)
    kind = value.WhichOneof("value")
    if kind == "simple_value":
        return float(value.simple_value)
    if kind == "tensor" and value.tag in scalar_tags:
        array = tensor_to_numpy(value.tensor)
        if array.size == 1:
            return float(array.reshape(()))
    return None


def _table(columns: dict[str, list[Any]], dataframe: bool | None) -> Any:
    arrays = {
        "run": np.array(columns["run"], dtype=object),
        "tag": np.array(columns["tag"], dtype=object),
        "step": np.array(columns["step"], dtype=np.int64),
        "wall_time": np.array(columns["wall_time"], dtype=np.float64),
        "value": np.array(columns["value"], dtype=np.float64),
    }
    if dataframe is False:
        return arrays
    try:
        import pandas as pd
    except ImportError:
        if dataframe:
            raise ImportError(
                "tblog.read.scalars(dataframe=True) needs pandas: pip install 'tblog[pandas]'"
            ) from None
        return arrays
    return pd.DataFrame(arrays)


_NUMPY_DTYPES: dict[int, tuple[str, str]] = {
    # DataType: (NumPy dtype, TensorProto field holding the values when not in tensor_content)
    1: ("<f4", "float_val"),
    2: ("<f8", "double_val"),
    3: ("<i4", "int_val"),
    4: ("u1", "int_val"),
    5: ("<i2", "int_val"),
    6: ("i1", "int_val"),
    9: ("<i8", "int64_val"),
    10: ("?", "bool_val"),
    17: ("<u2", "int_val"),
    19: ("<f2", "half_val"),
    22: ("<u4", "uint32_val"),
    23: ("<u8", "uint64_val"),
}


def tensor_to_numpy(tensor: Any) -> np.ndarray:
    """A ``TensorProto`` (numeric or string) as a NumPy array of its shape."""
    shape = tuple(dim.size for dim in tensor.tensor_shape.dim)
    if tensor.dtype == 7:  # DT_STRING
        return np.array(list(tensor.string_val), dtype=object).reshape(shape)
    if tensor.dtype not in _NUMPY_DTYPES:
        raise ValueError(f"tensor dtype {tensor.dtype} is not supported by tblog.read")
    dtype, field = _NUMPY_DTYPES[tensor.dtype]
    count = int(np.prod(shape))
    if tensor.tensor_content:
        return np.frombuffer(tensor.tensor_content, dtype=dtype).reshape(shape)
    values = getattr(tensor, field)
    # half_val holds the raw 16-bit patterns of float16 values
    raw = np.array(values, dtype="<u2").view("<f2") if dtype == "<f2" else None
    array = raw if raw is not None else np.array(values, dtype=dtype)
    if array.size == count:
        return array.reshape(shape)
    if array.size == 1:  # protobuf's shorthand: one value fills the tensor
        return np.full(shape, array[0], dtype=dtype)
    if array.size == 0:
        return np.zeros(shape, dtype=dtype)
    raise ValueError(f"tensor holds {array.size} values for shape {shape}")
