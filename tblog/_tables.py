"""The tables of ``tblog.read``: filters, the walk over a log directory's runs, and the
columns of each table (the public functions and their documentation are in ``tblog.read``).
"""

from __future__ import annotations

import fnmatch
import math
import numbers
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

import numpy as np

from tblog import _decode_values as decode
from tblog import _scalar_scan
from tblog.events.record import OnCorrupt, report_corrupt

Columns = dict[str, Any]  # name -> np.ndarray, or Coded
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_ON_CORRUPT = ("warn", "raise", "skip")


# ----- arguments ----------------------------------------------------------------------------


def name_filter(patterns: Any, argument: str) -> Callable[[str], bool]:
    """A test for names from ``None`` (all), a glob, or a list of globs (fnmatch, case-sensitive)."""
    if patterns is None:
        return lambda name: True
    if isinstance(patterns, str):
        patterns = [patterns]
    elif not isinstance(patterns, Iterable) or isinstance(patterns, bytes):
        raise TypeError(
            f"{argument} must be None, a glob string or a list of glob strings; got {type(patterns).__name__}"
        )
    patterns = list(patterns)
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise TypeError(f"{argument} must hold glob strings; got {type(pattern).__name__} {pattern!r}")
    compiled = [fnmatch.translate(pattern) for pattern in patterns]
    regex = re.compile("|".join(f"(?:{c})" for c in compiled)) if compiled else None
    cache: dict[str, bool] = {}

    def matches(name: str) -> bool:
        hit = cache.get(name)
        if hit is None:
            hit = cache[name] = regex is not None and regex.match(name) is not None
        return hit

    return matches


def _step_bound(bound: Any, what: str) -> int | None:
    if bound is None:
        return None
    if isinstance(bound, bool) or not isinstance(bound, numbers.Integral):
        raise TypeError(f"steps {what} must be an int or None; got {type(bound).__name__} {bound!r}")
    return int(bound)


def step_filter(steps: Any) -> Callable[[np.ndarray], np.ndarray]:
    """A vectorized test for steps from ``None`` (all), ``(min, max)`` (inclusive; either may
    be None), a ``range`` (membership) or a ``slice`` (``start <= step < stop``, every
    ``step``-th from ``start``)."""
    if steps is None:
        return lambda s: np.ones(len(s), dtype=bool)
    every = 1
    origin = 0
    if isinstance(steps, range):
        if steps.step < 0:
            steps = steps[::-1]
        low, high, every, origin = steps.start, steps.stop - 1, steps.step, steps.start
    elif isinstance(steps, slice):
        start, stop = _step_bound(steps.start, "slice start"), _step_bound(steps.stop, "slice stop")
        stride = _step_bound(steps.step, "slice step")
        if stride is not None and stride <= 0:
            raise ValueError(f"steps slice step must be positive; got {stride}")
        low = _INT64_MIN if start is None else start
        high = _INT64_MAX if stop is None else stop - 1
        every, origin = stride or 1, start or 0
    elif isinstance(steps, (tuple, list)) and len(steps) == 2:
        low_bound, high_bound = _step_bound(steps[0], "minimum"), _step_bound(steps[1], "maximum")
        if low_bound is not None and high_bound is not None and low_bound > high_bound:
            raise ValueError(f"steps (min, max) has min {low_bound} > max {high_bound}")
        low = _INT64_MIN if low_bound is None else low_bound
        high = _INT64_MAX if high_bound is None else high_bound
    else:
        raise TypeError(
            "steps must be None, a (min, max) tuple (inclusive), a range or a slice; "
            f"got {type(steps).__name__} {steps!r}"
        )
    # Bounds beyond int64 select the same steps as int64's extremes (steps are int64).
    low, high = max(low, _INT64_MIN), min(high, _INT64_MAX)
    if every == 1:
        return lambda s: (s >= low) & (s <= high)
    origin %= every  # NumPy's % takes the divisor's sign, like Python's: no overflow, no negatives
    return lambda s: (s >= low) & (s <= high) & (s % every == origin)


def check_on_corrupt(on_corrupt: Any) -> None:
    if on_corrupt not in _ON_CORRUPT:
        raise ValueError(f"on_corrupt must be one of {', '.join(map(repr, _ON_CORRUPT))}; got {on_corrupt!r}")


def check_dataframe(dataframe: Any) -> None:
    if dataframe not in (None, True, False):
        raise TypeError(f"dataframe must be None, True or False; got {dataframe!r}")


# ----- output -------------------------------------------------------------------------------


class Coded(NamedTuple):
    """A column of few distinct strings: the strings, and each row's index into them."""

    names: list[str]
    codes: np.ndarray


