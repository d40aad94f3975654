"""tblog.read's tables (scalars, histograms, texts, images, hparams) against what each writer wrote."""

from __future__ import annotations

import importlib.util
import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tblog
from tblog import read
from tblog.events.record import CorruptRecordError, CorruptRecordWarning, frame
from tblog.proto import event_pb2, summary_pb2
from tblog.read import fast_scalars, scan
from tblog.read.values import scalar

REPO = Path(__file__).resolve().parent.parent
TF_FIXTURES = REPO / "tests" / "data" / "tf_summary"
KEY_COLUMNS = ["run", "tag", "step", "wall_time"]


def _tf_script() -> Any:
    spec = importlib.util.spec_from_file_location(
        "make_tf_fixtures", REPO / "scripts" / "make_tf_fixtures.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(table: dict[str, np.ndarray], *columns: str) -> list[tuple[Any, ...]]:
    return list(zip(*(table[c].tolist() for c in columns), strict=True))


def _reference_scalars(logdir: Path) -> list[tuple[Any, ...]]:
    """Scalars read by protobuf alone, record by record (the rule tblog.read documents)."""
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorruptRecordWarning)
        for run, files in read.runs(logdir).items():
            plugins: dict[str, str] = {}  # tag -> plugin of its first metadata
            for file in files:
                for event in read.events(file):
                    if event.WhichOneof("what") != "summary":
                        continue
                    for value in event.summary.value:
                        plugin = plugins.setdefault(value.tag, value.metadata.plugin_data.plugin_name)
                        try:
                            number = scalar(value, plugin)
                        except ValueError:
                            continue
                        if number is not None:
                            rows.append((run, value.tag, event.step, event.wall_time, number))
    return rows


def _same_rows(got: list[tuple[Any, ...]], want: list[tuple[Any, ...]]) -> bool:
    """Equal, with NaN equal to NaN."""
    if len(got) != len(want):
        return False
    for a, b in zip(got, want, strict=True):
        for x, y in zip(a, b, strict=True):
            if not (
                x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))
            ):
                return False
    return True


# ----- tblog and tensorboardX files ---------------------------------------------------------


def _write_all_kinds(writer: Any, flavour: str) -> None:
    """The same log through any SummaryWriter-like API."""
    for step in range(6):
        writer.add_scalar("loss", 1.0 / (step + 1), step)
        writer.add_scalar("acc/train", step * 0.125, step)
        writer.add_histogram("weights", np.arange(50, dtype=np.float64) * (step + 1), step)
        writer.add_text("note", f"step **{step}**", step)
    image = (np.arange(5 * 4 * 3).reshape(5, 4, 3) * 5 % 256).astype(np.uint8)
    writer.add_image("picture", image, 3, dataformats="HWC")
    if flavour == "tblog":
        writer.log({"lr": 0.5, "momentum": 0.25}, 10)


def _check_all_kinds(logdir: Path, run: str) -> None:
    scalars = read.scalars(logdir, runs=run, dataframe=False)
    got = sorted(_rows(scalars, "tag", "step", "value"))
    want = sorted(
        [("loss", s, float(np.float32(1.0 / (s + 1)))) for s in range(6)]
        + [("acc/train", s, s * 0.125) for s in range(6)]
    )
    if run == "tblog":
        want = sorted([*want, ("lr", 10, 0.5), ("momentum", 10, 0.25)])
    assert got == want
    reference = [row for row in _reference_scalars(logdir) if row[0] == run]
    assert _same_rows(_rows(scalars, *KEY_COLUMNS, "value"), reference)

    histograms = read.histograms(logdir, runs=run, dataframe=False)
    assert histograms["tag"].tolist() == ["weights"] * 6
    for step, row in enumerate(zip(*(histograms[c] for c in histograms), strict=True)):
        cells = dict(zip(histograms, row, strict=True))
        data = np.arange(50, dtype=np.float64) * (step + 1)
        assert cells["step"] == step
        assert (cells["min"], cells["max"], cells["num"]) == (data.min(), data.max(), 50)
        assert cells["sum"] == pytest.approx(data.sum())
        assert cells["sum_squares"] == pytest.approx((data**2).sum())
        assert cells["bucket_count"].sum() == 50
        assert cells["bucket_left"][0] == data.min() and cells["bucket_right"][-1] == data.max()
        assert (cells["bucket_left"][1:] == cells["bucket_right"][:-1]).all()

    texts = read.texts(logdir, runs=run, dataframe=False)
    assert _rows(texts, "tag", "step", "text") == [
        ("note/text_summary", s, f"step **{s}**") for s in range(6)
    ]

    images = read.images(logdir, runs=run, dataframe=False)
    assert _rows(images, "tag", "step", "index", "width", "height") == [("picture", 3, 0, 4, 5)]
    expected = (np.arange(5 * 4 * 3).reshape(5, 4, 3) * 5 % 256).astype(np.uint8)
    assert np.array_equal(read.decode_image(images["encoded"][0]), expected)


