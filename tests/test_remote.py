"""Writing and reading runs on fsspec URLs (object storage), on the in-memory file system."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

fsspec = pytest.importorskip("fsspec")

from fsspec.implementations.memory import MemoryFileSystem  # noqa: E402

import tblog  # noqa: E402
from tblog import read  # noqa: E402
from tblog.events import remote  # noqa: E402
from tblog.events.async_writer import BackgroundWriteError  # noqa: E402


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


# ----- writing ----------------------------------------------------------------------------


def _objects(url: str) -> dict[str, bytes]:
    """Every object below ``url``: path relative to it → its bytes."""
    fs, root = fsspec.core.url_to_fs(url)
    return {path[len(root) + 1 :]: fs.cat_file(path) for path in sorted(fs.find(root))}


def _scalars(url: str) -> list[tuple[str, str, int, float]]:
    table = read.scalars(url, dataframe=False)
    return list(zip(table["run"], table["tag"], table["step"].tolist(), table["value"].tolist(), strict=True))


def _kinds(segment: bytes) -> list[tuple[str, int]]:
    import io

    return [(e.WhichOneof("what"), e.step) for e in read.read_events(io.BytesIO(segment))]


def test_each_flush_uploads_one_immutable_segment_in_name_order(url: str) -> None:
    """Every flush() adds one new segment (never rewrites one); names sort in write order; each is a file."""
    writer = tblog.SummaryWriter(url, flush_secs=3600)
    seen: dict[str, bytes] = _objects(url)
    assert len(seen) == 1  # segment 0, uploaded on open: just the header
    for flush in range(5):
        for step in range(flush * 100, flush * 100 + 100):
            writer.add_scalar("loss", float(step), step)
        writer.flush()
        now = _objects(url)
        assert {name: now[name] for name in seen} == seen, "an uploaded segment changed"
        new = sorted(set(now) - set(seen))
        assert len(new) == 1 and new[0] > max(seen), (new, sorted(seen))
        seen = now
    writer.close()
    assert _objects(url) == seen  # nothing left to upload: close() adds no empty segment
    names = list(seen)
    assert names == sorted(names) and all(n.startswith("events.out.tfevents.") for n in names)
    for body in seen.values():
        assert _kinds(body)[0] == ("file_version", 0)  # every segment reads as an event file on its own
    assert _scalars(url) == [(".", "loss", step, float(step)) for step in range(500)]


def test_purge_marker_only_in_the_first_segment(
    url: str, tmp_path: Path, event_accumulator: Callable[[str], Any]
) -> None:
    """purge_step is in segment 0 only: TensorBoard drops the old run's points >= it, keeps all new ones."""
    local = tmp_path / "run"
    with tblog.SummaryWriter(local) as crashed:  # the run before the crash got to step 9
        for step in range(10):
            crashed.add_scalar("loss", -1.0, step)
    writer = tblog.SummaryWriter(url, purge_step=5, flush_secs=3600)
    for step in range(5, 20):
        writer.add_scalar("loss", float(step), step)
        writer.flush()  # a segment per point: a marker in a later one would hide earlier points
    writer.close()
    segments = _objects(url)
    assert len(segments) == 16
    starts = [name for name, body in segments.items() if ("session_log", 5) in _kinds(body)]
    assert starts == [min(segments)]
    for name, body in segments.items():  # TensorBoard reads the segments beside the old file
        (local / name).write_bytes(body)
    points = [(s.step, s.value) for s in event_accumulator(local).Scalars("loss")]
    assert points == [(step, -1.0) for step in range(5)] + [(step, float(step)) for step in range(5, 20)]


def test_sub_runs_on_a_url(url: str) -> None:
    """add_scalars and add_hparams(run_name=) write their sub-runs as segments under the URL, / joined."""
    with tblog.SummaryWriter(url + "/", flush_secs=3600) as writer:
        writer.add_scalars("pair", {"a": 1.0, "b": 2.0}, 3)
        writer.add_hparams({"lr": 0.1}, {"hp/acc": 0.5}, run_name="trial")
    assert sorted(read.runs(url)) == [".", "pair_a", "pair_b", "trial"]
    assert ("pair_a", "pair", 3, 1.0) in _scalars(url) and ("pair_b", "pair", 3, 2.0) in _scalars(url)
    assert all("//" not in name and "\\" not in name for name in _objects(url))


def test_segments_are_uploaded_every_flush_secs_not_on_each_max_queue_wake(url: str) -> None:
    """max_queue wake-ups upload nothing; the flush_secs tick uploads what is pending without flush()."""
    writer = tblog.SummaryWriter(url, max_queue=10, flush_secs=3600)
    for step in range(2000):  # 200 max_queue wake-ups
        writer.add_scalar("loss", float(step), step)
    deadline = time.monotonic() + 30
    while writer._events.queue and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.5)  # time for a wrong upload-per-wake-up to show
    assert not writer._events.queue  # the thread did take all 2000 points …
    assert len(_objects(url)) == 1  # … and uploaded none of them yet
    writer.close()
    assert len(_objects(url)) == 2

    ticking = tblog.SummaryWriter(url + "/tick", flush_secs=0.2)
    for step in range(100):
        ticking.add_scalar("loss", float(step), step)
    deadline = time.monotonic() + 60
    while len(_scalars(url + "/tick")) < 100 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_scalars(url + "/tick")) == 100  # uploaded by the timer: no flush() or close() called
    ticking.close()


