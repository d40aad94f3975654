"""``tblog export``: a table of ``tblog.read`` written as CSV, JSON, JSON lines or Parquet."""

from __future__ import annotations

import csv
import itertools
import json
import math
import re
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

import numpy as np

SUFFIX_FORMAT = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}

Columns = dict[str, Any]  # column name -> NumPy array (or list), all of one length


def _cell(value: Any) -> Any:
    """A table cell as a plain Python value (lists stay lists, bytes become text)."""
    if isinstance(value, np.ndarray):
        return [_cell(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, (list, tuple)):
        return [_cell(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _cell(v) for k, v in value.items()}
    return value


def _json_safe(value: Any) -> Any:
    # JSON has no NaN or infinity; write them as the strings "nan", "inf", "-inf".
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value


def rows(columns: Columns) -> Iterator[list[Any]]:
    names = list(columns)
    if not names:
        return
    for i in range(len(columns[names[0]])):
        yield [_cell(columns[name][i]) for name in names]


# A text cell a spreadsheet would run as a formula (CSV injection): =, +, - or @ first, or a
# tab or carriage return before one of them. Such cells get a leading ' (OWASP's advice), unless
# the whole text is a plain number, which a spreadsheet reads as that number, not as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def spreadsheet_safe(text: str) -> str:
    """``text`` with a leading ' if a spreadsheet would take it for a formula."""
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _csv_cell(value: Any) -> Any:
    if isinstance(value, float):
        return repr(value)  # round-trips exactly; a number, never neutralised (-1.5 stays -1.5)
    if isinstance(value, (list, dict)):
        return json.dumps(value)  # starts with [ or {
    if isinstance(value, str):
        return spreadsheet_safe(value)
    return value  # int, bool, None


def write_csv(columns: Columns, out: TextIO) -> None:
    """``columns`` as CSV: floats as ``repr`` (exact), lists and dicts as JSON text, and text that
    starts like a spreadsheet formula (=, +, -, @, tab, CR) with a leading ' so that Excel,
    LibreOffice or Google Sheets show it instead of running it; numbers are left as they are."""
    plain = csv.writer(out, lineterminator="\n")
    # Python < 3.13 does not quote a field holding a lone CR, which readers take for a line end:
    # a row with one is written with every field quoted.
    quoted = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    header = [spreadsheet_safe(str(name)) for name in columns]  # hparam names are columns
    for cells in itertools.chain([header], ([_csv_cell(v) for v in row] for row in rows(columns))):
        (quoted if any(isinstance(c, str) and "\r" in c for c in cells) else plain).writerow(cells)


def write_json(columns: Columns, out: TextIO, lines: bool) -> None:
    names = list(columns)
    first = True
    if not lines:
        out.write("[")
    for row in rows(columns):
        text = json.dumps(dict(zip(names, _json_safe(row), strict=True)), allow_nan=False)
        if lines:
            out.write(text + "\n")
        else:
            out.write(("\n  " if first else ",\n  ") + text)
        first = False
    if not lines:
        out.write("\n]\n" if not first else "]\n")


def write_parquet(columns: Columns, path: str) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(
            "tblog export --format parquet needs pyarrow: pip install 'tblog[parquet]'"
        ) from None
    arrays = {}
    for name, column in columns.items():
        if isinstance(column, np.ndarray) and column.dtype != object:
            arrays[name] = pa.array(column)
        else:
            arrays[name] = pa.array([_cell(v) for v in column])
    pq.write_table(pa.table(arrays), path)


def write(columns: Columns, fmt: str, out: TextIO | None, path: str | None) -> None:
    """Write ``columns`` as ``fmt`` to the text stream ``out``, or (parquet) the file ``path``."""
    if fmt == "parquet":
        assert path is not None
        write_parquet(columns, path)
    elif fmt == "csv":
        assert out is not None
        write_csv(columns, out)
    else:
        assert out is not None
        write_json(columns, out, lines=fmt == "jsonl")


def concat(tables: Sequence[Columns]) -> Columns:
    """One table from several with the same columns."""
    if not tables:
        return {}
    return {name: np.concatenate([_array(t[name]) for t in tables]) for name in tables[0]}


def _array(column: Any) -> np.ndarray:
    if isinstance(column, np.ndarray) and column.ndim == 1:
        return column
    # Cells may be lists or arrays (histogram buckets): keep a 1-D array of objects.
    array = np.empty(len(column), dtype=object)
    for i, cell in enumerate(column):
        array[i] = cell
    return array


def length(columns: Columns) -> int:
    return len(next(iter(columns.values()))) if columns else 0


def exactly(name: str) -> str:
    """A glob that matches exactly ``name`` (fnmatch's special characters in brackets)."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)