@pytest.mark.tensorboard
def test_every_table_of_tblog_and_tensorboardx_files(tmp_path: Path) -> None:
    """Scalars, histograms, texts, images and hparams read back exactly what tblog and tensorboardX wrote."""
    import tensorboardX

    with tblog.SummaryWriter(tmp_path / "tblog") as writer:
        _write_all_kinds(writer, "tblog")
    tbx = tensorboardX.SummaryWriter(os.fspath(tmp_path / "tbx"))
    _write_all_kinds(tbx, "tbx")
    tbx.close()
    _check_all_kinds(tmp_path, "tblog")
    _check_all_kinds(tmp_path, "tbx")
    tbx = tensorboardX.SummaryWriter(os.fspath(tmp_path / "tbx_hparams"))
    tbx.add_hparams({"lr": 0.1, "opt": "sgd", "deep": True}, {"hp/score": 0.5}, name="trial")
    tbx.close()
    hparams = read.hparams(tmp_path, dataframe=False)
    assert hparams["run"].tolist() == ["tbx_hparams/trial"]
    assert hparams["lr"].tolist() == [0.1] and hparams["opt"].tolist() == ["sgd"]
    assert hparams["deep"].tolist() == [True] and hparams["hp/score"].tolist() == [0.5]


@pytest.mark.framework
def test_every_table_of_torch_files(tmp_path: Path) -> None:
    """The tables read back what torch.utils.tensorboard wrote, new_style scalars and hparams included."""
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    writer = TorchWriter(os.fspath(tmp_path / "torch"))
    _write_all_kinds(writer, "torch")
    writer.close()
    _check_all_kinds(tmp_path, "torch")
    writer = TorchWriter(os.fspath(tmp_path / "extra"))
    writer.add_scalar("new", 2.5, 7, new_style=True)
    writer.add_hparams({"lr": 0.1, "opt": "adam"}, {"hparam/score": 0.75}, run_name="trial")
    writer.close()
    table = read.scalars(tmp_path, runs="extra", dataframe=False)
    assert _rows(table, "run", "tag", "step", "value") == [("extra", "new", 7, 2.5)]
    hparams = read.hparams(tmp_path, dataframe=False)
    assert hparams["run"].tolist() == ["extra/trial"]
    assert hparams["lr"].tolist() == [0.1] and hparams["opt"].tolist() == ["adam"]
    assert hparams["hparam/score"].tolist() == [0.75]


@pytest.mark.tensorboard
def test_histogram_buckets_are_tensorboards(tmp_path: Path) -> None:
    """Legacy histogram buckets equal TensorBoard's own data_compat conversion, empty ends dropped."""
    from tensorboard import data_compat

    rng = np.random.default_rng(3)
    with tblog.SummaryWriter(tmp_path) as writer:
        for step in range(4):
            writer.add_histogram("h", rng.standard_normal(1000) * (step + 1), step)
        writer.add_histogram(
            "gaps", np.array([0.0, 0.0, 10.0]), 9, bins=np.array([-5.0, -1, 1, 5, 9, 11, 20])
        )
    table = read.histograms(tmp_path, dataframe=False)
    values = [
        value for event in read.events(tmp_path) if event.HasField("summary") for value in event.summary.value
    ]
    assert len(values) == len(table["tag"]) == 5
    for row, value in enumerate(values):
        migrated = read.tensor_to_numpy(data_compat.migrate_value(value).tensor)
        for column, k in (("bucket_left", 0), ("bucket_right", 1), ("bucket_count", 2)):
            np.testing.assert_allclose(table[column][row], migrated[:, k], rtol=1e-6)


