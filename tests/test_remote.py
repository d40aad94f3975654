"""Writing and reading runs on fsspec URLs (object storage), on the in-memory file system."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

fsspec = pytest.importorskip("fsspec")

import tblog  # noqa: E402
from tblog import read  # noqa: E402


@pytest.fixture
def url() -> Iterator[str]:
    """A fresh run URL on fsspec's process-wide in-memory file system, removed afterwards."""
    root = f"/tblog-test-{uuid.uuid4().hex}"
    yield f"memory://{root.lstrip('/')}/run"
    memory = fsspec.filesystem("memory")
    if memory.exists(root):
        memory.rm(root, recursive=True)


def _upload_dir(local: Path, url: str) -> None:
    fs, root = fsspec.core.url_to_fs(url)
    for path in sorted(local.rglob("*")):
        if path.is_file():
            fs.pipe_file(f"{root}/{path.relative_to(local).as_posix()}", path.read_bytes())


def test_reader_lists_runs_and_events_of_a_url(tmp_path: Path, url: str) -> None:
    """read.event_files/runs/events/scalars take an fsspec URL and return URLs, runs by sub-directory."""
    with tblog.SummaryWriter(tmp_path / "run") as writer:
        writer.add_scalar("loss", 0.5, 1)
        writer.add_scalars("pair", {"a": 1.0, "b": 2.0}, 2)
    _upload_dir(tmp_path / "run", url)

    files = read.event_files(url)
    assert len(files) == 3 and all(f.startswith(url + "/") for f in files)
    assert sorted(read.runs(url)) == [".", "pair_a", "pair_b"]
    assert read.runs(url)["pair_a"] == [f for f in files if "/pair_a/" in f]
    steps = [(e.step, e.WhichOneof("what")) for e in read.events(url + "/")]
    assert steps.count((1, "summary")) == 1 and steps.count((2, "summary")) == 2
    single = read.runs(files[0])
    assert single == {".": [files[0]]}
    table = read.scalars(url, dataframe=False)
    assert sorted(zip(table["run"], table["tag"], table["value"], strict=True)) == [
        (".", "loss", 0.5),
        ("pair_a", "pair", 1.0),
        ("pair_b", "pair", 2.0),
    ]


def test_reader_reports_a_missing_url_and_an_unknown_protocol(url: str) -> None:
    """A URL with nothing there raises FileNotFoundError naming it; an unknown protocol a ValueError."""
    with pytest.raises(FileNotFoundError, match="memory://"):
        read.event_files(url)
    with pytest.raises(ValueError, match="nosuchproto://b/run"):
        list(read.events("nosuchproto://b/run"))


def test_local_paths_do_not_import_fsspec(tmp_path: Path) -> None:
    """Reading and writing local paths never needs fsspec (checked in a fresh interpreter)."""
    import subprocess
    import sys

    code = (
        "import sys, tblog\n"
        "from tblog import read\n"
        f"w = tblog.SummaryWriter({str(tmp_path)!r}); w.add_scalar('a', 1.0, 0); w.close()\n"
        f"assert len(list(read.events({str(tmp_path)!r}))) == 2\n"
        "print('fsspec' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
    shutil.rmtree(tmp_path, ignore_errors=True)
