"""The tables of ``tblog.read``: scalars, histograms, texts, images (+ ``decode_image``) and
hparams of a log directory, filtered by run, tag and step, as a pandas DataFrame or a dict of
NumPy arrays.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import numpy as np

from tblog.events.record import OnCorrupt
from tblog.read import columns as columns_of
from tblog.read.files import runs as list_runs  # the tables' ``runs=`` argument hides the name
from tblog.read.filters import check_dataframe, check_on_corrupt

# ``steps=`` of the tables: (min, max) inclusive, a range, or a slice.
Steps = tuple[int | None, int | None] | range | slice | None


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
    bulk with NumPy (``tblog/read/fast_scalars.py``), everything else with protobuf.
    """
    _check(dataframe, on_corrupt)
    columns = columns_of.scalars(
        list_runs(logdir, on_corrupt=on_corrupt, storage_options=storage_options),
        runs,
        tags,
        steps,
        on_corrupt,
        storage_options,
    )
    return columns_of.finish(columns, dataframe, "scalars")


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
    if isinstance(row_or_bytes, (bytes, bytearray, memoryview)):
        data = bytes(row_or_bytes)
    else:
        try:
            data = row_or_bytes["encoded"]
        except (KeyError, TypeError, IndexError):
            raise TypeError(
                "decode_image takes the encoded bytes or a row of tblog.read.images (with an 'encoded' "
                f"field); got {type(row_or_bytes).__name__}"
            ) from None
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"the row's 'encoded' field must be bytes; got {type(data).__name__}")
        data = bytes(data)
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("tblog.read.decode_image needs Pillow: pip install 'tblog[image]'") from None
    import io

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.seek(0)
            if image.mode not in ("L", "LA", "RGB", "RGBA"):
                image = image.convert("RGBA" if "transparency" in image.info else "RGB")
            array = np.asarray(image, dtype=np.uint8)
    except OSError as error:  # PIL.UnidentifiedImageError is an OSError
        raise ValueError(f"decode_image: the bytes are not an image Pillow can read ({error})") from None
    return array[:, :, None] if array.ndim == 2 else array


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
    _check(dataframe, on_corrupt)
    columns = columns_of.hparams(
        list_runs(logdir, on_corrupt=on_corrupt, storage_options=storage_options),
        runs=runs,
        on_corrupt=on_corrupt,
        storage_options=storage_options,
    )
    return columns_of.finish(columns, dataframe, "hparams")


def _check(dataframe: Any, on_corrupt: Any) -> None:
    check_dataframe(dataframe)
    check_on_corrupt(on_corrupt)


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
    _check(dataframe, on_corrupt)
    columns = getattr(columns_of, what)(
        list_runs(logdir, on_corrupt=on_corrupt, storage_options=storage_options),
        runs=runs,
        tags=tags,
        steps=steps,
        on_corrupt=on_corrupt,
        storage_options=storage_options,
    )
    return columns_of.finish(columns, dataframe, what)