def test_tblog_hparams_table(tmp_path: Path) -> None:
    """hparams: one row per run with its hparams and the last value of each declared metric."""
    for name, lr, layers in (("a", 0.1, 2), ("b", 0.01, 4)):
        with tblog.SummaryWriter(tmp_path / name) as writer:
            writer.add_scalar("score", 0.0, 0)
            writer.add_scalar("score", lr * 10, 5)
            writer.add_hparams({"lr": lr, "layers": layers, "act": "relu", "bn": lr > 0.05}, {"score": None})
    with tblog.SummaryWriter(tmp_path / "no_hparams") as writer:
        writer.add_scalar("score", 1.0, 0)
    table = read.hparams(tmp_path, dataframe=False)
    assert list(table) == ["run", "lr", "layers", "act", "bn", "score"]
    assert table["run"].tolist() == ["a", "b"]
    assert table["lr"].tolist() == [0.1, 0.01]
    assert table["layers"].tolist() == [2.0, 4.0]
    assert table["act"].tolist() == ["relu", "relu"]
    assert table["bn"].tolist() == [True, False]
    assert table["score"].tolist() == pytest.approx([1.0, 0.1])
    assert read.hparams(tmp_path, runs="b", dataframe=False)["run"].tolist() == ["b"]


# ----- tf.summary ---------------------------------------------------------------------------


def test_tf_summary_fixtures() -> None:
    """Files written by TensorFlow's tf.summary (tensor summaries) read back in every table."""
    _check_tf_logdir(TF_FIXTURES)


@pytest.mark.tensorflow
def test_tf_summary_files_written_now(tmp_path: Path) -> None:
    """tf.summary files written by the installed TensorFlow (tests/run.sh's tf job) read back too."""
    import subprocess
    import sys

    if importlib.util.find_spec("tensorflow") is None:  # only the tf CI job installs it
        pytest.skip("tensorflow is not installed (tests/run.sh tf runs this test)")
    script = REPO / "scripts" / "make_tf_fixtures.py"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    subprocess.run([sys.executable, str(script), str(tmp_path)], check=True, timeout=600, env=env)
    _check_tf_logdir(tmp_path)


def _check_tf_logdir(logdir: Path) -> None:
    tf = _tf_script()
    scalars = read.scalars(logdir, dataframe=False)
    want = [
        (name, tag, step, pytest.approx(fn(run, step), rel=1e-6))
        for name, run in tf.RUNS.items()
        for step in range(tf.STEPS)
        for tag, fn in (("loss", tf.expected_loss), ("accuracy", tf.expected_accuracy))
    ]
    assert _rows(scalars, "run", "tag", "step", "value") == want
    assert (scalars["wall_time"] > 1.7e9).all()

    histograms = read.histograms(logdir, dataframe=False)
    assert len(histograms["tag"]) == len(tf.RUNS) * tf.STEPS
    for row in range(len(histograms["tag"])):
        run, step = tf.RUNS[histograms["run"][row]], int(histograms["step"][row])
        data = tf.expected_weights(run, step)
        assert histograms["num"][row] == 100 and histograms["bucket_count"][row].sum() == 100
        assert histograms["bucket_left"][row][0] == pytest.approx(data.min())
        assert histograms["bucket_right"][row][-1] == pytest.approx(data.max())
        assert len(histograms["bucket_left"][row]) == 5
        assert math.isnan(histograms["min"][row]) and math.isnan(histograms["sum"][row])

    texts = read.texts(logdir, dataframe=False)
    assert _rows(texts, "run", "tag", "step", "text") == [
        (name, "note", step, tf.expected_note(run, step))
        for name, run in tf.RUNS.items()
        for step in range(tf.STEPS)
    ]

    images = read.images(logdir, dataframe=False)
    assert _rows(images, "run", "tag", "step", "index", "width", "height") == [
        (name, "digits", 0, i, 3, 4) for name in tf.RUNS for i in range(2)
    ]
    for row in range(4):
        pixels = tf.expected_digits(tf.RUNS[images["run"][row]])[images["index"][row]]
        assert np.array_equal(read.decode_image(images["encoded"][row]), pixels)

    hparams = read.hparams(logdir, dataframe=False)
    assert list(hparams) == ["run", "lr", "optimizer", "dropout_on", "accuracy"]  # the experiment's order
    assert hparams["run"].tolist() == list(tf.RUNS)
    for name in ("lr", "optimizer", "dropout_on"):
        assert hparams[name].tolist() == [tf.HPARAMS[run][name] for run in tf.RUNS]
    assert hparams["accuracy"].tolist() == pytest.approx(
        [tf.expected_accuracy(run, tf.STEPS - 1) for run in tf.RUNS.values()]
    )


