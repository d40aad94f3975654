"""The `tblog` command, run as users run it: in a fresh interpreter (`python -m tblog`, and the
installed `tblog` console script), its output parsed back and compared with what was logged."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tblog
from tblog import SummaryWriter
from tblog._progress import Progress, progress_enabled
from tblog.cli.growing_file import GrowingFile
from tblog.events.record import FOOTER_SIZE, HEADER_SIZE, frame
from tblog.proto import event_pb2

TIMEOUT = 120  # seconds, for every subprocess
ENV = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "TBLOG_PROGRESS": "0"}


def tblog_cmd(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m tblog ARGS` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "tblog", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env or ENV,
    )


def raw_stderr(*args: str, env: dict[str, str]) -> str:
    """`python -m tblog ARGS`'s stderr with carriage returns kept (text mode turns them into newlines)."""
    proc = subprocess.run(
        [sys.executable, "-m", "tblog", *args], capture_output=True, timeout=TIMEOUT, env=env
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stderr.decode()


def without(module: str) -> str:
    """Python code that runs the tblog command as if ``module`` were not installed."""
    # A None entry in sys.modules makes `import module` raise ImportError.
    return (
        f"import sys; sys.modules[{module!r}] = None; import tblog.cli as c; sys.exit(c.main(sys.argv[1:]))"
    )


def ok(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    proc = tblog_cmd(*args, **kw)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


def f32(x: float) -> float:
    """What a legacy scalar (a float32 simple_value) reads back as."""
    return float(np.float32(x))


# What the `logdir` fixture logs: run -> tag -> [(step, value)].
LOGGED: dict[str, dict[str, list[tuple[int, float]]]] = {
    "exp1": {
        "train/loss": [(s, 1.0 / (s + 1)) for s in range(50)],
        "train/acc": [(s, s / 50) for s in range(50)],
        "val/loss": [(s, 1.5 / (s + 1)) for s in range(0, 50, 10)],
    },
    "exp2/seed1": {
        "train/loss": [(s, 2.0 / (s + 1)) for s in range(0, 30, 3)],
        "edge/nonfinite": [(1, math.nan), (2, math.inf), (3, -math.inf), (4, -0.0), (5, 1e-30)],
    },
}


@pytest.fixture(scope="module")
def logdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two runs with known scalars, plus a histogram, text and hparams in exp1."""
    root = tmp_path_factory.mktemp("cli") / "logs"
    for run, tags in LOGGED.items():
        with SummaryWriter(root / run) as writer:
            for tag, points in tags.items():
                for step, value in points:
                    writer.add_scalar(tag, value, step)
            if run == "exp1":
                writer.add_histogram("weights", np.arange(100.0), 7)
                writer.add_text("notes", "hello", 3)
                writer.add_hparams({"lr": 0.1, "opt": "adam"}, {"hparam/score": 0.5})
    return root


def expected_rows(
    runs: Callable[[str], bool] = lambda r: True,
    tags: Callable[[str], bool] = lambda t: True,
    steps: Callable[[int], bool] = lambda s: True,
) -> list[tuple[str, str, int, float]]:
    return sorted(
        (run, tag, step, f32(value))
        for run, by_tag in LOGGED.items()
        if runs(run)
        for tag, points in by_tag.items()
        if tags(tag)
        for step, value in points
        if steps(step)
    )


def same(a: list[tuple[str, str, int, float]], b: list[tuple[str, str, int, float]]) -> bool:
    """Row lists equal, NaN equal to NaN and -0.0 kept apart from 0.0."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x[:3] != y[:3]:
            return False
        if not (math.isnan(x[3]) and math.isnan(y[3])) and (
            x[3] != y[3] or math.copysign(1, x[3]) != math.copysign(1, y[3])
        ):
            return False
    return True


def number(value: Any) -> float:
    """A JSON cell back to a float ("nan", "inf", "-inf" are strings in JSON)."""
    return float(value)


# --------------------------------------------------------------------------- help, version, script


def test_help_names_every_command_and_the_exit_codes() -> None:
    """`tblog --help` lists the five commands and documents exit codes 0, 1, 2 and 130."""
    out = ok("--help").stdout
    for command in ("inspect", "export", "tail", "plot", "demo"):
        assert command in out
    for code in ("0 ", "1 ", "2 ", "130"):
        assert f"  {code}" in out


@pytest.mark.parametrize("command", ["inspect", "export", "tail", "plot", "demo"])
def test_every_command_has_help(command: str) -> None:
    """`tblog COMMAND --help` exits 0 with a usage line naming the command and LOGDIR."""
    out = ok(command, "--help").stdout
    assert out.startswith(f"usage: tblog {command}")
    assert "LOGDIR" in out
    assert "exit status" in out


def test_version() -> None:
    """`tblog --version` prints the package version."""
    assert ok("--version").stdout.strip() == f"tblog {tblog.__version__}"


def test_console_script_is_installed_and_matches_python_m(logdir: Path) -> None:
    """The `tblog` entry point (pip install -e .) gives the same report as `python -m tblog`."""
    script = Path(sys.executable).parent / "tblog"
    assert script.exists(), f"no console script at {script}: run pip install -e . to install it"
    proc = subprocess.run(
        [str(script), "inspect", "--json", str(logdir)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=ENV,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == json.loads(ok("inspect", "--json", str(logdir)).stdout)


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["inspect", "{tmp}/missing"], 1, "does not exist"),
        (["export", "{tmp}/missing"], 1, "does not exist"),
        (["tail", "{tmp}/missing", "--once"], 1, "does not exist"),
        (["plot", "{tmp}/missing", "--tag", "x", "-o", "{tmp}/p.png"], 1, "does not exist"),
        (["inspect", "{tmp}/empty"], 1, "no event files"),
        (["export", "{tmp}/empty"], 1, "no event files"),
        (["tail", "{tmp}/empty", "--once"], 1, "no scalars"),
        (["inspect", "{tmp}/notes.txt"], 1, "is a file, not a log directory"),
        (["demo", "{tmp}/notes.txt"], 1, "is a file"),
        (["export", "{logdir}", "--format", "xml"], 2, "invalid choice: 'xml'"),
        (["export", "{logdir}", "--format", "parquet"], 2, "-o FILE.parquet"),
        (["export", "{logdir}", "--tag", ""], 2, "expected a glob"),
        (["export", "{logdir}", "--run", "nope*"], 1, "no run matches --run 'nope*'; runs: exp1, exp2/seed1"),
        (["export", "{logdir}", "--tag", "nope/*"], 1, "no scalars matching --tag 'nope/*'"),
        (["export", "{logdir}", "--steps", "9:3"], 2, "MIN > MAX"),
        (["export", "{logdir}", "--steps", "a:b"], 2, "expected MIN:MAX"),
        (["export", "{logdir}", "-o", "{tmp}/no/such/dir/out.csv"], 1, "does not exist"),
        (["export", "{logdir}", "-o", "{tmp}"], 1, "is a directory"),
        (["plot", "{logdir}", "--tag", "x", "-o", "{tmp}/p.txt"], 2, "expected a file name ending in .png"),
        (["plot", "{logdir}", "-o", "{tmp}/p.png"], 2, "--tag"),
        (["plot", "{logdir}", "--tag", "*", "-o", "{tmp}/p.png", "--size", "big"], 2, "WIDTHxHEIGHT"),
        (["tail", "{logdir}", "--interval", "0"], 2, "positive number"),
        (["tail", "{logdir}", "-n", "-1"], 2, "-n/--lines must be 0 or more"),
        (["demo", "{tmp}/d", "--steps", "0"], 2, "at least 1"),
        (["frobnicate"], 2, "invalid choice: 'frobnicate'"),
        ([], 2, "usage: tblog"),
    ],
)
def test_bad_arguments_fail_clearly(
    args: list[str], status: int, message: str, logdir: Path, tmp_path: Path
) -> None:
    """Each bad invocation exits 1 (error) or 2 (usage) with a one-line reason and no traceback."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("not an event file")
    args = [a.format(tmp=tmp_path, logdir=logdir) for a in args]
    proc = tblog_cmd(*args)
    assert proc.returncode == status, (proc.stdout, proc.stderr)
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "p.png").exists()


# --------------------------------------------------------------------------- inspect


def test_inspect_json_matches_what_was_logged(logdir: Path) -> None:
    """Runs, scalar tags with counts, step ranges and last values, other dashboards, and files."""
    report = json.loads(ok("inspect", "--json", str(logdir)).stdout)
    assert set(report["runs"]) == set(LOGGED)
    for run, tags in LOGGED.items():
        scalars = report["runs"][run]["dashboards"]["scalars"]
        logged_scalars = dict(tags)
        if run == "exp1":
            logged_scalars["hparam/score"] = [(0, 0.5)]
        assert set(scalars) == set(logged_scalars)
        for tag, points in logged_scalars.items():
            stats = scalars[tag]
            assert stats["count"] == len(points)
            assert stats["first_step"] == min(s for s, _ in points)
            assert stats["last_step"] == max(s for s, _ in points)
            last = points[-1][1]
            assert stats["last_value"] == pytest.approx(f32(last)), tag
        files = report["runs"][run]["files"]
        on_disk = sorted((logdir / run).glob("events.out.tfevents.*"))
        assert [f["path"] for f in files] == [str(p) for p in on_disk]
        assert [f["bytes"] for f in files] == [p.stat().st_size for p in on_disk]
        assert all(f["incomplete_bytes"] == 0 and f["corrupt"] == [] for f in files)
    exp1 = report["runs"]["exp1"]["dashboards"]
    assert exp1["histograms"]["weights"] == {"count": 1, "first_step": 7, "last_step": 7, "last_value": None}
    assert set(exp1["text"]) == {"notes/text_summary"}
    assert set(exp1["hparams"]) == {
        "_hparams_/experiment",
        "_hparams_/session_start_info",
        "_hparams_/session_end_info",
    }
    assert report["runs"]["exp1"]["hparams"] == {"lr": 0.1, "opt": "adam"}
    assert report["runs"]["exp2/seed1"]["hparams"] is None
    totals = report["totals"]
    assert totals["runs"] == 2
    assert totals["files"] == sum(len(r["files"]) for r in report["runs"].values())
    assert totals["corrupt_records"] == 0 and report["first_corrupt"] is None


def test_inspect_text_lists_runs_dashboards_and_last_values(logdir: Path) -> None:
    """The human listing names each run, each dashboard with its tag count, and last values."""
    out = ok("inspect", str(logdir)).stdout
    assert out.splitlines()[0].startswith(f"{logdir}: 2 runs, ")
    assert "run exp1  (1 file" in out and "run exp2/seed1  (1 file" in out
    assert "  scalars (4 tags)" in out and "  histograms (1 tag)" in out and "  hparams (3 tags)" in out
    loss_line = next(
        line for line in out.splitlines() if line.strip().startswith("train/loss") and "50 ×" in line
    )
    assert "steps 0..49" in loss_line and f"last {f32(1 / 50):.6g}" in loss_line
    assert "    values: lr=0.1, opt=adam" in out
    assert "corrupt records: none" in out


def test_inspect_run_filter(logdir: Path) -> None:
    """--run keeps only the matching runs."""
    report = json.loads(ok("inspect", "--json", "--run", "exp2/*", str(logdir)).stdout)
    assert set(report["runs"]) == {"exp2/seed1"}


def test_inspect_reports_corrupt_records_and_incomplete_tails(logdir: Path, tmp_path: Path) -> None:
    """A flipped payload byte counts as one corrupt record (named, with its byte offset); a half
    record at the end is an incomplete tail, not corruption; both still exit 0, and export
    warns about the lost record in one line."""
    copy = tmp_path / "logs"
    shutil.copytree(logdir, copy)
    (bad,) = (copy / "exp1").glob("events.out.tfevents.*")
    data = bytearray(bad.read_bytes())
    offset = 0
    for _ in range(5):  # skip 5 records: to the 5th scalar event
        offset += HEADER_SIZE + struct.unpack_from("<Q", data, offset)[0] + FOOTER_SIZE
    data[offset + HEADER_SIZE + 2] ^= 0xFF  # a payload byte
    bad.write_bytes(bytes(data))
    (tail,) = (copy / "exp2" / "seed1").glob("events.out.tfevents.*")
    record = frame(event_pb2.Event(step=99, wall_time=1.0).SerializeToString())
    with open(tail, "ab") as f:
        f.write(record[: len(record) // 2])
    report = json.loads(ok("inspect", "--json", str(copy)).stdout)
    assert report["totals"]["corrupt_records"] == 1
    assert report["first_corrupt"] == f"{bad}: corrupted record at byte {offset} (32 bytes) skipped"
    (exp2_file,) = report["runs"]["exp2/seed1"]["files"]
    assert exp2_file["incomplete_bytes"] == len(record) // 2
    assert exp2_file["corrupt"] == []
    scalars = report["runs"]["exp1"]["dashboards"]["scalars"]
    assert sum(s["count"] for s in scalars.values()) == 50 + 50 + 5 + 1 - 1  # one record lost
    text = ok("inspect", str(copy)).stdout
    assert "corrupt records: 1; first: " in text
    assert f"ends with {len(record) // 2} bytes of an incomplete record" in text
    export = ok("export", str(copy), "--run", "exp1")
    assert len(export.stdout.splitlines()) == 1 + 50 + 50 + 5 + 1 - 1  # header + points, one lost
    assert f"tblog export: warning: {bad}: corrupted record at byte {offset}" in export.stderr


@pytest.mark.slow
def test_inspect_agrees_with_tensorboard_on_the_demo(
    tmp_path: Path, event_accumulator: Callable[[Path], Any]
) -> None:
    """On the demo's logs, inspect's scalars/histograms/images/audio tags equal TensorBoard's, and
    its tensor-plugin dashboards are TensorBoard's tensor tags."""
    demo = tmp_path / "demo"
    ok("demo", str(demo), "--steps", "30", "--quiet", cwd=tmp_path)
    report = json.loads(ok("inspect", "--json", str(demo)).stdout)
    dashboards = report["runs"]["."]["dashboards"]
    tags = event_accumulator(demo).Tags()
    for name in ("scalars", "histograms", "images", "audio"):
        assert set(dashboards[name]) == set(tags[name]), name
    tensor_dashboards = {"text", "pr_curves", "hparams", "mesh", "custom_scalars", "tensors"}
    assert set().union(*(dashboards[d] for d in tensor_dashboards)) == set(tags["tensors"])
    assert tags["graph"] and set(dashboards["graphs"]) == {"(graph)"}
    assert report["projector"] == {".": ["hidden_layer:00030"]}
    assert len(report["profile"]) == 1


# --------------------------------------------------------------------------- export


def test_export_csv_round_trips_every_value(logdir: Path, tmp_path: Path) -> None:
    """The CSV holds exactly the logged points (float32 values exact, NaN/±inf/-0.0 included)."""
    out = tmp_path / "scalars.csv"
    proc = ok("export", str(logdir), "-o", str(out), "--tag", "train/*", "--tag", "val/*", "--tag", "edge/*")
    assert f"wrote {len(expected_rows())} rows to {out}" in proc.stderr
    with open(out, newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ["run", "tag", "step", "wall_time", "value"]
        rows = list(reader)
    got = sorted((r["run"], r["tag"], int(r["step"]), float(r["value"])) for r in rows)
    assert same(got, expected_rows())
    assert all(abs(float(r["wall_time"]) - time.time()) < 3600 for r in rows)


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_export_json_round_trips_every_value(logdir: Path, fmt: str) -> None:
    """JSON (an array) and JSON lines (to stdout) hold the logged points; non-finite values are strings."""
    out = ok("export", str(logdir), "--format", fmt, "--run", "exp*").stdout
    records = json.loads(out) if fmt == "json" else [json.loads(line) for line in out.splitlines()]
    got = sorted(
        (r["run"], r["tag"], r["step"], number(r["value"])) for r in records if r["tag"] != "hparam/score"
    )
    assert same(got, expected_rows())
    nonfinite = {r["step"]: r["value"] for r in records if r["tag"] == "edge/nonfinite"}
    assert nonfinite[1] == "nan" and nonfinite[2] == "inf" and nonfinite[3] == "-inf"


def test_export_filters_runs_tags_and_steps(logdir: Path) -> None:
    """--run, --tag and --steps MIN:MAX select exactly the matching points."""
    out = ok("export", str(logdir), "--run", "exp1", "--tag", "*/loss", "--steps", "10:20").stdout
    got = sorted(
        (r["run"], r["tag"], int(r["step"]), float(r["value"])) for r in csv.DictReader(io.StringIO(out))
    )
    want = expected_rows(lambda r: r == "exp1", lambda t: t.endswith("/loss"), lambda s: 10 <= s <= 20)
    assert same(got, want) and len(want) == 13


def test_export_format_follows_the_output_suffix(logdir: Path, tmp_path: Path) -> None:
    """-o x.jsonl without --format writes JSON lines."""
    out = tmp_path / "x.jsonl"
    ok("export", str(logdir), "--tag", "train/acc", "-o", str(out), "--quiet")
    lines = out.read_text().splitlines()
    assert len(lines) == 50 and json.loads(lines[-1])["value"] == pytest.approx(f32(49 / 50))


def test_export_of_a_single_event_file(logdir: Path) -> None:
    """LOGDIR may be one event file; its run is "."."""
    (file,) = (logdir / "exp1").glob("events.out.tfevents.*")
    out = ok("export", str(file), "--tag", "val/loss").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["run"], int(r["step"])) for r in rows] == [(".", s) for s in range(0, 50, 10)]


