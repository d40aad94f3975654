"""Reading event files back: the events of a file or log directory, and tidy tables of its
scalars, histograms, texts, images and hparams (``scalars``, ``histograms``, ``texts``,
``images`` + ``decode_image``, ``hparams``), filtered by run, tag and step.

Reads what tblog, torch.utils.tensorboard, tensorboardX and tf.summary write. CRCs are
checked; a truncated last record is skipped; a corrupted one is reported (see
``tblog.events.record.read_records``), and so is, the same way, anything below the log
directory that cannot be read: a FIFO, socket or device named like an event file (never
opened: that could block), a directory or file without read permission.

    >>> table = tblog.read.scalars("runs")          # pandas DataFrame if pandas is installed
    >>> losses = tblog.read.scalars("runs", runs="exp*", tags="*/loss", steps=(0, 1000))
    >>> for event in tblog.read.events("runs/exp1"):
    ...     print(event.step, event.WhichOneof("what"))
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

import numpy as np
from google.protobuf.message import DecodeError

from tblog import _fs
from tblog.events.files import FILE_PREFIX
from tblog.events.record import (
    CorruptRecordWarning,
    NotRegularFileError,
    OnCorrupt,
    not_regular,
    open_regular,
    read_records,
    report_corrupt,
)
from tblog.proto import event_pb2

__all__ = [
    "CorruptRecordWarning",
    "decode_image",
    "event_files",
    "events",
    "histograms",
    "hparams",
    "images",
    "read_events",
    "runs",
    "scalars",
    "tensor_to_numpy",
    "texts",
]

Event = event_pb2.Event

# ``steps=`` of the tables: (min, max) inclusive, a range, or a slice.
Steps = tuple[int | None, int | None] | range | slice | None


def event_files(
    path: str | os.PathLike[str],
    *,
    on_corrupt: OnCorrupt = "warn",
    storage_options: dict[str, Any] | None = None,
) -> list[str]:
    """The event files at ``path``: the file itself, or every one below a directory.

    Files are sorted by directory, then by name (name order is creation order). ``path`` may
    be an fsspec URL (``s3://bucket/run``; ``storage_options`` go to its file system).

    Only regular files are event files. Below ``path``, a FIFO, socket or device named like an
    event file (never opened: that could block), and a directory or file that cannot be read,
    are left out and reported per ``on_corrupt`` (a ``CorruptRecordWarning`` naming it, by
    default). ``path`` itself must be readable: else the ``OSError`` (``PermissionError``,
    ``FileNotFoundError``, ``NotRegularFileError``) is raised.
    """
    path = os.fspath(path)
    if _fs.is_url(path):
        return _local_regular(
            [file for _, file in _fs.event_files(path, storage_options)], on_corrupt, storage_options
        )
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"no event file or directory at {path!r}") from None
    if stat.S_ISREG(mode):
        open_regular(path).close()  # unreadable: raise now
        return [path]
    if not stat.S_ISDIR(mode):
        raise not_regular(path, mode)

    def unreadable(error: OSError) -> None:
        if error.filename == path:
            raise error  # the directory the caller named
        if not isinstance(error, FileNotFoundError):  # not merely removed while we walk
            report_corrupt(
                on_corrupt,
                f"{error.filename}: directory cannot be read ({error.strerror}); its event files are skipped",
                cause=error,
            )

    found: list[str] = []
    for directory, _, names in os.walk(path, onerror=unreadable):
        for name in names:
            if _EVENTS_MARK in name:
                file = os.path.join(directory, name)
                if _is_regular(file, file, on_corrupt):
                    found.append(file)
    return sorted(found, key=lambda f: (os.path.dirname(f), os.path.basename(f)))


_EVENTS_MARK = FILE_PREFIX.rstrip(".")  # what TensorBoard looks for in a name: "tfevents"


def _is_regular(local: str, name: str, on_corrupt: OnCorrupt) -> bool:
    """Whether the local path ``local`` (``name`` in messages) is a regular file; if not, and it
    was not merely removed meanwhile, that is reported."""
    try:
        mode = os.stat(local).st_mode
    except FileNotFoundError as error:
        if os.path.lexists(local):
            report_corrupt(on_corrupt, f"{name}: is a broken symbolic link; skipped", cause=error)
        return False
    except OSError as error:
        report_corrupt(on_corrupt, f"{name}: cannot be read ({error.strerror}); skipped", cause=error)
        return False
    if stat.S_ISREG(mode):
        return True
    report_corrupt(on_corrupt, f"{not_regular(name, mode)}; skipped")
    return False


def _local_regular(
    urls: list[str], on_corrupt: OnCorrupt, storage_options: dict[str, Any] | None
) -> list[str]:
    """``urls`` without the FIFOs and devices among them, where they name the local disk (``file://``)."""
    if not urls or not _fs.is_local(_fs.url_to_fs(urls[0], storage_options)[0]):
        return urls
    return [url for url in urls if _is_regular(_fs.url_to_fs(url, storage_options)[1], url, on_corrupt)]


def _open_event_file(path: str, storage_options: dict[str, Any] | None = None) -> BinaryIO:
    """A binary stream of a local event file or an fsspec URL; a local path (``file://`` too)
    that is no regular file raises ``NotRegularFileError`` at once instead of blocking."""
    if not _fs.is_url(path):
        return open_regular(path)
    fs, inner = _fs.url_to_fs(path, storage_options)
    if _fs.is_local(fs):
        return open_regular(inner)
    stream: BinaryIO = fs.open(inner, "rb")
    return stream


def _open_or_report(
    path: str, on_corrupt: OnCorrupt, storage_options: dict[str, Any] | None
) -> BinaryIO | None:
    """``_open_event_file``, or None after reporting a local file that cannot be read (no longer
    regular, no permission, removed since it was listed) per ``on_corrupt``."""
    try:
        return _open_event_file(path, storage_options)
    except NotRegularFileError as error:
        report_corrupt(on_corrupt, f"{error}; skipped", stacklevel=4)
    except OSError as error:
        if _fs.is_url(path):
            raise
        report_corrupt(
            on_corrupt, f"{path}: cannot be read ({error.strerror}); skipped", stacklevel=4, cause=error
        )
    return None


def runs(
    logdir: str | os.PathLike[str],
    *,
    on_corrupt: OnCorrupt = "warn",
    storage_options: dict[str, Any] | None = None,
) -> dict[str, list[str]]:
    """Run name (directory relative to ``logdir``, "." for itself) → its event files.

    What cannot be read is reported per ``on_corrupt``, as in ``event_files``."""
    logdir = os.fspath(logdir)
    result: dict[str, list[str]] = {}
    if _fs.is_url(logdir):
        urls = _fs.event_files(logdir, storage_options)
        kept = set(_local_regular([url for _, url in urls], on_corrupt, storage_options))
        for run, url in urls:
            if url in kept:
                result.setdefault(run, []).append(url)
        return result
    files = event_files(logdir, on_corrupt=on_corrupt)
    is_dir = os.path.isdir(logdir)
    for file in files:
        run = os.path.relpath(os.path.dirname(file), logdir) if is_dir else "."
        result.setdefault(run.replace(os.sep, "/"), []).append(file)
    return result


_list_runs = runs  # the tables' ``runs=`` argument hides the function


def events(
    path: str | os.PathLike[str],
    *,
    on_corrupt: OnCorrupt = "warn",
    storage_options: dict[str, Any] | None = None,
) -> Iterator[Any]:
    """Every ``Event`` (tblog.proto.event_pb2.Event) of a file, or of all files under a directory.

    ``path`` may be an fsspec URL, as in ``event_files``; what cannot be read is reported
    per ``on_corrupt`` like a corrupted record."""
    for file in event_files(path, on_corrupt=on_corrupt, storage_options=storage_options):
        stream = _open_or_report(file, on_corrupt, storage_options)
        if stream is None:
            continue
        with stream:
            yield from read_events(stream, file, on_corrupt)


def read_events(stream: BinaryIO, name: str = "<stream>", on_corrupt: OnCorrupt = "warn") -> Iterator[Any]:
    """Every ``Event`` of one open binary stream; a record that is no Event counts as corrupt."""
    for index, payload in enumerate(read_records(stream, name, on_corrupt)):
        try:
            event = Event.FromString(payload)
        except (DecodeError, ValueError, RecursionError) as error:
            # CRCs only prove the bytes are as written; a malicious or buggy writer can frame garbage.
            message = f"{name}: record {index} ({len(payload)} bytes) is not an Event ({error}); skipped"
            report_corrupt(on_corrupt, message)
            continue
        yield event


def scalars(
    logdir: str | os.PathLike[str],
    *,
    runs: str | Iterable[str] | None = None,
    tags: str | Iterable[str] | None = None,
    steps: Steps = None,
    dataframe: bool | None = None,
    on_corrupt: OnCorrupt = "warn",
    storage_options: dict[str, Any] | None = None,
) -> Any:
    """Every scalar under ``logdir`` as a table with columns run, tag, step, wall_time, value.

    Returns a pandas DataFrame when pandas is installed (``dataframe=None``) or asked for
    (``True``), else (``False``, or no pandas) a dict of NumPy arrays: run and tag are object
    arrays of str, step int64, wall_time and value float64. Legacy ``simple_value`` scalars
    and tensor scalars of the scalars plugin (torch's ``new_style``, ``tf.summary.scalar``)
    are read. Rows keep file order, run by run; purge markers (``purge_step``) are not applied.

    Filters (applied before values are decoded): ``runs`` and ``tags`` are a glob or a list
    of globs (``fnmatch``, case-sensitive; a name matching any is kept; runs are directories
    relative to ``logdir``, ``"."`` for ``logdir`` itself); ``steps`` is ``(min, max)``
    (inclusive, either may be None), a ``range`` (steps in it) or a ``slice`` (``start <= step
    < stop``, every ``slice.step``-th). ``on_corrupt``: "warn", "raise" or "skip" a corrupted
    record, and likewise anything below ``logdir`` that cannot be read (a FIFO named like an
    event file, a directory or file without read permission: see ``event_files``); a record
    that claims more bytes than its CRC proves costs no memory. ``logdir`` may be an fsspec
    URL (``storage_options`` go to its file system).

    Fast: the plain ``simple_value`` events tblog, torch and tensorboardX write are decoded in
    bulk with NumPy (``tblog/_scalar_scan.py``), everything else with protobuf.
    """
    from tblog import _tables

    _check(dataframe, on_corrupt)
    columns = _tables.scalars(
        _list_runs(logdir, on_corrupt=on_corrupt, storage_options=storage_options),
        runs,
        tags,
        steps,
        on_corrupt,
        storage_options,
        _scalar_of,
    )
    return _tables.finish(columns, dataframe, "scalars")


def histograms(
    logdir: str | os.PathLike[str],
    *,
    runs: str | Iterable[str] | None = None,
    tags: str | Iterable[str] | None = None,
    steps: Steps = None,
    dataframe: bool | None = None,
    on_corrupt: OnCorrupt = "warn",
    storage_options: dict[str, Any] | None = None,
) -> Any:
    """Every histogram under ``logdir``: one row per histogram, columns run, tag, step,
    wall_time, min, max, num, sum, sum_squares (float64), bucket_left, bucket_right,
    bucket_count (one float64 array per row).

    Buckets are as TensorBoard draws them: for the legacy ``HistogramProto`` (tblog, torch,
    tensorboardX) the empty buckets at both ends are dropped and the outer edges become min
    and max; a ``[k, 3]`` tensor of the histograms plugin (``tf.summary.histogram``) gives its
    left, right and count columns, with num = the sum of the counts and min, max, sum,
    sum_squares NaN (that format does not store them). Arguments as in ``scalars``.
    """
    return _protobuf_table("histograms", logdir, runs, tags, steps, dataframe, on_corrupt, storage_options)


def texts(
    logdir: str | os.PathLike[str],
    *,
    runs: str | Iterable[str] | None = None,
    tags: str | Iterable[str] | None = None,
    steps: Steps = None,
    dataframe: bool | None = None,
    on_corrupt: OnCorrupt = "warn",
    storage_options: dict[str, Any] | None = None,
) -> Any:
    """Every text summary under ``logdir``: columns run, tag, step, wall_time, text (str).

    A string tensor of the text plugin gives its one string, or, for a tensor of any other
    shape, its strings in row-major order joined by newlines; UTF-8 (bad bytes replaced).
    Tags are as stored (torch, tensorboardX and tblog's ``add_text("x")`` store
    ``x/text_summary``). Arguments as in ``scalars``.
    """
    return _protobuf_table("texts", logdir, runs, tags, steps, dataframe, on_corrupt, storage_options)


def images(
    logdir: str | os.PathLike[str],
    *,
    runs: str | Iterable[str] | None = None,
    tags: str | Iterable[str] | None = None,
    steps: Steps = None,
    dataframe: bool | None = None,
    on_corrupt: OnCorrupt = "warn",
    storage_options: dict[str, Any] | None = None,
) -> Any:
    """Every image under ``logdir``: columns run, tag, step, wall_time, index, width, height
    (int64) and encoded (the PNG or GIF bytes as stored; ``decode_image`` gives pixels).

    A legacy ``Image`` (tblog, torch, tensorboardX; a video is one animated GIF) is one row
    with index 0; a string tensor of the images plugin (``tf.summary.image``, ``[width,
    height, image...]``) gives one row per image, index 0, 1, ... Arguments as in ``scalars``.
    """
    return _protobuf_table("images", logdir, runs, tags, steps, dataframe, on_corrupt, storage_options)


def decode_image(row_or_bytes: Any) -> np.ndarray:
    """The pixels of an image of ``images()`` (a row of it, or its encoded bytes) as a uint8
    array of shape (height, width, channels): 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA);
    other modes (palettes) become RGB or RGBA. An animated GIF gives its first frame. Needs
    Pillow (``pip install 'tblog[image]'``)."""
    from tblog import _tables

    return _tables.decode_image(row_or_bytes)


def hparams(
    logdir: str | os.PathLike[str],
    *,
    runs: str | Iterable[str] | None = None,
    dataframe: bool | None = None,
    on_corrupt: OnCorrupt = "warn",
    storage_options: dict[str, Any] | None = None,
) -> Any:
    """One row per run that holds hparams (its first ``_hparams_/session_start_info``, as
    TensorBoard shows): column run, then one column per hparam named as the hparam, in the
    order the ``_hparams_/experiment`` declares them, others alphabetically (float64 for
    numbers with NaN where a run lacks it, bool, or objects: str and None),
    then one float64 column per metric: the last value, in file order, of that scalar tag
    in the run (NaN if none).

    The metrics are those the ``_hparams_/experiment`` summaries anywhere under ``logdir``
    declare (a metric of group ``g`` is read in run ``<run>/g`` and its column is named
    ``g/<tag>``); with no experiment, every scalar tag of the runs with hparams. A metric
    column whose name is taken by an hparam is named ``metric/<name>``. ``runs`` selects
    runs as in ``scalars``.
    """
    from tblog import _tables

    _check(dataframe, on_corrupt)
    columns = _tables.hparams(
        _list_runs(logdir, on_corrupt=on_corrupt, storage_options=storage_options),
        runs=runs,
        on_corrupt=on_corrupt,
        storage_options=storage_options,
        scalar_of=_scalar_of,
    )
    return _tables.finish(columns, dataframe, "hparams")


def _check(dataframe: Any, on_corrupt: Any) -> None:
    from tblog import _tables

    _tables.check_dataframe(dataframe)
    _tables.check_on_corrupt(on_corrupt)


def _protobuf_table(
    what: str,
    logdir: str | os.PathLike[str],
    runs: Any,
    tags: Any,
    steps: Any,
    dataframe: bool | None,
    on_corrupt: OnCorrupt,
    storage_options: dict[str, Any] | None,
) -> Any:
    from tblog import _tables

    _check(dataframe, on_corrupt)
    columns = getattr(_tables, what)(
        _list_runs(logdir, on_corrupt=on_corrupt, storage_options=storage_options),
        runs=runs,
        tags=tags,
        steps=steps,
        on_corrupt=on_corrupt,
        storage_options=storage_options,
    )
    return _tables.finish(columns, dataframe, what)


def _scalar_of(value: Any, scalar_tags: set[str], seen_tags: set[str]) -> float | None:
    if value.tag not in seen_tags:  # TensorBoard keeps the first metadata of each tag
        seen_tags.add(value.tag)
        if value.metadata.plugin_data.plugin_name == "scalars":
            scalar_tags.add(value.tag)
    kind = value.WhichOneof("value")
    if kind == "simple_value":
        return float(value.simple_value)
    # Only a numeric tensor of one element is a scalar; its shape is checked before any
    # conversion, so a tensor claiming a huge shape costs nothing here.
    if kind == "tensor" and value.tag in scalar_tags and _is_one_number(value.tensor):
        return float(tensor_to_numpy(value.tensor).reshape(()))
    return None


def _is_one_number(tensor: Any) -> bool:
    return tensor.dtype in _NUMPY_DTYPES and all(dim.size == 1 for dim in tensor.tensor_shape.dim)


# A tensor stored as one value (or none) for a larger shape is expanded up to this many
# elements (128 MiB of float64); beyond it the shape is taken for corruption.
MAX_FILL_ELEMENTS = 1 << 24

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
    """A ``TensorProto`` (numeric or string) as a NumPy array of its shape.

    Raises ``ValueError`` when the shape does not match the values held (a corrupted or
    hand-made tensor): the array is never allocated at a size the data does not back,
    except for protobuf's one-value-fills-all shorthand, up to ``MAX_FILL_ELEMENTS``.
    """
    shape = tuple(dim.size for dim in tensor.tensor_shape.dim)
    if any(size < 0 for size in shape):
        raise ValueError(f"tensor shape {list(shape)} has a negative (unknown) dimension")
    count = math.prod(shape)  # Python ints: np.prod would wrap around silently
    if tensor.dtype == 7:  # DT_STRING
        if len(tensor.string_val) != count:
            raise ValueError(f"string tensor holds {len(tensor.string_val)} values for shape {list(shape)}")
        return np.array(list(tensor.string_val), dtype=object).reshape(shape)
    if tensor.dtype not in _NUMPY_DTYPES:
        raise ValueError(f"tensor dtype {tensor.dtype} is not supported by tblog.read")
    dtype, field = _NUMPY_DTYPES[tensor.dtype]
    if tensor.tensor_content:
        need = count * np.dtype(dtype).itemsize
        if len(tensor.tensor_content) != need:
            raise ValueError(
                f"tensor_content holds {len(tensor.tensor_content)} bytes; "
                f"shape {list(shape)} of {np.dtype(dtype)} needs {need}"
            )
        return np.frombuffer(tensor.tensor_content, dtype=dtype).reshape(shape)
    values = getattr(tensor, field)
    # half_val holds the raw 16-bit patterns of float16 values
    raw = np.array(values, dtype=np.int32).astype("<u2").view("<f2") if dtype == "<f2" else None
    if raw is not None:
        array = raw
    elif field == "int_val":  # int32 on the wire for 8- and 16-bit types too: cast, as TensorFlow does
        array = np.array(values, dtype=np.int32).astype(dtype)
    else:
        array = np.array(values, dtype=dtype)
    if array.size == count:
        return array.reshape(shape)
    if array.size > 1:
        raise ValueError(f"tensor holds {array.size} values for shape {list(shape)}")
    if count > MAX_FILL_ELEMENTS:
        raise ValueError(
            f"tensor of shape {list(shape)} ({count} elements) holds {array.size} values; "
            f"refusing to expand it beyond {MAX_FILL_ELEMENTS} elements"
        )
    if array.size == 1:  # protobuf's shorthand: one value fills the tensor
        return np.full(shape, array[0], dtype=dtype)
    return np.zeros(shape, dtype=dtype)