def test_tables_as_dataframes() -> None:
    """With pandas each table is a DataFrame: run, tag, step, wall_time first, documented dtypes."""
    import pandas as pd

    for function, extra in (
        (read.scalars, ["value"]),
        (
            read.histograms,
            ["min", "max", "num", "sum", "sum_squares", "bucket_left", "bucket_right", "bucket_count"],
        ),
        (read.texts, ["text"]),
        (read.images, ["index", "width", "height", "encoded"]),
    ):
        frame_ = function(TF_FIXTURES)
        assert isinstance(frame_, pd.DataFrame)
        assert list(frame_.columns) == [*KEY_COLUMNS, *extra]
        assert frame_["step"].dtype == np.int64 and frame_["wall_time"].dtype == np.float64
        assert len(frame_) > 0
    assert isinstance(read.hparams(TF_FIXTURES), pd.DataFrame)
    row = read.images(TF_FIXTURES).iloc[1]
    assert read.decode_image(row).shape == (4, 3, 3)


# ----- filters and arguments ----------------------------------------------------------------


def test_filters_by_run_tag_and_step(tmp_path: Path) -> None:
    """runs/tags take a glob or a list of globs; steps a (min, max) tuple, a range or a slice."""
    for run in ("train", "eval", "eval/sub"):
        with tblog.SummaryWriter(tmp_path / run) as writer:
            for step in range(10):
                writer.log({"loss": step, "acc/top1": step, "acc/top5": step}, step)

    def picked(**kw: Any) -> list[tuple[Any, ...]]:
        return sorted(set(_rows(read.scalars(tmp_path, dataframe=False, **kw), "run", "tag", "step")))

    everything = picked()
    assert len(everything) == 90
    assert {r[0] for r in picked(runs="eval*")} == {"eval", "eval/sub"}
    assert {r[0] for r in picked(runs=["train", "eval"])} == {"train", "eval"}
    assert {r[1] for r in picked(tags="acc/*")} == {"acc/top1", "acc/top5"}
    assert {r[1] for r in picked(tags=["loss", "*5"])} == {"loss", "acc/top5"}
    assert picked(tags="ACC/*") == [] and picked(tags=[]) == []
    assert {r[2] for r in picked(steps=(3, 5))} == {3, 4, 5}
    assert {r[2] for r in picked(steps=(None, 1))} == {0, 1}
    assert {r[2] for r in picked(steps=(8, None))} == {8, 9}
    assert {r[2] for r in picked(steps=range(1, 9, 3))} == {1, 4, 7}
    assert {r[2] for r in picked(steps=range(7, 0, -3))} == {1, 4, 7}
    assert {r[2] for r in picked(steps=slice(2, 6))} == {2, 3, 4, 5}
    assert {r[2] for r in picked(steps=slice(None, None, 4))} == {0, 4, 8}
    assert {r[2] for r in picked(steps=slice(-3, None, 4))} == {1, 5, 9}
    assert len(picked(steps=(-(2**70), 2**70))) == 90
    assert {r[2] for r in picked(steps=range(-(2**70), 2**70, 3))} == {2, 5, 8}  # -(2**70) % 3 == 2
    combined = picked(runs="train", tags="loss", steps=[2, 3])
    assert combined == [("train", "loss", 2), ("train", "loss", 3)]
    with tblog.SummaryWriter(tmp_path / "train") as writer:
        writer.add_text("t", "x", 4)
        writer.add_histogram("h", np.ones(3), 5)
    assert read.texts(tmp_path, steps=(5, 9), dataframe=False)["text"].tolist() == []
    assert read.histograms(tmp_path, tags="h", steps=(5, 5), dataframe=False)["step"].tolist() == [5]
    assert read.histograms(tmp_path, runs="eval", dataframe=False)["step"].tolist() == []