def finish(columns: dict[str, np.ndarray | Coded], dataframe: bool | None, function: str) -> Any:
    """A pandas DataFrame of ``columns`` when pandas is there (``None``) or asked for (``True``),
    else a dict of NumPy arrays (``Coded`` columns become object arrays of str)."""
    pd: Any = None
    if dataframe is not False:
        try:
            import pandas

            pd = pandas
        except ImportError:
            if dataframe:
                raise ImportError(
                    f"tblog.read.{function}(dataframe=True) needs pandas: pip install 'tblog[pandas]'"
                ) from None
    if pd is None:
        return {
            name: objects(column.names)[column.codes] if isinstance(column, Coded) else column
            for name, column in columns.items()
        }
    # Strings of a Coded column are converted once each, then taken by index: pandas's own
    # string dtype (pandas 3) or object (older) without converting a million Python strings.
    return pd.DataFrame(
        {
            name: pd.Series(objects(column.names)).array.take(column.codes)
            if isinstance(column, Coded)
            else column
            for name, column in columns.items()
        },
        copy=False,
    )


def objects(items: list[Any]) -> np.ndarray:
    """A 1-D object array of ``items`` (arrays stay cells, not a second axis)."""
    array = np.empty(len(items), dtype=object)
    array[:] = items if items else []
    return array


# ----- scalars ------------------------------------------------------------------------------


def scalars(
    run_files: dict[str, list[str]],
    runs: Any,
    tags: Any,
    steps: Any,
    on_corrupt: OnCorrupt,
    storage_options: dict[str, Any] | None,
    scalar_of: Callable[[Any, set[str], set[str]], float | None],
) -> Columns:
    keep_run, keep_tag, keep_step = name_filter(runs, "runs"), name_filter(tags, "tags"), step_filter(steps)
    run_names: list[str] = []
    parts: list[_scalar_scan.RunScalars] = []
    for run, files in run_files.items():
        if keep_run(run):
            parts.append(
                _scalar_scan.read_run(files, on_corrupt, keep_tag, keep_step, scalar_of, storage_options)
            )
            run_names.append(run)
    tag_names: dict[str, int] = {}
    tag_codes = []
    for part in parts:
        renumber = np.array([tag_names.setdefault(tag, len(tag_names)) for tag in part.tags], dtype=np.int64)
        tag_codes.append(renumber[part.tag] if len(part.tag) else part.tag)
    sizes = [len(part.tag) for part in parts]
    return {
        "run": Coded(run_names, np.repeat(np.arange(len(parts), dtype=np.int64), sizes)),
        "tag": Coded(list(tag_names), _concat(tag_codes, np.int64)),
        "step": _concat([p.step for p in parts], np.int64),
        "wall_time": _concat([p.wall_time for p in parts], np.float64),
        "value": _concat([p.value for p in parts], np.float64),
    }


def _concat(arrays: list[np.ndarray], dtype: Any) -> np.ndarray:
    return np.concatenate(arrays).astype(dtype, copy=False) if arrays else np.zeros(0, dtype=dtype)


# ----- tables read with protobuf ------------------------------------------------------------


def _values(
    run_files: dict[str, list[str]],
    runs: Any,
    tags: Any,
    steps: Any,
    on_corrupt: OnCorrupt,
    storage_options: dict[str, Any] | None,
) -> Iterator[tuple[str, int, float, Any, str]]:
    """(run, step, wall_time, value, plugin of its tag) for every kept summary value, in file
    order; the plugin is the one the tag's first metadata in the run names."""
    keep_run, keep_tag, keep_step = name_filter(runs, "runs"), name_filter(tags, "tags"), step_filter(steps)
    for run, files in run_files.items():
        if not keep_run(run):
            continue
        plugins: dict[str, str] = {}
        # Plain simple_value events hold none of these tables' values: only their tags count,
        # as tags whose first metadata is empty.
        for event, plain_tags in _scalar_scan.other_events(files, on_corrupt, storage_options):
            for tag in plain_tags:
                plugins.setdefault(tag, "")
            if event.WhichOneof("what") != "summary":
                continue
            step_kept = bool(keep_step(np.array([event.step]))[0])
            for value in event.summary.value:
                plugin = plugins.setdefault(value.tag, value.metadata.plugin_data.plugin_name)
                if step_kept and keep_tag(value.tag):
                    yield run, event.step, event.wall_time, value, plugin


def _rows_of(
    source: Iterator[tuple[str, int, float, Any, str]],
    decoder: Callable[[Any, str], list[Any]],
    on_corrupt: OnCorrupt,
) -> Iterator[tuple[str, str, int, float, Any]]:
    for run, step, wall_time, value, plugin in source:
        try:
            found = decoder(value, plugin)
        except (ValueError, TypeError) as error:
            report_corrupt(on_corrupt, f"run {run!r}, step {step}, tag {value.tag!r}: {error}", stacklevel=4)
            continue
        for item in found:
            yield run, value.tag, step, wall_time, item


def _key_columns(rows: list[tuple[str, str, int, float, Any]]) -> Columns:
    return {
        "run": objects([r[0] for r in rows]),
        "tag": objects([r[1] for r in rows]),
        "step": np.array([r[2] for r in rows], dtype=np.int64),
        "wall_time": np.array([r[3] for r in rows], dtype=np.float64),
    }