def test_export_histograms_texts_and_hparams(logdir: Path) -> None:
    """--what histograms/texts/hparams export those tables with the logged contents."""
    (hist,) = json.loads(ok("export", str(logdir), "--what", "histograms", "--format", "json").stdout)
    values = np.arange(100.0)
    assert (hist["run"], hist["tag"], hist["step"]) == ("exp1", "weights", 7)
    assert (hist["min"], hist["max"], hist["num"]) == (0.0, 99.0, 100.0)
    assert hist["sum"] == values.sum() and hist["sum_squares"] == (values**2).sum()
    assert sum(hist["bucket_count"]) == 100 and len(hist["bucket_left"]) == len(hist["bucket_count"])
    out = ok("export", str(logdir), "--what", "texts", "--format", "csv").stdout
    (text,) = csv.DictReader(io.StringIO(out))
    assert math.isfinite(float(text.pop("wall_time")))
    assert text == {"run": "exp1", "tag": "notes/text_summary", "step": "3", "text": "hello"}
    (row,) = json.loads(ok("export", str(logdir), "--what", "hparams", "--format", "json").stdout)
    assert row == {"run": "exp1", "lr": 0.1, "opt": "adam", "hparam/score": 0.5}


def test_export_parquet_without_pyarrow_names_the_extra(logdir: Path, tmp_path: Path) -> None:
    """Where pyarrow cannot be imported, --format parquet exits 1 naming tblog[parquet]."""
    code = without("pyarrow")
    proc = subprocess.run(
        [sys.executable, "-c", code, "export", str(logdir), "-o", str(tmp_path / "x.parquet")],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=ENV,
    )
    assert proc.returncode == 1
    assert "pip install 'tblog[parquet]'" in proc.stderr and "Traceback" not in proc.stderr