def test_empty_and_missing_directories(tmp_path: Path) -> None:
    """An empty log directory gives empty tables with all columns; a missing one is a clear error."""
    for function in (read.scalars, read.histograms, read.texts, read.images, read.hparams):
        table = function(tmp_path, dataframe=False)
        assert "run" in table and all(len(column) == 0 for column in table.values())
        with pytest.raises(FileNotFoundError, match="no event file or directory"):
            function(tmp_path / "missing")
    assert list(read.scalars(tmp_path, dataframe=False)) == [*KEY_COLUMNS, "value"]
    assert len(read.scalars(tmp_path)) == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"tags": 5}, TypeError, "tags must be None, a glob string or a list of glob strings; got int"),
        ({"runs": [b"x"]}, TypeError, "runs must hold glob strings; got bytes"),
        ({"steps": "1:5"}, TypeError, r"steps must be None, a \(min, max\) tuple"),
        ({"steps": (1, 2, 3)}, TypeError, r"steps must be None, a \(min, max\) tuple"),
        ({"steps": (5, 1)}, ValueError, "min 5 > max 1"),
        ({"steps": (1.5, None)}, TypeError, "steps minimum must be an int or None; got float"),
        ({"steps": slice(0, 9, -1)}, ValueError, "steps slice step must be positive"),
        (
            {"on_corrupt": "ignore"},
            ValueError,
            "on_corrupt must be one of 'warn', 'raise', 'skip'; got 'ignore'",
        ),
        ({"dataframe": "yes"}, TypeError, "dataframe must be None, True or False; got 'yes'"),
    ],
)
def test_bad_arguments_are_named(tmp_path: Path, kwargs: dict[str, Any], error: type, match: str) -> None:
    """A bad filter or option raises a clear error naming the argument and what came."""
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_scalar("x", 1.0, 1)
    with pytest.raises(error, match=match):
        read.scalars(tmp_path, **kwargs)
    with pytest.raises(error, match=match):
        read.histograms(tmp_path, **kwargs)


def test_decode_image_inputs(tmp_path: Path) -> None:
    """decode_image takes bytes or a row; gray stays one channel; junk and wrong types are clear errors."""
    gray = (np.arange(12).reshape(3, 4) * 20).astype(np.uint8)
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_image("g", gray, 0, dataformats="HW")
    table = read.images(tmp_path, dataframe=False)
    row = {name: column[0] for name, column in table.items()}
    assert np.array_equal(read.decode_image(row), gray[:, :, None])
    assert np.array_equal(read.decode_image(memoryview(row["encoded"])), gray[:, :, None])
    with pytest.raises(ValueError, match="not an image Pillow can read"):
        read.decode_image(b"not a png")
    with pytest.raises(TypeError, match="decode_image takes the encoded bytes or a row"):
        read.decode_image(42)
    with pytest.raises(TypeError, match="'encoded' field must be bytes; got str"):
        read.decode_image({"encoded": "png"})


def test_video_gif_reads_as_an_image(tmp_path: Path) -> None:
    """add_video's animated GIF is an images row whose first frame decodes."""
    video = np.zeros((1, 3, 3, 8, 8), dtype=np.uint8)
    video[0, :, 0] = 200  # red frames
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_video("v", video, 1, fps=4)
    table = read.images(tmp_path, dataframe=False)
    assert table["encoded"][0][:3] == b"GIF" and table["width"][0] == 8
    pixels = read.decode_image(table["encoded"][0])
    assert pixels.shape[:2] == (8, 8) and (pixels[..., 0] == 200).all()


