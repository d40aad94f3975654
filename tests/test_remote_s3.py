"""Writing runs to S3 for real: a moto S3 server on 127.0.0.1, read back by tblog and by TensorBoard."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

boto3 = pytest.importorskip("boto3")
pytest.importorskip("s3fs")
pytest.importorskip("moto.server")

import tblog  # noqa: E402
from tblog import read  # noqa: E402
from tblog.events.files import EventFile  # noqa: E402

_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's standalone S3 server on a free port of 127.0.0.1, stopped at the end of the module."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(endpoint + "/", timeout=5):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto S3 server did not start on {endpoint}") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


@pytest.fixture
def bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh versioned bucket; the AWS_* variables point boto3 and s3fs at the moto server."""
    for name, value in _CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    name = f"tblog-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    client.create_bucket(Bucket=name)
    # Every PUT keeps a version: the sum over versions is every byte ever uploaded.
    client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def _uploads(endpoint: str, bucket: str, prefix: str) -> dict[str, Any]:
    client = boto3.client("s3", endpoint_url=endpoint)
    versions: list[dict[str, Any]] = []
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        versions.extend(page.get("Versions", []))
    objects: list[dict[str, Any]] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        objects.extend(page.get("Contents", []))
    return {
        "puts": len(versions),
        "put_bytes": sum(v["Size"] for v in versions),
        "objects": len(objects),
        "object_bytes": sum(o["Size"] for o in objects),
    }


