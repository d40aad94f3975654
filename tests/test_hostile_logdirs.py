"""Hostile log directories: what a reader or the ``tblog`` command meets in a directory it does
not control. A FIFO named like an event file, a record header claiming ~2 GiB, directories and
files it may not read, tags that are spreadsheet formulas.

Every case that could hang or exhaust memory runs the reader in a real subprocess with a timeout
(and, for memory, an address-space limit a few hundred MiB above the child's start), so a hang
or a blow-up fails the test instead of the suite.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tblog
import tblog.read
from tblog import cli
from tblog.cli import growing_file
from tblog.events import record
from tblog.events.record import CorruptRecordWarning, frame, masked_crc32c
from tblog.proto import event_pb2
from tblog.read import fast_scalars

TIMEOUT = 90  # seconds any child may take; a hang fails the test
NOBODY = 65534
# Address space a child may add to what it holds after its imports (RLIMIT_AS).
HEADROOM = 400 << 20
# What the first record of the huge file claims: just under 2 GiB of payload, all zeros (sparse).
HUGE_LENGTH = (2 << 30) - 4096
ENV = {
    **os.environ,
    "PYTHONDONTWRITEBYTECODE": "1",
    "TBLOG_PROGRESS": "0",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
}

READERS = ["events", "event_files", "runs", "scalars", "histograms", "texts", "images", "hparams"]
TABLES = ["scalars", "histograms", "texts", "images", "hparams"]

# The child: runs one reader (or the CLI) on a log directory and prints one JSON line. Every
# module the call imports lazily is imported first, so that neither the memory limit nor the
# dropped privileges (the interpreter's own files are root-only here) get in the way.
_CHILD = r"""
import json, os, resource, sys, warnings
import numpy as np
import tblog.read as read
from tblog import _progress, cli, demo
from tblog.cli import commands, dashboards, export, growing_file, inspect, plot, selection, tail
from tblog.events.record import CorruptRecordError

what, logdir, policy, limit, as_nobody = sys.argv[1:6]
if as_nobody == "1" and os.geteuid() == 0:
    os.setgid(65534)
    os.setuid(65534)
if limit != "0":
    with open("/proc/self/status") as status:
        vm = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (vm + int(limit), resource.RLIM_INFINITY))


def summary(result):
    if isinstance(result, dict):
        listed = ("run", "tag", "step", "value")
        return {k: (v.tolist() if k in listed else len(v)) for k, v in result.items()}
    return result


if what.startswith("cli "):
    sys.exit(cli.main(what.split()[1:]))
out = {}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        function = getattr(read, what)
        if what == "events":
            out["result"] = len(list(function(logdir, on_corrupt=policy)))
        elif what in ("event_files", "runs"):
            out["result"] = function(logdir)
        else:
            out["result"] = summary(function(logdir, dataframe=False, on_corrupt=policy))
    except (CorruptRecordError, OSError) as error:
        out["error"] = [type(error).__name__, str(error)]