# ----- the bulk scalar decoder equals protobuf ----------------------------------------------


def _event(wall_time: float, step: int, values: list[Any]) -> bytes:
    return event_pb2.Event(
        wall_time=wall_time, step=step, summary=summary_pb2.Summary(value=values)
    ).SerializeToString()


_tags = st.text(alphabet=st.sampled_from("ab/_é0"), min_size=0, max_size=12)
_floats = st.floats(width=32, allow_nan=True, allow_infinity=True)
_steps = st.one_of(st.integers(0, 300), st.integers(-(2**63), 2**63 - 1))
_walls = st.one_of(st.just(1.7e9), st.floats(allow_nan=False, allow_infinity=False))


@st.composite
def _records(draw: Any) -> bytes:
    kind = draw(
        st.sampled_from(["legacy", "legacy", "legacy", "multi", "tensor", "metadata", "text", "other"])
    )
    wall, step = draw(_walls), draw(_steps)
    if kind == "legacy":
        return _event(wall, step, [summary_pb2.Summary.Value(tag=draw(_tags), simple_value=draw(_floats))])
    if kind == "multi":
        count = draw(st.integers(1, 4))
        values = [
            summary_pb2.Summary.Value(tag=draw(_tags), simple_value=draw(_floats)) for _ in range(count)
        ]
        return _event(wall, step, values)
    if kind in ("tensor", "metadata"):
        value = summary_pb2.Summary.Value(tag=draw(_tags))
        if draw(st.booleans()):
            value.metadata.plugin_data.plugin_name = "scalars"
        if kind == "tensor":
            value.tensor.dtype = 2
            value.tensor.double_val.append(draw(st.floats(allow_nan=False)))
        else:
            value.simple_value = draw(_floats)
        return _event(wall, step, [value])
    if kind == "text":
        value = summary_pb2.Summary.Value(tag=draw(_tags))
        value.metadata.plugin_data.plugin_name = "text"
        value.tensor.dtype = 7
        value.tensor.string_val.append(b"hi")
        return _event(wall, step, [value])
    return event_pb2.Event(wall_time=wall, step=step, file_version="brain.Event:2").SerializeToString()