def test_a_full_buffer_uploads_itself_and_memory_stays_bounded(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A buffer reaching SEGMENT_BYTES uploads itself (no flush), overshooting by one write batch at most."""
    from tblog.events import async_writer

    monkeypatch.setattr(remote, "SEGMENT_BYTES", 4096)
    with tblog.SummaryWriter(url, max_queue=100, flush_secs=3600) as writer:
        for step in range(50_000):  # more than 6 write batches of the thread, however it lags
            writer.add_scalar("loss", float(step), step)
        writer.add_text("big", "x" * 20_000, 1)
    sizes = [len(body) for body in _objects(url).values()]
    full = sizes[1:-1]  # between the header-only segment 0 and the rest uploaded by close()
    assert len(full) >= 5 and min(full) >= 4096
    assert max(full) < 4096 + 20_500 + async_writer._BATCH_ITEMS * 64  # one write batch at most
    assert [v for _, _, _, v in _scalars(url)] == [float(step) for step in range(50_000)]


def test_close_uploads_the_rest_and_a_reopened_writer_adds_a_new_file(url: str) -> None:
    """close() uploads what is pending, is idempotent; logging after close() starts new segments."""
    writer = tblog.SummaryWriter(url, flush_secs=3600)
    writer.add_scalar("a", 1.0, 1)
    writer.close()
    writer.close()
    first = _objects(url)
    assert len(first) == 2
    writer.add_scalar("a", 2.0, 2)
    writer.close()
    objects = _objects(url)
    assert {name: objects[name] for name in first} == first and len(objects) == 4
    assert _scalars(url) == [(".", "a", 1, 1.0), (".", "a", 2, 2.0)]


def test_a_writer_left_open_is_uploaded_at_exit(tmp_path: Path) -> None:
    """A script that never calls close() still has every event uploaded when the interpreter ends."""
    target = tmp_path / "store"
    code = (
        "import tblog\n"
        f"w = tblog.SummaryWriter('file://{target.as_posix()}/run', flush_secs=3600)\n"
        "for i in range(1000): w.add_scalar('x', float(i), i)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert len(list((target / "run").iterdir())) == 2
    assert [v for _, _, _, v in _scalars(f"file://{target.as_posix()}/run")] == [
        float(i) for i in range(1000)
    ]


def test_pickled_writer_reopens_on_the_same_url_with_its_storage_options(url: str) -> None:
    """A URL writer pickles as a new writer on the same URL and storage_options, writing its own file."""
    writer = tblog.SummaryWriter(url, flush_secs=3600, storage_options={"skip_instance_cache": False})
    writer.add_scalar("a", 1.0, 1)
    copy = pickle.loads(pickle.dumps(writer))
    assert copy.log_dir == url and copy._options["storage_options"] == {"skip_instance_cache": False}
    copy.add_scalar("a", 2.0, 2)
    copy.close()
    writer.close()
    assert sorted(v for _, _, _, v in _scalars(url)) == [1.0, 2.0]
    assert len({name.rsplit(".", 1)[0] for name in _objects(url)}) == 2  # two files' segments


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_uploads_its_own_segments_and_not_the_parents_pending_events(tmp_path: Path) -> None:
    """After fork the child writes its own segments; the parent's pending events are uploaded once, by it."""
    url = f"file://{tmp_path.as_posix()}/run"
    code = (
        "import os, tblog\n"
        f"writer = tblog.SummaryWriter({url!r}, flush_secs=3600)\n"
        "writer.add_scalar('parent', 1.0, 1)\n"
        "writer.flush()\n"
        "writer.add_scalar('parent', 2.0, 2)  # pending in the parent at the fork\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    writer.add_scalar('child', 3.0, 3)\n"
        "    writer.close()\n"
        "    os._exit(0)\n"
        "assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0\n"
        "writer.close()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    rows = sorted((tag, v) for _, tag, _, v in _scalars(url))
    assert rows == [("child", 3.0), ("parent", 1.0), ("parent", 2.0)]
    assert len({name.rsplit(".", 1)[0] for name in _objects(url)}) == 2  # the child's own file


class _FailingMemoryFS(MemoryFileSystem):
    """The in-memory store, except that uploads fail while ``failing`` is set (a store that is down)."""

    protocol = "tblogfailing"
    failing = False

    def pipe_file(self, path: str, value: Any, *args: Any, **kwargs: Any) -> None:
        if type(self).failing:
            raise ConnectionError("simulated outage: the store did not answer")
        super().pipe_file(path, value, *args, **kwargs)


@pytest.fixture
def failing_url() -> Iterator[str]:
    """A run URL on a store whose uploads fail while _FailingMemoryFS.failing is set."""
    fsspec.register_implementation(_FailingMemoryFS.protocol, _FailingMemoryFS, clobber=True)
    root = f"tblog-failing-{uuid.uuid4().hex}"
    _FailingMemoryFS.failing = False
    yield f"{_FailingMemoryFS.protocol}://{root}/run"
    _FailingMemoryFS.failing = False
    memory = fsspec.filesystem("memory")
    if memory.exists(f"/{root}"):
        memory.rm(f"/{root}", recursive=True)


def test_upload_errors_surface_in_the_caller_naming_the_url(failing_url: str) -> None:
    """A failed upload is raised, chained and naming the URL, by flush(); the writer then recovers."""
    writer = tblog.SummaryWriter(failing_url, flush_secs=3600)
    writer.add_scalar("a", 1.0, 1)
    writer.flush()
    _FailingMemoryFS.failing = True
    writer.add_scalar("a", 2.0, 2)
    with pytest.raises(BackgroundWriteError, match="tblogfailing://") as info:
        writer.flush()
    cause = info.value.__cause__
    assert isinstance(cause, OSError) and failing_url in str(cause) and "simulated outage" in str(cause)
    assert isinstance(cause.__cause__, ConnectionError)
    _FailingMemoryFS.failing = False
    writer.add_scalar("a", 3.0, 3)  # a new file; the failed point is reported lost, not retried
    writer.close()
    assert [(step, v) for _, _, step, v in _scalars(failing_url)] == [(1, 1.0), (3, 3.0)]


def test_store_down_at_open_or_close_raises_clearly(failing_url: str) -> None:
    """A store down when the writer opens fails the constructor; down at close() fails close()."""
    _FailingMemoryFS.failing = True
    with pytest.raises(OSError, match="uploading event segment tblogfailing://.*simulated outage"):
        tblog.SummaryWriter(failing_url)
    _FailingMemoryFS.failing = False
    writer = tblog.SummaryWriter(failing_url, flush_secs=3600)
    writer.add_scalar("a", 1.0, 1)
    _FailingMemoryFS.failing = True
    with pytest.raises(BackgroundWriteError, match="simulated outage"):
        writer.close()
    writer.close()  # idempotent after the failure


def test_bad_urls_and_options_get_clear_errors(tmp_path: Path) -> None:
    """Unknown protocols, storage_options of the wrong type or on a local path are rejected by name."""
    with pytest.raises(ValueError, match="nosuchproto://b/run"):
        tblog.SummaryWriter("nosuchproto://b/run")
    with pytest.raises(TypeError, match="storage_options must be a dict or None; got"):
        tblog.SummaryWriter("memory://b/run", storage_options=[("key", "x")])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="storage_options apply to a log_dir that is an fsspec URL"):
        tblog.SummaryWriter(tmp_path, storage_options={"key": "x"})


def test_missing_fsspec_names_the_extra() -> None:
    """Without fsspec a URL log_dir raises ImportError naming pip install 'tblog[remote]'."""
    code = (
        "import sys; sys.modules['fsspec'] = None\n"
        "import tblog\n"
        "try:\n    tblog.SummaryWriter('s3://bucket/run')\n"
        "except ImportError as e:\n    print(e)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "pip install 'tblog[remote]'" in proc.stdout and "s3://bucket/run" in proc.stdout


def test_embeddings_on_a_url_are_the_files_of_a_local_run(url: str, tmp_path: Path) -> None:
    """add_embedding on a URL uploads byte for byte the projector files it writes locally (merge, replace)."""
    import numpy as np

    rng = np.random.default_rng(0)
    mat, images = rng.normal(size=(6, 3)), rng.uniform(size=(6, 3, 4, 4))

    def embed(writer: tblog.SummaryWriter) -> None:
        writer.add_embedding(mat, metadata=list("abcdef"), label_img=images, tag="emb", global_step=1)
        writer.add_embedding(mat * 2, tag="other/x", global_step=2)
        writer.add_embedding(mat * 3, tag="emb", global_step=1)  # same tag and step: replaced

    with tblog.SummaryWriter(tmp_path / "run") as local:
        embed(local)
    with tblog.SummaryWriter(url) as remote_writer:
        embed(remote_writer)
    expected = {
        path.relative_to(tmp_path / "run").as_posix(): path.read_bytes()
        for path in (tmp_path / "run").rglob("*")
        if path.is_file() and "tfevents" not in path.name
    }
    uploaded = {name: body for name, body in _objects(url).items() if "tfevents" not in name}
    assert uploaded == expected
    assert "00001/emb/metadata.tsv" not in uploaded and "00001/emb/tensors.tsv" in uploaded