def histograms(run_files: dict[str, list[str]], **kw: Any) -> Columns:
    rows = list(_rows_of(_values(run_files, **kw), decode.histogram, kw["on_corrupt"]))
    columns = _key_columns(rows)
    for name in ("min", "max", "num", "sum", "sum_squares"):
        columns[name] = np.array([getattr(r[4], name) for r in rows], dtype=np.float64)
    for name in ("bucket_left", "bucket_right", "bucket_count"):
        columns[name] = objects([getattr(r[4], name) for r in rows])
    return columns


def texts(run_files: dict[str, list[str]], **kw: Any) -> Columns:
    rows = list(_rows_of(_values(run_files, **kw), decode.text, kw["on_corrupt"]))
    columns = _key_columns(rows)
    columns["text"] = objects([r[4] for r in rows])
    return columns


def images(run_files: dict[str, list[str]], **kw: Any) -> Columns:
    rows = list(_rows_of(_values(run_files, **kw), decode.images, kw["on_corrupt"]))
    columns = _key_columns(rows)
    columns["index"] = np.array([r[4].number for r in rows], dtype=np.int64)
    columns["width"] = np.array([r[4].width for r in rows], dtype=np.int64)
    columns["height"] = np.array([r[4].height for r in rows], dtype=np.int64)
    columns["encoded"] = objects([r[4].encoded for r in rows])
    return columns


def decode_image(row_or_bytes: Any) -> np.ndarray:
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


# ----- hparams ------------------------------------------------------------------------------


def hparams(
    run_files: dict[str, list[str]],
    runs: Any,
    on_corrupt: OnCorrupt,
    storage_options: dict[str, Any] | None,
    scalar_of: Callable[[Any, set[str], set[str]], float | None],
) -> Columns:
    keep_run = name_filter(runs, "runs")
    sessions: dict[str, dict[str, Any]] = {}  # run -> its first session_start_info's hparams
    metrics: dict[tuple[str, str], None] = {}  # (group, tag) declared by any experiment
    declared: dict[str, None] = {}  # hparam names in the order experiments declare them
    last: dict[str, dict[str, float]] = {}  # run -> tag -> last scalar value
    keep_all, every_step = name_filter(None, "tags"), step_filter(None)
    for run, files in run_files.items():
        found = _scalar_scan.read_run(files, on_corrupt, keep_all, every_step, scalar_of, storage_options)
        # the last row of each tag: dict keeps the last assignment
        last[run] = dict(zip((found.tags[c] for c in found.tag.tolist()), found.value.tolist(), strict=True))
        for event, _ in _scalar_scan.other_events(files, on_corrupt, storage_options):
            if event.WhichOneof("what") != "summary":
                continue
            for value in event.summary.value:
                if value.tag not in (decode.EXPERIMENT_TAG, decode.SESSION_START_TAG):
                    continue
                try:
                    content = decode.hparams_content(value)
                except Exception as error:  # protobuf's DecodeError
                    report_corrupt(on_corrupt, f"run {run!r}, tag {value.tag!r}: {error}")
                    continue
                if content is None:
                    continue
                if value.tag == decode.EXPERIMENT_TAG and content.HasField("experiment"):
                    for hparam in content.experiment.hparam_infos:
                        declared.setdefault(hparam.name, None)
                    for info in content.experiment.metric_infos:
                        metrics.setdefault((info.name.group, info.name.tag), None)
                elif (
                    content.HasField("session_start_info") and run not in sessions
                ):  # TensorBoard shows the first
                    info = content.session_start_info.hparams
                    sessions[run] = {name: decode.struct_value(info[name]) for name in info}
    chosen = [run for run in sessions if keep_run(run)]
    if not metrics:  # no experiment names them: every scalar tag of the session runs
        for run in chosen:
            for tag in last.get(run, {}):
                metrics.setdefault(("", tag), None)
    # Columns in the experiment's order, then any other hparam alphabetically (a session's
    # map has no order of its own).
    present = {name for run in chosen for name in sessions[run]}
    names = [name for name in declared if name in present] + sorted(present.difference(declared))
    columns: Columns = {"run": objects(chosen)}
    for name in names:
        columns[name] = _hparam_column([sessions[run].get(name) for run in chosen])
    for group, tag in metrics:
        column = f"{group}/{tag}" if group else tag
        if column in columns:
            column = f"metric/{column}"
        values = []
        for run in chosen:
            source = f"{run}/{group}" if group and run != "." else (group or run)
            values.append(last.get(source, {}).get(tag, math.nan))
        columns[column] = np.array(values, dtype=np.float64)
    return columns


def _hparam_column(values: list[Any]) -> np.ndarray:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, float) for v in present):
        return np.array([math.nan if v is None else v for v in values], dtype=np.float64)
    if present and len(present) == len(values) and all(isinstance(v, bool) for v in present):
        return np.array(values, dtype=bool)
    return objects(values)