@settings(
    max_examples=int(os.environ.get("TBLOG_HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    files=st.lists(
        st.tuples(st.lists(_records(), max_size=40), st.integers(1, 200), st.integers(0, 3)),
        min_size=1,
        max_size=3,
    ),
    repeat=st.integers(0, 300),
)
def test_bulk_decoder_equals_protobuf(
    tmp_path_factory: pytest.TempPathFactory, files: Any, repeat: int
) -> None:
    """Any mix of events (repeated into long cycles) reads as a record-by-record protobuf read does."""
    logdir = tmp_path_factory.mktemp("mix")
    for number, (records, copies, damage) in enumerate(files):
        body = [frame(r) for r in records] * (copies if repeat else 1)
        body += [
            frame(_event(1.0, i % 300, [summary_pb2.Summary.Value(tag="r", simple_value=i)]))
            for i in range(repeat)
        ]
        data = bytearray(b"".join(body))
        if damage == 1 and len(data) > 40:
            data[len(data) // 2] ^= 0x5A  # a corrupted byte somewhere
        if damage == 2 and len(data) > 10:
            del data[-7:]  # a truncated tail
        (logdir / f"run{number % 2}").mkdir(exist_ok=True)
        (logdir / f"run{number % 2}" / f"events.out.tfevents.{number}.host").write_bytes(bytes(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorruptRecordWarning)
        table = read.scalars(logdir, dataframe=False)
    assert _same_rows(_rows(table, *KEY_COLUMNS, "value"), _reference_scalars(logdir))


def test_bulk_decoder_across_pieces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Files read in pieces smaller than a record (and than the file) give the same rows."""
    with tblog.SummaryWriter(tmp_path) as writer:
        for step in range(3000):
            writer.add_scalar(f"t{step % 7}", step * 0.5, step)
            if step % 500 == 0:
                writer.add_text("long", "x" * 5000, step)
        writer.log({f"m{k}": float(k) for k in range(30)}, 3001)
    whole = read.scalars(tmp_path, dataframe=False)
    monkeypatch.setattr(fast_scalars, "_PIECE", 1000)
    pieces = read.scalars(tmp_path, dataframe=False)
    assert len(whole["tag"]) == 3030
    for name in whole:
        assert whole[name].tolist() == pieces[name].tolist()
    assert _same_rows(_rows(pieces, *KEY_COLUMNS, "value"), _reference_scalars(tmp_path))


def test_corrupted_records_are_reported_as_by_the_record_reader(tmp_path: Path) -> None:
    """A bad payload CRC is reported with its byte offset and skipped; a bad length ends the file."""
    records = [
        frame(_event(1.0, s, [summary_pb2.Summary.Value(tag="x", simple_value=s)])) for s in range(200)
    ]
    broken = bytearray(records[150])
    broken[-6] ^= 1  # in the float: the record still matches the layout, only its CRC is wrong
    data = b"".join(records[:150]) + bytes(broken) + b"".join(records[151:])
    offset = sum(len(r) for r in records[:150])
    (tmp_path / "events.out.tfevents.1.a").write_bytes(data)
    with pytest.warns(
        CorruptRecordWarning, match=rf"corrupted record at byte {offset} \(\d+ bytes\) skipped"
    ):
        table = read.scalars(tmp_path, dataframe=False)
    assert table["step"].tolist() == [s for s in range(200) if s != 150]
    with pytest.raises(CorruptRecordError):
        read.scalars(tmp_path, on_corrupt="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(read.scalars(tmp_path, on_corrupt="skip", dataframe=False)["step"]) == 199
    bad_length = bytearray(data)
    bad_length[offset + 3] ^= 1
    (tmp_path / "events.out.tfevents.1.a").write_bytes(bytes(bad_length))
    with pytest.warns(CorruptRecordWarning, match=rf"corrupted record length at byte {offset}"):
        assert read.scalars(tmp_path, dataframe=False)["step"].tolist() == list(range(150))


def test_scalars_from_an_fsspec_url(tmp_path: Path) -> None:
    """A memory:// URL reads through fsspec with the same rows as the local copy."""
    fsspec = pytest.importorskip("fsspec")
    with tblog.SummaryWriter(tmp_path / "r") as writer:
        for step in range(100):
            writer.add_scalar("x", step, step)
    fs = fsspec.filesystem("memory")
    for file in read.event_files(tmp_path):
        fs.pipe(f"/tables-test/r/{os.path.basename(file)}", Path(file).read_bytes())
    table = read.scalars("memory://tables-test", dataframe=False)
    assert _rows(table, "run", "step", "value") == [("r", s, float(s)) for s in range(100)]


def test_step_varints_of_every_length(tmp_path: Path) -> None:
    """Steps from 0 to int64 extremes (varints of 0 to 10 bytes) read back exactly."""
    steps = [0, 1, 127, 128, 2**14, 2**21 - 1, 2**35, 2**62, 2**63 - 1, -1, -(2**63)]
    records = [
        frame(_event(2.0, s, [summary_pb2.Summary.Value(tag="s", simple_value=1.0)])) for s in steps
    ] * 50
    (tmp_path / "events.out.tfevents.1.a").write_bytes(b"".join(records))
    assert read.scalars(tmp_path, dataframe=False)["step"].tolist() == steps * 50


def test_first_metadata_of_a_tag_decides_its_table(tmp_path: Path) -> None:
    """A tag first logged as a plain scalar is no text later (TensorBoard keeps its first metadata)."""

    def text_value(tag: str) -> Any:
        value = summary_pb2.Summary.Value(tag=tag)
        value.metadata.plugin_data.plugin_name = "text"
        value.tensor.dtype = 7
        value.tensor.string_val.append(b"words")
        return value

    records = [_event(1.0, s, [summary_pb2.Summary.Value(tag="t", simple_value=s)]) for s in range(100)]
    records += [_event(2.0, 5, [text_value("t")]), _event(2.0, 6, [text_value("u")])]
    (tmp_path / "events.out.tfevents.1.a").write_bytes(b"".join(frame(r) for r in records))
    assert _rows(read.texts(tmp_path, dataframe=False), "tag", "step", "text") == [("u", 6, "words")]
    assert read.scalars(tmp_path, tags="u", dataframe=False)["step"].tolist() == []


def test_readme_reading_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's "Reading logs back" snippet runs as written on the demo's log directory."""
    pytest.importorskip("pandas")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Reading logs back", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    from tblog import demo

    demo.main(["--logdir", os.fspath(tmp_path / "runs" / "demo"), "--steps", "200", "-q"])
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["df"]["step"].min() >= 100 and "val/loss" in namespace["curves"].columns
    assert set(namespace["hist"]["tag"]) == {"params/w1", "params/w2"}
    assert namespace["pixels"].ndim == 3 and namespace["pixels"].dtype == np.uint8
    assert namespace["trials"]["run"].tolist() == ["."]
    assert set(namespace["losses"]["run"]) == {"demo/loss_train", "demo/loss_val"}


def test_a_lone_corrupted_record_is_skipped(tmp_path: Path) -> None:
    """A corrupted scalar record alone in its length group is reported, and the file reads on."""
    lone = bytearray(frame(_event(1.0, 1, [summary_pb2.Summary.Value(tag="lonely", simple_value=1.0)])))
    lone[-6] ^= 1
    good = frame(_event(1.0, 2, [summary_pb2.Summary.Value(tag="x", simple_value=2.0)]))
    (tmp_path / "events.out.tfevents.1.a").write_bytes(bytes(lone) + good)
    with pytest.warns(CorruptRecordWarning, match="corrupted record at byte 0"):
        table = read.scalars(tmp_path, dataframe=False)
    assert _rows(table, "tag", "step", "value") == [("x", 2, 2.0)]


def test_missing_optional_packages_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without pandas the tables are dicts (dataframe=True names the extra); decode_image names 'image'."""
    import sys

    monkeypatch.setitem(sys.modules, "pandas", None)  # makes `import pandas` fail
    assert isinstance(read.texts(TF_FIXTURES), dict)
    with pytest.raises(ImportError, match=r"read.scalars\(dataframe=True\) needs pandas: .*tblog\[pandas\]"):
        read.scalars(TF_FIXTURES, dataframe=True)
    encoded = read.images(TF_FIXTURES)["encoded"][0]
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r"decode_image needs Pillow: pip install 'tblog\[image\]'"):
        read.decode_image(encoded)


@settings(max_examples=int(os.environ.get("TBLOG_HYPOTHESIS_EXAMPLES", "60")), deadline=None)
@given(
    cycle=st.lists(st.binary(max_size=40), min_size=1, max_size=6),
    repeats=st.integers(1, 400),
    extra=st.lists(st.binary(max_size=300), max_size=5),
    cut=st.integers(0, 30),
    flip=st.one_of(st.none(), st.integers(0, 10**6)),
)
def test_record_splitting_equals_the_record_reader(
    cycle: list[bytes], repeats: int, extra: list[bytes], cut: int, flip: int | None
) -> None:
    """The bulk record splitter finds exactly the records (and corruption) read_records finds."""
    import io

    from tblog.events.record import read_records

    data = bytearray(b"".join(frame(p) for p in cycle * repeats + extra))
    del data[len(data) - min(cut, len(data)) :]
    if flip is not None and data:
        data[flip % len(data)] ^= 0x10
    buf = bytes(data)
    with warnings.catch_warnings(record=True) as expected_warnings:
        warnings.simplefilter("always")
        expected = list(read_records(io.BytesIO(buf)))
    with warnings.catch_warnings(record=True) as got_warnings:
        warnings.simplefilter("always")
        split = scan.split_records(buf, "<stream>")
        starts, lengths = split.records
        intact = scan.payload_crc_ok(buf, starts, lengths) if len(starts) else np.zeros(0, dtype=bool)
        scan.report_bad(starts[~intact], lengths[~intact], "<stream>", "warn", 0)
    got = [buf[s : s + n] for s, n in zip(starts[intact].tolist(), lengths[intact].tolist(), strict=True)]
    assert got == expected
    assert sorted(str(w.message) for w in got_warnings) == sorted(str(w.message) for w in expected_warnings)