out["warnings"] = [str(w.message) for w in caught]
out["categories"] = sorted({w.category.__name__ for w in caught})
out["maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(json.dumps(out))
"""


def run_child(
    where: Path, what: str, logdir: Path, *, policy: str = "warn", limit: int = 0, as_nobody: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run ``_CHILD`` (``what``: a tblog.read function, or ``"cli ARGS"``) with a hard timeout."""
    script = where / "child.py"
    script.write_text(_CHILD)
    script.chmod(0o644)
    return subprocess.run(
        [sys.executable, os.fspath(script), what, os.fspath(logdir), policy, str(limit), str(int(as_nobody))],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=ENV,
        cwd=where,
    )


def child_json(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def one_line_warnings(stderr: str, command: str) -> list[str]:
    """The CLI's warning lines; fails on a traceback or Python's two-line warning format."""
    assert "Traceback" not in stderr and "warnings.warn" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.startswith(f"tblog {command}: warning: ")]


def write_run(logdir: Path) -> None:
    """A run with one of each table's kinds of data: scalars, histogram, text, image, hparams."""
    with tblog.SummaryWriter(logdir) as writer:
        for step in range(3):
            writer.add_scalar("loss", -1.5 * step, step)
        writer.add_histogram("weights", np.arange(10.0), 0)
        writer.add_text("notes", "hello", 0)
        writer.add_image("picture", np.zeros((3, 4, 4), dtype=np.uint8), 0)
        writer.add_hparams({"lr": 0.1}, {"loss": None})


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory user ``nobody`` can reach (pytest's own tmp dirs are root-only)."""
    path = Path(tempfile.mkdtemp(prefix="tblog-hostile-"))
    path.chmod(0o755)
    yield path
    for directory, _, _ in os.walk(path):  # give back what a test took away, so it can be removed
        os.chmod(directory, 0o755)
    shutil.rmtree(path, ignore_errors=True)


# ----- a FIFO named like an event file ---------------------------------------------------------


@pytest.fixture
def fifo_logdir(tmp_path: Path) -> Path:
    """Run ``good`` with real events and a FIFO beside them; run ``pipe`` holds only a FIFO."""
    logdir = tmp_path / "logs"
    write_run(logdir / "good")
    os.mkfifo(logdir / "good" / "events.out.tfevents.2.host.fifo")
    (logdir / "pipe").mkdir()
    os.mkfifo(logdir / "pipe" / "events.out.tfevents.3.host.fifo")
    return logdir


@pytest.mark.parametrize("what", READERS)
def test_fifo_named_like_an_event_file_is_skipped_with_a_warning(
    fifo_logdir: Path, tmp_path: Path, what: str
) -> None:
    """Each tblog.read function skips FIFOs named like event files, warning by name; no hang; rest read."""
    out = child_json(run_child(tmp_path, what, fifo_logdir))
    fifos = [m for m in out["warnings"] if "events.out.tfevents.2.host.fifo" in m and "FIFO" in m]
    assert fifos, out["warnings"]
    assert any("events.out.tfevents.3.host.fifo" in m for m in out["warnings"]), out["warnings"]
    assert out["categories"] == ["CorruptRecordWarning"]
    result = out["result"]
    if what == "event_files":
        assert not any(name.endswith(".fifo") for name in result) and len(result) == 1, result
    elif what == "runs":
        assert list(result) == ["good"], result
    elif what == "scalars":
        assert result["value"] == [0.0, -1.5, -3.0], result
    elif what == "events":
        assert result > 5
    else:
        assert result["run"] == ["good"], result


@pytest.mark.parametrize(
    "args",
    [
        ["inspect"],
        ["inspect", "--json"],
        ["export"],
        ["export", "--what", "texts"],
        ["tail", "--once"],
        ["plot"],
    ],
    ids=lambda args: " ".join(args),
)
def test_cli_skips_a_fifo_named_like_an_event_file_in_one_line(
    fifo_logdir: Path, tmp_path: Path, args: list[str]
) -> None:
    """tblog inspect/export/tail/plot never block on a FIFO: one warning line names it, the rest is read."""
    if args == ["plot"]:
        args = ["plot", "--tag", "loss", "-o", os.fspath(tmp_path / "loss.png")]
    command = " ".join(["cli", args[0], os.fspath(fifo_logdir), *args[1:]])
    proc = run_child(tmp_path, command, fifo_logdir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = one_line_warnings(proc.stderr, args[0])
    for name in ("events.out.tfevents.2.host.fifo", "events.out.tfevents.3.host.fifo"):
        assert len([line for line in lines if name in line]) == 1, proc.stderr  # once, not once per run
    if args[0] in ("export", "tail"):
        assert ("hello" if "texts" in args else "loss") in proc.stdout
    if args[0] == "inspect":
        assert "loss" in proc.stdout and "host.fifo" not in proc.stdout


def test_a_fifo_named_as_the_path_is_refused_without_blocking(fifo_logdir: Path, tmp_path: Path) -> None:
    """A FIFO given as the path itself is an OSError naming it (CLI: one error line, status 1), not a hang."""
    fifo = fifo_logdir / "pipe" / "events.out.tfevents.3.host.fifo"
    out = child_json(run_child(tmp_path, "scalars", fifo))
    assert out["error"][0] == "NotRegularFileError" and os.fspath(fifo) in out["error"][1], out
    assert "FIFO" in out["error"][1]
    proc = run_child(tmp_path, f"cli inspect {fifo}", fifo)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("tblog inspect: error: ") and "FIFO" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_fifo_behind_a_local_fsspec_url_is_skipped(fifo_logdir: Path, tmp_path: Path) -> None:
    """Through a file:// URL (fsspec) a FIFO is skipped with a warning too; the real events are read."""
    pytest.importorskip("fsspec")
    url = "file://" + os.fspath(fifo_logdir)
    script = tmp_path / "url.py"
    script.write_text(
        "import json, sys, warnings\nimport tblog.read as read\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    table = read.scalars(sys.argv[1], dataframe=False)\n"
        "messages = [str(w.message) for w in caught]\n"
        "print(json.dumps({'value': table['value'].tolist(), 'warnings': messages}))\n"
    )
    proc = subprocess.run(
        [sys.executable, os.fspath(script), url], capture_output=True, text=True, timeout=TIMEOUT, env=ENV
    )
    out = child_json(proc)
    assert out["value"] == [0.0, -1.5, -3.0]
    assert sum("host.fifo" in m and "FIFO" in m for m in out["warnings"]) == 2, out["warnings"]


# ----- a record header claiming ~2 GiB --------------------------------------------------------


@pytest.fixture
def huge_logdir(tmp_path: Path) -> Path:
    """Run ``good``, and run ``huge`` whose only file starts with a valid-CRC header claiming
    ~2 GiB, followed by that many zero bytes (sparse: no disk used) and a zero footer."""
    logdir = tmp_path / "logs"
    write_run(logdir / "good")
    (logdir / "huge").mkdir()
    length = struct.pack("<Q", HUGE_LENGTH)
    path = logdir / "huge" / "events.out.tfevents.1.host.huge"
    with open(path, "wb") as file:
        file.write(length + struct.pack("<I", masked_crc32c(length)))
        file.truncate(12 + HUGE_LENGTH + 4)
    if path.stat().st_blocks * 512 > 64 << 20:
        pytest.skip("this file system does not make sparse files")
    return logdir


def _huge_warnings(out: dict[str, Any]) -> list[str]:
    return [m for m in out["warnings"] if "events.out.tfevents.1.host.huge" in m]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc are Linux's")
@pytest.mark.parametrize("what", ["events", *TABLES])
def test_record_claiming_2_gib_is_read_in_bounded_memory(
    huge_logdir: Path, tmp_path: Path, what: str
) -> None:
    """A valid-CRC header claiming ~2 GiB: each reader works under a +400 MiB RLIMIT_AS and warns by name."""
    out = child_json(run_child(tmp_path, what, huge_logdir, limit=HEADROOM))
    print(what, "peak RSS MiB:", out["maxrss_mib"])
    huge = _huge_warnings(out)
    assert huge and all(f"corrupted record at byte 0 ({HUGE_LENGTH} bytes) skipped" in m for m in huge), out
    if what == "events":
        assert out["result"] > 5
    elif what == "scalars":
        assert out["result"]["value"] == [0.0, -1.5, -3.0]
    else:
        assert out["result"]["run"] == ["good"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc are Linux's")
@pytest.mark.parametrize("what", ["events", "scalars"])
@pytest.mark.parametrize("policy", ["raise", "skip"])
def test_record_claiming_2_gib_is_reported_per_on_corrupt(
    huge_logdir: Path, tmp_path: Path, what: str, policy: str
) -> None:
    """The bad ~2 GiB record is raised (on_corrupt="raise") or passed over silently ("skip"), RAM capped."""
    out = child_json(run_child(tmp_path, what, huge_logdir, policy=policy, limit=HEADROOM))
    if policy == "raise":
        assert out["error"][0] == "CorruptRecordError" and "host.huge" in out["error"][1], out
    else:
        assert out["warnings"] == [] and "error" not in out, out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc are Linux's")
@pytest.mark.parametrize("command", ["inspect", "export", "tail", "tail-follow"])
def test_cli_reads_a_record_claiming_2_gib_in_bounded_memory(
    huge_logdir: Path, tmp_path: Path, command: str
) -> None:
    """tblog inspect/export/tail under a +400 MiB RLIMIT_AS: the bad record reported, the good run shown."""
    extra = {"tail": " --once", "tail-follow": " --interval 0.2 --timeout 1.5"}.get(command, "")
    command = command.split("-")[0]
    proc = run_child(tmp_path, f"cli {command} {huge_logdir}{extra}", huge_logdir, limit=HEADROOM)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "loss" in proc.stdout
    expected = f"events.out.tfevents.1.host.huge: corrupted record at byte 0 ({HUGE_LENGTH} bytes) skipped"
    if command == "inspect":
        assert "corrupt records: 1; first: " in proc.stdout and expected in proc.stdout, proc.stdout
    elif command == "export":
        assert [line for line in one_line_warnings(proc.stderr, command) if expected in line], proc.stderr
    elif "--once" in extra:  # tail reports a bad CRC only when a second look still sees it
        assert one_line_warnings(proc.stderr, command) == [], proc.stderr
    else:
        lines = [line for line in one_line_warnings(proc.stderr, command) if expected in line]
        assert len(lines) == 1, proc.stderr


def _scalar_record(step: int) -> bytes:
    event = event_pb2.Event(step=step, wall_time=1.0)
    event.summary.value.add(tag="x", simple_value=float(step))
    return frame(event.SerializeToString())


def test_big_records_are_checked_in_pieces_and_read_whole_when_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records over the piece size: intact ones read, bad ones reported at their offset, the rest read on."""
    monkeypatch.setattr(fast_scalars, "_PIECE", 1 << 20)
    monkeypatch.setattr(record, "STREAM_CRC_ABOVE", 1 << 16)
    monkeypatch.setattr(growing_file, "STREAM_CRC_ABOVE", 1 << 16)
    graph = event_pb2.Event(step=7, graph_def=bytes(range(256)) * 12_000).SerializeToString()  # 3 MiB
    bad_small = bytearray(frame(bytes(200_000)))  # over STREAM_CRC_ABOVE, under a piece
    bad_small[-1] ^= 1
    bad_big = bytearray(frame(bytes(3_000_000)))  # over a piece
    bad_big[-1] ^= 1
    parts = [_scalar_record(0), frame(graph), _scalar_record(1), bytes(bad_small), _scalar_record(2)]
    parts += [bytes(bad_big), _scalar_record(3)]
    path = tmp_path / "events.out.tfevents.1.host.big"
    path.write_bytes(b"".join(parts))
    offsets = [sum(map(len, parts[:3])), sum(map(len, parts[:5]))]
    expected = [
        f"{path}: corrupted record at byte {offsets[0]} (200000 bytes) skipped",
        f"{path}: corrupted record at byte {offsets[1]} (3000000 bytes) skipped",
    ]
    with pytest.warns(CorruptRecordWarning) as caught:
        events = list(tblog.read.events(path))
    assert [str(w.message) for w in caught] == expected
    assert [e.step for e in events] == [0, 7, 1, 2, 3] and events[1].graph_def == bytes(range(256)) * 12_000
    with pytest.warns(CorruptRecordWarning) as caught:
        table = tblog.read.scalars(tmp_path, dataframe=False)
    assert [str(w.message) for w in caught] == expected
    assert table["step"].tolist() == [0, 1, 2, 3] and table["value"].tolist() == [0.0, 1.0, 2.0, 3.0]
    source = growing_file.GrowingFile(os.fspath(path))
    assert [e.step for e in source.events(final=True)] == [0, 7, 1, 2, 3]
    assert source.corrupt == expected


# ----- what may not be read ---------------------------------------------------------------------


@pytest.fixture
def locked_logdir(shared_dir: Path) -> Path:
    """Runs ``good`` (readable by all) and ``secret`` (root's, mode 0700: nobody may not list it)."""
    logdir = shared_dir / "logs"
    write_run(logdir / "good")
    write_run(logdir / "secret")
    for directory, _, names in os.walk(logdir):
        os.chmod(directory, 0o755)
        for name in names:
            os.chmod(os.path.join(directory, name), 0o644)
    (logdir / "secret").chmod(0o700)
    return logdir


@pytest.mark.parametrize("policy", ["warn", "raise", "skip"])
def test_unreadable_run_directory_is_reported_per_on_corrupt(
    locked_logdir: Path, shared_dir: Path, policy: str
) -> None:
    """A run directory the reader may not list is warned about by name (raise/skip per on_corrupt)."""
    out = child_json(run_child(shared_dir, "scalars", locked_logdir, policy=policy, as_nobody=True))
    secret = os.fspath(locked_logdir / "secret")
    if policy == "raise":
        assert out["error"][0] == "CorruptRecordError" and secret in out["error"][1], out
        return
    assert out["result"]["run"] == ["good"] * 3
    if policy == "skip":
        assert out["warnings"] == []
    else:
        assert len(out["warnings"]) == 1 and secret in out["warnings"][0], out["warnings"]
        assert "Permission denied" in out["warnings"][0]


def test_unreadable_event_file_is_reported_and_the_rest_read(locked_logdir: Path, shared_dir: Path) -> None:
    """An event file the reader may not open is warned about by name; the other files and runs are read."""
    (locked_logdir / "secret").chmod(0o755)
    (locked_logdir / "secret" / "extra").mkdir()
    write_run(locked_logdir / "secret" / "extra")
    (locked_logdir / "secret" / "extra").chmod(0o755)
    locked = next((locked_logdir / "secret" / "extra").glob("events.out.tfevents.*"))
    locked.chmod(0o600)
    for what in ("scalars", "events", "texts"):
        out = child_json(run_child(shared_dir, what, locked_logdir, as_nobody=True))
        assert any(os.fspath(locked) in m and "Permission denied" in m for m in out["warnings"]), out
        if what == "scalars":
            assert sorted(set(out["result"]["run"])) == ["good", "secret"]


def test_unreadable_log_directory_itself_raises(locked_logdir: Path, shared_dir: Path) -> None:
    """The log directory named by the caller, unreadable: PermissionError naming it, not an empty table."""
    secret = locked_logdir / "secret"
    out = child_json(run_child(shared_dir, "scalars", secret, as_nobody=True))
    assert out["error"][0] == "PermissionError" and os.fspath(secret) in out["error"][1], out


@pytest.mark.parametrize("command", ["export", "inspect"])
def test_cli_reports_an_unreadable_run_directory_in_one_line(
    locked_logdir: Path, shared_dir: Path, command: str
) -> None:
    """tblog export/inspect name the directory they could not read in one warning line and show the rest."""
    proc = run_child(shared_dir, f"cli {command} {locked_logdir}", locked_logdir, as_nobody=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = one_line_warnings(proc.stderr, command)
    assert len(lines) == 1 and os.fspath(locked_logdir / "secret") in lines[0], proc.stderr
    assert "loss" in proc.stdout


# ----- CSV cells that spreadsheets would run as formulas ----------------------------------------

FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\ry"]


def _export_csv(logdir: Path, out: Path, *args: str) -> list[dict[str, str]]:
    assert cli.main(["export", os.fspath(logdir), "-o", os.fspath(out), "-q", *args]) == 0
    with open(out, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def test_csv_export_neutralises_formulas_and_keeps_numbers(tmp_path: Path) -> None:
    """CSV text cells starting with = + - @ tab CR get a leading ' (OWASP); numbers (-1.5 too) stay."""
    logdir = tmp_path / "logs"
    with tblog.SummaryWriter(logdir / "=cmd()") as writer:
        for number, tag in enumerate(FORMULAS):
            writer.add_scalar(tag, -1.5 - number, -number)
            writer.add_text("t", tag, number)
        writer.add_scalar("safe", 2.0, 0)
        writer.add_hparams({"name": "@evil", "lr": -0.5, "plain": "-1.5"}, {"safe": None})
    rows = _export_csv(logdir, tmp_path / "scalars.csv")
    by_tag = {row["tag"]: row for row in rows}
    assert set(by_tag) == {"'" + tag for tag in FORMULAS} | {"safe"}
    for number, tag in enumerate(FORMULAS):
        row = by_tag["'" + tag]
        assert row["run"] == "'=cmd()"
        assert float(row["value"]) == -1.5 - number and row["value"] == repr(-1.5 - number)
        assert int(row["step"]) == -number
    texts = _export_csv(logdir, tmp_path / "texts.csv", "--what", "texts")
    assert sorted(row["text"] for row in texts) == sorted("'" + tag for tag in FORMULAS)
    (hparams,) = _export_csv(logdir, tmp_path / "hparams.csv", "--what", "hparams")
    assert hparams["name"] == "'@evil" and hparams["lr"] == "-0.5" and hparams["plain"] == "-1.5"
    assert float(hparams["safe"]) == 2.0


def test_csv_neutralising_applies_to_text_only() -> None:
    """write_csv prefixes dangerous text only: numbers (-1.5, -inf, negative ints) and safe text stay."""
    from tblog.cli.export import write_csv

    out = io.StringIO()
    columns = {
        "text": np.array(["=1+1", "-x", "ok", "", "-1.5", "1e-3"], dtype=object),
        "number": np.array([-1.5, -np.inf, np.nan, 0.0, 2.5, -0.0]),
        "int": np.array([-3, -2, -1, 0, 1, 2], dtype=np.int64),
    }
    write_csv(columns, out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))[1:]
    assert [row[0] for row in rows] == ["'=1+1", "'-x", "ok", "", "-1.5", "1e-3"]
    assert [row[1] for row in rows] == ["-1.5", "-inf", "nan", "0.0", "2.5", "-0.0"]
    assert [row[2] for row in rows] == ["-3", "-2", "-1", "0", "1", "2"]


def test_export_help_says_csv_text_is_neutralised(capsys: pytest.CaptureFixture[str]) -> None:
    """tblog export --help tells that CSV text cells starting with a formula character get a leading '."""
    with pytest.raises(SystemExit):
        cli.main(["export", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "formula" in text and "leading '" in text
