"""`tblog export --format parquet`, read back with pyarrow (installed by the dev extra, which
the main CI job uses; pyarrow is too large for the test extra of the core jobs)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tblog import SummaryWriter

pq = pytest.importorskip("pyarrow.parquet")


def test_export_parquet_round_trips_with_column_types(tmp_path: Path) -> None:
    """The Parquet file has typed columns (string, string, int64, double, double) holding every
    logged point, NaN and infinities included."""
    values = [0.5, math.nan, math.inf, -1.25, 1e-30]
    with SummaryWriter(tmp_path / "logs" / "a") as writer:
        for step, value in enumerate(values):
            writer.add_scalar("m/x", value, step * 10)
    out = tmp_path / "x.parquet"
    proc = subprocess.run(
        [sys.executable, "-m", "tblog", "export", str(tmp_path / "logs"), "-o", str(out), "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TBLOG_PROGRESS": "0"},
    )
    assert proc.returncode == 0, proc.stderr
    table = pq.read_table(out)
    assert table.column_names == ["run", "tag", "step", "wall_time", "value"]
    assert [str(t) for t in table.schema.types] == ["string", "string", "int64", "double", "double"]
    assert table.column("run").to_pylist() == ["a"] * 5
    assert table.column("tag").to_pylist() == ["m/x"] * 5
    assert table.column("step").to_pylist() == [0, 10, 20, 30, 40]
    got = np.array(table.column("value").to_pylist())
    np.testing.assert_array_equal(got, np.array(values, dtype=np.float32).astype(np.float64))


def test_export_parquet_histograms_have_list_columns(tmp_path: Path) -> None:
    """--what histograms to Parquet keeps each row's buckets as a list<double> column."""
    with SummaryWriter(tmp_path / "logs") as writer:
        writer.add_histogram("h", np.arange(10.0), 3)
    out = tmp_path / "h.parquet"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tblog",
            "export",
            str(tmp_path / "logs"),
            "--what",
            "histograms",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TBLOG_PROGRESS": "0"},
    )
    assert proc.returncode == 0, proc.stderr
    table = pq.read_table(out)
    assert str(table.schema.field("bucket_count").type) == "list<element: double>"
    (row,) = table.to_pylist()
    assert (row["run"], row["tag"], row["step"], row["num"], row["min"], row["max"]) == (
        ".",
        "h",
        3,
        10.0,
        0.0,
        9.0,
    )
    assert sum(row["bucket_count"]) == 10