_TENSORBOARD_READ = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from tensorboard.backend.event_processing import event_accumulator as ea
    acc = ea.EventAccumulator(sys.argv[1], size_guidance={ea.SCALARS: 0})
    acc.Reload()
    points = acc.Scalars("loss")
    np.save(sys.argv[2], np.array([[p.step, p.value] for p in points], dtype=np.float64))
    print(json.dumps({"tags": acc.Tags()["scalars"]}))
    """
)


def _values(steps: np.ndarray) -> np.ndarray:
    return np.sin(steps * 0.001).astype(np.float32)  # float32: what a scalar event holds


def _write(url: str, count: int, flush_every: int) -> float:
    values = _values(np.arange(count)).tolist()
    start = time.perf_counter()
    writer = tblog.SummaryWriter(url, flush_secs=3600)
    for step, value in enumerate(values):
        writer.add_scalar("loss", value, step)
        if (step + 1) % flush_every == 0:
            writer.flush()
    writer.close()
    return time.perf_counter() - start


@pytest.mark.slow
@pytest.mark.tensorboard
def test_100k_scalars_on_s3_read_back_by_tblog_and_tensorboard_uploading_linear_bytes(
    s3_endpoint: str, bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """100,000 scalars with a flush every 10,000 reach S3 intact (tblog and TensorBoard read every
    step and value); every byte is uploaded once, bytes grow linearly with the data."""
    flush_every = 10_000
    header = len(_header_bytes(tmp_path))
    stats = {}
    for count in (50_000, 100_000):
        url = f"s3://{bucket}/run-{count}"
        seconds = _write(url, count, flush_every)
        stats[count] = {**_uploads(s3_endpoint, bucket, f"run-{count}/"), "write_s": seconds}
        # Local baseline: the same points in one event file.
        with tblog.SummaryWriter(tmp_path / f"local-{count}", flush_secs=3600) as local:
            for step, value in enumerate(_values(np.arange(count)).tolist()):
                local.add_scalar("loss", value, step)
        (local_file,) = read.event_files(tmp_path / f"local-{count}")
        stats[count]["local_bytes"] = os.path.getsize(local_file)

    big = stats[100_000]
    with capsys.disabled():
        print(f"\n[s3] header {header} B per segment; flush every {flush_every} scalars")
        for count, row in stats.items():
            print(
                f"[s3] {count} scalars: {row['puts']} PUTs, {row['put_bytes']} B uploaded, "
                f"{row['objects']} objects, {row['object_bytes']} B stored, "
                f"local file {row['local_bytes']} B, write+upload {row['write_s']:.2f} s"
            )
        print(f"[s3] uploaded bytes ratio 100k/50k = {big['put_bytes'] / stats[50_000]['put_bytes']:.4f}")

    for count, row in stats.items():
        segments = count // flush_every + 1  # one per flush, plus segment 0 (the header)
        assert row["puts"] == row["objects"] == segments, row  # no object written twice
        assert row["put_bytes"] == row["object_bytes"], row  # nothing re-uploaded
        # Exactly the local file's bytes plus one header for each further segment.
        assert row["put_bytes"] == row["local_bytes"] + (segments - 1) * header, row
    assert 1.95 < big["put_bytes"] / stats[50_000]["put_bytes"] < 2.05

    url = f"s3://{bucket}/run-100000"
    expected = _values(np.arange(100_000)).astype(np.float64)
    table = read.scalars(url, dataframe=False)
    assert table["step"].tolist() == list(range(100_000))
    assert np.array_equal(table["value"], expected)

    env = {**os.environ, **_CREDENTIALS, "S3_ENDPOINT": s3_endpoint}  # tensorboard's own S3 setting
    del env["AWS_ENDPOINT_URL"]
    out = tmp_path / "tensorboard.npy"
    proc = subprocess.run(
        [sys.executable, "-c", _TENSORBOARD_READ, url, str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"tags": ["loss"]}
    points = np.load(out)
    assert points[:, 0].tolist() == list(range(100_000))
    assert np.array_equal(points[:, 1], expected)


def _header_bytes(tmp_path: Path) -> bytes:
    """The first record(s) of a fresh event file, as each segment starts with them."""
    event_file = EventFile(str(tmp_path / "header"))
    event_file.close()
    return Path(event_file.path).read_bytes()


def test_s3_storage_options_and_a_missing_bucket(
    s3_endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """storage_options reach s3fs (no AWS_ENDPOINT_URL); a missing bucket fails the constructor, naming it."""
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    options = {"endpoint_url": s3_endpoint, "key": "testing", "secret": "testing"}
    with tblog.SummaryWriter(f"s3://{bucket}/opts", storage_options=options) as writer:
        writer.add_scalar("a", 1.0, 1)
        writer.add_scalars("pair", {"x": 2.0}, 2)
    table = read.scalars(f"s3://{bucket}/opts", dataframe=False, storage_options=options)
    assert sorted(zip(table["run"], table["value"].tolist(), strict=True)) == [(".", 1.0), ("pair_x", 2.0)]
    missing = f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/run"
    with pytest.raises(OSError, match=f"uploading event segment {missing}/events.out.tfevents.*") as info:
        tblog.SummaryWriter(missing, storage_options=options)
    assert "bucket" in str(info.value).lower()


@pytest.mark.parametrize("ending", ["exit", "sigterm"])
def test_s3_run_left_open_is_uploaded_at_exit_and_on_sigterm(
    s3_endpoint: str, bucket: str, ending: str
) -> None:
    """A script that never calls close() (exiting, or killed by SIGTERM) still has every point on S3."""
    url = f"s3://{bucket}/{ending}"
    code = textwrap.dedent(
        f"""
        import os, signal, tblog
        w = tblog.SummaryWriter({url!r}, flush_secs=3600)
        w.add_scalars("pair", {{"a": 0.5}}, 0)
        for i in range(5000):
            w.add_scalar("x", float(i), i)
        if {ending!r} == "sigterm":
            os.kill(os.getpid(), signal.SIGTERM)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == (-15 if ending == "sigterm" else 0), proc.stderr
    assert proc.stderr == ""
    table = read.scalars(url, dataframe=False)
    rows = list(zip(table["run"], table["tag"], table["value"].tolist(), strict=True))
    assert rows == [(".", "x", float(i)) for i in range(5000)] + [("pair_a", "pair", 0.5)]
