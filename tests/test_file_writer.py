"""``writer.file_writer`` / ``writer._get_file_writer()``: the FileWriter surface frameworks call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import tblog


def _hparams_content(acc: Any) -> dict[str, bytes]:
    return {tag: bytes(content) for tag, content in acc.PluginTagToContent("hparams").items()}


@pytest.mark.framework
def test_add_summary_with_torchs_hparams_reads_back_as_with_torchs_writer(
    tmp_path: Path, event_accumulator: Any
) -> None:
    """Lightning's and SB3's hparams path (torch's hparams() Summary messages through
    _get_file_writer() / file_writer) gives TensorBoard the same hparams as torch's writer."""
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    from torch.utils.tensorboard.summary import hparams

    summaries = hparams({"lr": 0.1, "optimizer": "adam", "layers": 3}, {"hp_metric": -1})
    for name, writer in (
        ("tblog", tblog.SummaryWriter(tmp_path / "tblog")),
        ("torch", torch_tb.SummaryWriter(tmp_path / "torch")),
    ):
        file_writer = writer._get_file_writer()
        assert file_writer.get_logdir() == str(tmp_path / name)
        for summary in summaries:
            file_writer.add_summary(summary)
        writer.file_writer.add_summary(summaries[0], 7, 123.0)
        writer.close()
    ours, theirs = event_accumulator(tmp_path / "tblog"), event_accumulator(tmp_path / "torch")
    assert _hparams_content(ours) == _hparams_content(theirs)
    assert len(_hparams_content(ours)) == 3


@pytest.mark.tensorboard
def test_messages_of_any_protobuf_package_and_bytes(tmp_path: Path, event_accumulator: Any) -> None:
    """add_summary and add_event take tensorboard's own protobuf messages, tblog's, and
    serialized bytes; add_event sets wall_time and step as torch does."""
    from tensorboard.compat.proto import event_pb2, summary_pb2

    from tblog.proto import summary_pb2 as our_summary_pb2

    theirs = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="a", simple_value=1.5)])
    ours = our_summary_pb2.Summary(value=[our_summary_pb2.Summary.Value(tag="b", simple_value=2.5)])
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.file_writer.add_summary(theirs, 3)
        writer.file_writer.add_summary(ours.SerializeToString(), 4, 99.0)
        event = event_pb2.Event(
            step=1, summary=summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="c", simple_value=3.5)])
        )
        writer.file_writer.add_event(event, step=5, walltime=42.0)
        writer.file_writer.add_event(event.SerializeToString())
    acc = event_accumulator(tmp_path)
    assert [(p.step, p.value) for p in acc.Scalars("a")] == [(3, 1.5)]
    assert [(p.step, p.wall_time, p.value) for p in acc.Scalars("b")] == [(4, 99.0, 2.5)]
    assert [(p.step, p.value) for p in acc.Scalars("c")][0] == (5, 3.5)
    assert acc.Scalars("c")[0].wall_time == 42.0
    assert [p.step for p in acc.Scalars("c")] == [5, 1]  # no step given: the event's own


def test_bad_messages_are_refused_at_the_call_and_the_writer_goes_on(tmp_path: Path) -> None:
    """Non-messages and bytes that are no Summary/Event raise naming the argument; events
    logged before and after are written."""
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_scalar("x", 1.0, 1)
        with pytest.raises(TypeError, match="summary must be a protobuf message"):
            writer.file_writer.add_summary(42)
        with pytest.raises(ValueError, match="summary is not a serialized Summary"):
            writer.file_writer.add_summary(b"\xff\xff\xff")
        with pytest.raises(ValueError, match="event is not a serialized Event"):
            writer.file_writer.add_event(b"\x0a\xff")
        with pytest.raises(TypeError, match="graph_profile must be a"):
            writer.file_writer.add_graph(b"")
        writer.add_scalar("x", 2.0, 2)
    assert [row["step"] for row in _rows(tmp_path)] == [1, 2]


def _rows(path: Path) -> list[dict[str, Any]]:
    table = tblog.read.scalars(path, dataframe=False)
    return [{"step": int(step)} for step in table["step"]]
