"""The columns of ``tblog.read``'s tables: the walk over a log directory's runs, each table's
columns, and the output as a DataFrame or a dict of arrays (the public functions and their
documentation are in ``tblog.read.tables``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

from tblog.events.record import OnCorrupt, report_corrupt
from tblog.read import fast_scalars
from tblog.read import values as decode
from tblog.read.filters import name_filter, step_filter

Columns = dict[str, Any]  # name -> np.ndarray, or Coded


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
) -> Columns:
    keep_run, keep_tag, keep_step = name_filter(runs, "runs"), name_filter(tags, "tags"), step_filter(steps)
    run_names: list[str] = []
    parts: list[fast_scalars.RunScalars] = []
    for run, files in run_files.items():
        if keep_run(run):
            parts.append(fast_scalars.read_run(files, on_corrupt, keep_tag, keep_step, storage_options))
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
        for event, plain_tags in fast_scalars.other_events(files, on_corrupt, storage_options):
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


# ----- hparams ------------------------------------------------------------------------------


def hparams(
    run_files: dict[str, list[str]],
    runs: Any,
    on_corrupt: OnCorrupt,
    storage_options: dict[str, Any] | None,
) -> Columns:
    keep_run = name_filter(runs, "runs")
    sessions: dict[str, dict[str, Any]] = {}  # run -> its first session_start_info's hparams
    metrics: dict[tuple[str, str], None] = {}  # (group, tag) declared by any experiment
    declared: dict[str, None] = {}  # hparam names in the order experiments declare them
    last: dict[str, dict[str, float]] = {}  # run -> tag -> last scalar value
    keep_all, every_step = name_filter(None, "tags"), step_filter(None)
    for run, files in run_files.items():
        found = fast_scalars.read_run(files, on_corrupt, keep_all, every_step, storage_options)
        # the last row of each tag: dict keeps the last assignment
        last[run] = dict(zip((found.tags[c] for c in found.tag.tolist()), found.value.tolist(), strict=True))
        for event, _ in fast_scalars.other_events(files, on_corrupt, storage_options):
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
