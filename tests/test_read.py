"""Record framing and reading back: CRCs, truncated tails, corruption, and files of every writer."""

from __future__ import annotations

import io
import os
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
from crc32c import crc32c

import tblog
from tblog import read
from tblog.events.record import (
    CorruptRecordError,
    CorruptRecordWarning,
    frame,
    frame_into,
    masked_crc32c,
    read_records,
)

PAYLOADS = [b"", b"a", b"hello world" * 20, bytes(range(256)) * 5]


def _records(data: bytes, **kwargs: object) -> list[bytes]:
    return list(read_records(io.BytesIO(data), **kwargs))  # type: ignore[arg-type]


def test_masked_crc_matches_the_tfrecord_definition() -> None:
    """The mask is ((crc >> 15) | (crc << 17)) + 0xA282EAD8, over CRC-32C (Castagnoli)."""
    crc = crc32c(b"123456789")
    assert crc == 0xE3069283  # the CRC-32C check value
    assert masked_crc32c(b"123456789") == ((((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)


def test_frame_layout_and_round_trip() -> None:
    """A record is <Q length, <I crc(length), payload, <I crc(payload); reading undoes it."""
    record = frame(b"abc")
    assert record[:8] == struct.pack("<Q", 3)
    assert record[8:12] == struct.pack("<I", masked_crc32c(record[:8]))
    assert record[12:15] == b"abc"
    assert record[15:] == struct.pack("<I", masked_crc32c(b"abc"))
    out = bytearray()
    frame_into(out, PAYLOADS)
    assert bytes(out) == b"".join(frame(p) for p in PAYLOADS)
    assert _records(bytes(out)) == PAYLOADS


def test_truncated_tail_is_skipped_quietly() -> None:
    """Cut at any byte, a file yields exactly its complete records and no warning."""
    data = b"".join(frame(p) for p in PAYLOADS)
    ends = np.cumsum([len(frame(p)) for p in PAYLOADS])
    for cut in range(len(data)):
        complete = int(np.searchsorted(ends, cut, side="right"))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert _records(data[:cut]) == PAYLOADS[:complete]


def test_corrupted_payload_is_reported_and_skipped() -> None:
    """A bad payload CRC warns with the offset, skips that record and reads on."""
    records = [frame(p) for p in PAYLOADS]
    broken = bytearray(records[2])
    broken[20] ^= 0xFF
    data = records[0] + records[1] + bytes(broken) + records[3]
    offset = len(records[0]) + len(records[1])
    with pytest.warns(CorruptRecordWarning, match=rf"corrupted record at byte {offset}"):
        assert _records(data) == [PAYLOADS[0], PAYLOADS[1], PAYLOADS[3]]
    with pytest.raises(CorruptRecordError):
        _records(data, on_corrupt="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(_records(data, on_corrupt="skip")) == 3


def test_corrupted_length_stops_before_allocating() -> None:
    """A bad length CRC is caught before the length is used; records before it are kept."""
    good = frame(b"ok")
    huge = struct.pack("<Q", 2**62) + b"\0\0\0\0" + b"x" * 10
    with pytest.warns(CorruptRecordWarning, match="corrupted record length"):
        assert _records(good + huge + good) == [b"ok"]


@pytest.mark.tensorboard
def test_reads_tblog_and_tensorboardx_files(tmp_path: Path) -> None:
    """tblog.read.scalars reads the scalars of tblog (both layouts) and tensorboardX."""
    import tensorboardX

    with tblog.SummaryWriter(tmp_path / "tblog") as writer:
        for step in range(5):
            writer.add_scalar("a", step * 0.5, step, walltime=100.0 + step)
            writer.add_scalar("b", step * 0.25, step, new_style=True, double_precision=True)
        writer.add_text("t", "not a scalar", 0)
    tbx = tensorboardX.SummaryWriter(os.fspath(tmp_path / "tbx"))
    for step in range(5):
        tbx.add_scalar("a", step * 2.0, step)
    tbx.close()
    table = read.scalars(tmp_path, dataframe=False)
    assert set(table) == {"run", "tag", "step", "wall_time", "value"}
    rows = sorted(zip(table["run"], table["tag"], table["step"], table["value"], strict=True))
    expected = sorted(
        [("tblog", "a", s, s * 0.5) for s in range(5)]
        + [("tblog", "b", s, s * 0.25) for s in range(5)]
        + [("tbx", "a", s, s * 2.0) for s in range(5)]
    )
    assert rows == expected
    tblog_a = (table["run"] == "tblog") & (table["tag"] == "a")
    assert table["wall_time"][tblog_a].tolist() == [100.0 + s for s in range(5)]


@pytest.mark.framework
def test_reads_torch_files(tmp_path: Path) -> None:
    """Files written by torch.utils.tensorboard (legacy and new_style scalars) read back."""
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    writer = TorchWriter(os.fspath(tmp_path))
    for step in range(3):
        writer.add_scalar("old", step + 0.5, step)
        writer.add_scalar("new", step + 0.25, step, new_style=True)
    writer.close()
    table = read.scalars(tmp_path, dataframe=False)
    got = sorted(zip(table["run"], table["tag"], table["step"], table["value"], strict=True))
    assert got == sorted(
        [(".", "old", s, s + 0.5) for s in range(3)] + [(".", "new", s, s + 0.25) for s in range(3)]
    )


def test_scalars_as_dataframe(tmp_path: Path) -> None:
    """With pandas installed the table is a DataFrame with the documented columns and dtypes."""
    import pandas as pd

    with tblog.SummaryWriter(tmp_path) as writer:
        writer.log({"x": 1.0, "y": 2.0}, 7)
    frame_ = read.scalars(tmp_path)
    assert isinstance(frame_, pd.DataFrame)
    assert list(frame_.columns) == ["run", "tag", "step", "wall_time", "value"]
    assert frame_["step"].dtype == np.int64
    assert sorted(frame_["tag"]) == ["x", "y"]


def test_events_of_a_file_and_missing_paths(tmp_path: Path) -> None:
    """events() yields the header then the summaries; a missing path is a clear error."""
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_scalar("x", 1.0, 3)
    events = list(read.events(tmp_path))
    assert events[0].file_version == "brain.Event:2"
    assert events[1].step == 3 and events[1].summary.value[0].tag == "x"
    with pytest.raises(FileNotFoundError, match="no event file or directory"):
        list(read.events(tmp_path / "nope"))
    assert read.runs(tmp_path) == {".": [os.path.join(tmp_path, n) for n in os.listdir(tmp_path)]}


def test_tblog_read_is_available_as_attribute() -> None:
    """tblog.read is reachable as an attribute of the package (loaded on first use)."""
    assert tblog.read is read