def test_export_shows_progress_only_when_asked(logdir: Path, tmp_path: Path) -> None:
    """With TBLOG_PROGRESS=1 a 'reading' bar reaches 100% on stderr; --quiet silences it."""
    env = {**ENV, "TBLOG_PROGRESS": "1"}
    stderr = raw_stderr("export", str(logdir), "-o", str(tmp_path / "a.csv"), env=env)
    assert "\rreading [" in stderr and "100%" in stderr
    quiet = ok("export", str(logdir), "-o", str(tmp_path / "b.csv"), "--quiet", env=env)
    assert quiet.stderr == ""
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()


def test_inspect_export_and_tail_take_fsspec_urls(logdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A memory:// copy of the log directory gives the same report and rows as the local one
    (in-process: fsspec's memory file system lives in one process)."""
    import fsspec

    from tblog.cli import main

    fs = fsspec.filesystem("memory")
    for path in logdir.rglob("events.out.tfevents.*"):
        fs.pipe(f"/cli-test/{path.relative_to(logdir).as_posix()}", path.read_bytes())
    try:
        assert main(["inspect", "--json", "memory://cli-test"]) == 0
        remote = json.loads(capsys.readouterr().out)
        local = json.loads(ok("inspect", "--json", str(logdir)).stdout)
        for run in local["runs"].values():
            for f in run["files"]:
                f.pop("path")
        for run in remote["runs"].values():
            for f in run["files"]:
                assert f.pop("path").startswith("memory://cli-test/")
        assert remote["runs"] == local["runs"]
        assert main(["export", "memory://cli-test", "--format", "jsonl", "--tag", "train/*"]) == 0
        rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert same(
            sorted((r["run"], r["tag"], r["step"], r["value"]) for r in rows),
            expected_rows(tags=lambda t: t.startswith("train/")),
        )
        assert (
            main(["tail", "memory://cli-test", "--once", "-n", "1", "--run", "exp1", "--tag", "val/*"]) == 0
        )
        assert capsys.readouterr().out.split()[1:] == [
            "exp1",
            "val/loss",
            "step",
            "40",
            f"{f32(1.5 / 41):.6g}",
        ]
        assert main(["inspect", "memory://no-such-dir"]) == 1
        assert "no event file or directory at 'memory://no-such-dir'" in capsys.readouterr().err
    finally:
        fs.rm("/cli-test", recursive=True)


def test_inspect_tail_and_read_share_one_scalar_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """inspect, tail and tblog.read.scalars take the same values for scalars: a simple_value and a
    one-number tensor of the scalars plugin (later values without metadata too), but not a string
    tensor of the scalars plugin (inspect and tail used to read its b"2.5" as 2.5)."""
    from tblog.cli import main
    from tblog.proto import summary_pb2, tensor_pb2

    def tensor(tag: str, tensor: Any, plugin: str = "") -> Any:
        value = summary_pb2.Summary.Value(tag=tag, tensor=tensor)
        if plugin:
            value.metadata.plugin_data.plugin_name = plugin
        return value

    def number(x: float) -> Any:
        return tensor_pb2.TensorProto(dtype=1, float_val=[x])  # DT_FLOAT, shape []

    def text(x: bytes) -> Any:
        return tensor_pb2.TensorProto(dtype=7, string_val=[x])  # DT_STRING, shape []

    first = [
        summary_pb2.Summary.Value(tag="plain", simple_value=1.0),
        tensor("tensor", number(1.5), "scalars"),
        tensor("string", text(b"2.5"), "scalars"),
    ]
    later = [tensor("tensor", number(2.5)), tensor("string", text(b"3.5"))]
    path = tmp_path / "run" / "events.out.tfevents.1.host"
    path.parent.mkdir()
    path.write_bytes(
        b"".join(
            frame(
                event_pb2.Event(
                    wall_time=100.0 + step, step=step, summary={"value": values}
                ).SerializeToString()
            )
            for step, values in ((1, first), (2, later))
        )
    )
    table = tblog.read.scalars(tmp_path, dataframe=False)
    rows = list(zip(table["tag"].tolist(), table["step"].tolist(), table["value"].tolist(), strict=True))
    assert rows == [("plain", 1, 1.0), ("tensor", 1, 1.5), ("tensor", 2, 2.5)]
    assert main(["inspect", "--json", str(tmp_path)]) == 0
    scalars = json.loads(capsys.readouterr().out)["runs"]["run"]["dashboards"]["scalars"]
    assert {tag: stats["last_value"] for tag, stats in scalars.items()} == {
        "plain": 1.0,
        "string": None,
        "tensor": 2.5,
    }
    assert main(["tail", str(tmp_path), "--once"]) == 0
    printed = [line.split()[2:] for line in capsys.readouterr().out.splitlines()]
    assert printed == [
        ["plain", "step", "1", "1"],
        ["tensor", "step", "1", "1.5"],
        ["tensor", "step", "2", "2.5"],
    ]


# --------------------------------------------------------------------------- tail


def test_tail_once_prints_the_last_points(logdir: Path) -> None:
    """--once -n 3 prints the 3 latest matching points and exits 0."""
    out = ok(
        "tail", str(logdir), "--once", "-n", "3", "--run", "exp1", "--tag", "train/loss", "--jsonl"
    ).stdout
    points = [json.loads(line) for line in out.splitlines()]
    assert [(p["run"], p["tag"], p["step"]) for p in points] == [
        ("exp1", "train/loss", s) for s in (47, 48, 49)
    ]
    assert [p["value"] for p in points] == [f32(1 / 48), f32(1 / 49), f32(1 / 50)]


WRITER = """
import sys, time
from pathlib import Path
from tblog import SummaryWriter
logdir, go = Path(sys.argv[1]), Path(sys.argv[2])
while not go.exists():
    time.sleep(0.01)
with SummaryWriter(logdir / "live") as writer:
    for step in range(5):
        writer.add_scalar("live/x", step * 0.25, step)
        writer.flush()
        time.sleep(0.05)
with SummaryWriter(logdir / "late") as writer:  # a run that appears while tail runs
    writer.add_scalar("live/y", 42.0, 7)
"""


class Lines:
    """A subprocess's text stream read line by line on a thread, so a test can wait for a line."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def until_closed(self) -> list[str]:
        """Every line, once the stream has ended."""
        self._thread.join(TIMEOUT)
        assert not self._thread.is_alive()
        return list(self.lines)

    def wait_for(self, done: Callable[[list[str]], bool], timeout: float = TIMEOUT) -> list[str]:
        with self._cond:
            assert self._cond.wait_for(lambda: done(self.lines), timeout), self.lines
            return list(self.lines)


@pytest.fixture
def tail_proc(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tblog", "tail", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(TIMEOUT)


def test_tail_follows_another_process_and_stops_on_ctrl_c(
    tmp_path: Path, tail_proc: Callable[..., subprocess.Popen[str]]
) -> None:
    """Started before any event file exists, tail prints each value a writer process logs
    afterwards (also from a run that appears later), then exits 0 on SIGINT."""
    logs = tmp_path / "logs"
    logs.mkdir()
    go = tmp_path / "go"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(logs), str(go)], env=ENV)
    proc = tail_proc(str(logs), "--interval", "0.1", "--jsonl")
    err = Lines(proc.stderr)
    out = Lines(proc.stdout)
    err.wait_for(lambda lines: any("following" in line for line in lines))
    go.touch()
    assert writer.wait(TIMEOUT) == 0
    lines = out.wait_for(lambda lines: len(lines) >= 6)
    points = [json.loads(line) for line in lines]
    assert [(p["run"], p["tag"], p["step"], p["value"]) for p in points] == [
        *[("live", "live/x", s, s * 0.25) for s in range(5)],
        ("late", "live/y", 7, 42.0),
    ]
    proc.send_signal(signal.SIGINT)
    assert proc.wait(TIMEOUT) == 0
    assert all("Traceback" not in line and "warning" not in line for line in err.lines)


def test_tail_waits_for_a_half_written_record(
    tmp_path: Path, tail_proc: Callable[..., subprocess.Popen[str]]
) -> None:
    """A record cut in half when tail starts is printed once the rest is written, with no
    corruption warning."""
    path = tmp_path / "events.out.tfevents.0000000001.host.1.0"
    event = event_pb2.Event(step=5, wall_time=1234.5)
    event.summary.value.add(tag="loss", simple_value=0.75)
    record = frame(event.SerializeToString())
    path.write_bytes(
        frame(event_pb2.Event(wall_time=1.0, file_version="brain.Event:2").SerializeToString()) + record[:9]
    )
    proc = tail_proc(str(tmp_path), "--interval", "0.05", "--jsonl")
    err = Lines(proc.stderr)
    out = Lines(proc.stdout)
    err.wait_for(lambda lines: any("following" in line for line in lines))  # the first look is done
    with open(path, "ab") as f:
        f.write(record[9:])
    (line,) = out.wait_for(lambda lines: len(lines) >= 1)
    assert json.loads(line) == {"run": ".", "tag": "loss", "step": 5, "wall_time": 1234.5, "value": 0.75}
    proc.send_signal(signal.SIGINT)
    assert proc.wait(TIMEOUT) == 0
    assert not any("corrupt" in line or "Traceback" in line for line in err.lines)


def test_tail_timeout_ends_following(tmp_path: Path, tail_proc: Callable[..., subprocess.Popen[str]]) -> None:
    """--timeout S stops tail after S seconds with status 0, having printed a point logged after
    it started."""
    proc = tail_proc(str(tmp_path), "--timeout", "5", "--interval", "0.1", "--tag", "val/*")
    err = Lines(proc.stderr)
    out = Lines(proc.stdout)
    err.wait_for(lambda lines: any("following" in line and "stops after 5 s" in line for line in lines))
    with SummaryWriter(tmp_path / "run") as writer:
        writer.add_scalar("train/loss", 1.0, 3)  # filtered out by --tag
        writer.add_scalar("val/loss", 0.5, 3)
    assert proc.wait(TIMEOUT) == 0
    assert [line.split()[1:] for line in out.until_closed()] == [["run", "val/loss", "step", "3", "0.5"]]


def test_growing_file_reads_only_complete_records(tmp_path: Path) -> None:
    """GrowingFile yields nothing for a partial record, then the record once complete; a bad CRC is
    reported only when still bad at the next look (or at once with final=True)."""
    path = tmp_path / "events.out.tfevents.x"
    records = [frame(f"payload {i}".encode()) for i in range(3)]
    path.write_bytes(records[0] + records[1][:5])
    source = GrowingFile(str(path))
    assert list(source.records()) == [b"payload 0"]
    assert source.incomplete_bytes == 5 and source.corrupt == []
    with open(path, "ab") as f:
        f.write(records[1][5:] + records[2][:-1] + bytes([records[2][-1] ^ 1]))
    assert list(source.records()) == [b"payload 1"]  # record 2's CRC is wrong: maybe not written yet
    assert source.corrupt == []
    assert list(source.records()) == []  # still wrong: now reported and skipped
    assert len(source.corrupt) == 1 and "corrupted record at byte" in source.corrupt[0]
    assert source.incomplete_bytes == 0
    again = GrowingFile(str(path))
    assert list(again.records(final=True)) == [b"payload 0", b"payload 1"]
    assert len(again.corrupt) == 1


# --------------------------------------------------------------------------- plot


def test_plot_writes_a_png_of_the_requested_size(logdir: Path, tmp_path: Path) -> None:
    """plot draws a PNG of exactly --size pixels with the runs' lines in matplotlib's colours."""
    from PIL import Image

    out = tmp_path / "loss.png"
    proc = ok(
        "plot", str(logdir), "--tag", "train/loss", "--tag", "val/*", "-o", str(out), "--size", "640x360"
    )
    assert f"wrote 2 charts to {out}" in proc.stderr
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size == (640, 360)
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3).astype(int)
    blue = np.all(np.abs(pixels - [31, 119, 180]) < 30, axis=1).sum()  # C0: exp1's line
    orange = np.all(np.abs(pixels - [255, 127, 14]) < 30, axis=1).sum()  # C1: exp2/seed1's line
    assert blue > 100 and orange > 100


def test_plot_without_matplotlib_names_the_extra(logdir: Path, tmp_path: Path) -> None:
    """Where matplotlib cannot be imported, plot exits 1 naming tblog[plot]."""
    code = without("matplotlib")
    proc = subprocess.run(
        [sys.executable, "-c", code, "plot", str(logdir), "--tag", "*", "-o", str(tmp_path / "p.png")],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=ENV,
    )
    assert proc.returncode == 1
    assert "pip install 'tblog[plot]'" in proc.stderr and "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- demo and progress


@pytest.mark.slow
def test_demo_through_the_console_script_with_a_progress_bar(tmp_path: Path) -> None:
    """`tblog demo DIR` trains (default 500 steps), shows a progress bar when forced, and its
    logs inspect cleanly; --quiet shows none."""
    script = Path(sys.executable).parent / "tblog"
    env = {**ENV, "TBLOG_PROGRESS": "1"}
    proc = subprocess.run(
        [str(script), "demo", str(tmp_path / "demo")], capture_output=True, timeout=300, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert "\rtraining [" in proc.stderr.decode() and "100%  500/500" in proc.stderr.decode()
    assert "Trained for 500 steps" in proc.stdout.decode()
    report = json.loads(ok("inspect", "--json", str(tmp_path / "demo")).stdout)
    assert report["runs"]["."]["dashboards"]["scalars"]["train/loss"]["count"] == 500
    quiet = ok("demo", str(tmp_path / "demo2"), "--steps", "5", "--quiet", env=env)
    assert quiet.stderr == ""


def test_ctrl_c_during_the_demo_exits_130(tmp_path: Path) -> None:
    """SIGINT while a long demo trains ends it with status 130 and no traceback."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tblog", "demo", str(tmp_path / "d"), "--steps", "10000000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**ENV, "TBLOG_PROGRESS": "1"},
    )
    try:
        assert proc.stderr is not None
        proc.stderr.read(len("\rtraining"))  # training has begun
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err


def test_progress_bar_draws_throttled_and_finishes() -> None:
    """Progress redraws at most once per min_interval and ends at 100% with a newline."""
    stream = io.StringIO()
    with Progress(1000, "work", stream=stream, enabled=True, min_interval=3600) as bar:
        for _ in range(1000):
            bar.advance()
    text = stream.getvalue()
    assert text.count("\r") == 2  # the first update, then the final draw
    assert text.endswith("\n") and "work [" in text and "100%  1,000/1,000" in text.splitlines()[-1]


def test_progress_bar_off_for_pipes_and_on_when_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    """No bar on a non-terminal unless TBLOG_PROGRESS=1; TBLOG_PROGRESS=0 or quiet turns it off."""
    stream = io.StringIO()
    monkeypatch.delenv("TBLOG_PROGRESS", raising=False)
    assert not progress_enabled(stream)
    silent = Progress(10, stream=stream)
    silent.advance(10)
    silent.close()
    assert stream.getvalue() == ""
    monkeypatch.setenv("TBLOG_PROGRESS", "1")
    assert progress_enabled(stream) and not progress_enabled(stream, quiet=True)
    monkeypatch.setenv("TBLOG_PROGRESS", "0")
    assert not progress_enabled(stream)


def test_progress_render_fits_the_width() -> None:
    """The line never exceeds the terminal width and shows bytes in binary units."""
    bar = Progress(3 * 1024**2, "reading", unit="B", stream=io.StringIO(), enabled=True)
    bar.done = 1024**2
    for width in (20, 40, 80, 200):
        line = bar.render(bar._started + 2.0, width)
        assert len(line) <= width
    wide = bar.render(bar._started + 2.0, 200)
    assert "33%" in wide and "1.0 MiB/3.0 MiB" in wide and "00:02 < 00:04" in wide
