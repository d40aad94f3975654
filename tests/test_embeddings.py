"""add_embedding: files read back through TensorBoard's own projector plugin (its HTTP routes)."""

from __future__ import annotations

import io
import json
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import tensorboard_plugin

import tblog


def _projector_routes(logdir: Path) -> Any:
    """``get(route, **query)`` → (status, body) on a fresh ProjectorPlugin over ``logdir``."""
    from tensorboard.plugins.projector import projector_plugin

    return tensorboard_plugin(projector_plugin.ProjectorPlugin, logdir).get


def _config(get: Any, run: str = "run") -> dict[str, dict[str, Any]]:
    """The run's embeddings as the plugin serves them (JSON), by tensor name."""
    status, body = get("/info", run=run)
    assert status == 200, body
    return {e["tensorName"]: e for e in json.loads(body)["embeddings"]}


def _tensor(get: Any, name: str, shape: tuple[int, int], run: str = "run") -> np.ndarray:
    status, body = get("/tensor", run=run, name=name)
    assert status == 200, body
    return np.frombuffer(body, np.float32).reshape(shape)


def _metadata(get: Any, name: str, run: str = "run") -> str:
    status, body = get("/metadata", run=run, name=name)
    assert status == 200, body
    return str(body.decode("utf-8"))


def _sprite(get: Any, name: str, run: str = "run") -> np.ndarray:
    image = pytest.importorskip("PIL.Image")
    status, body = get("/sprite_image", run=run, name=name)
    assert status == 200, body
    return np.asarray(image.open(io.BytesIO(body)))


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.tensorboard
def test_embedding_round_trips_through_the_projector_plugin(tmp_path: Path) -> None:
    """Config entry, tensor values, labels and sprite pixels come back from the projector's routes."""
    rng = np.random.default_rng(0)
    mat = rng.standard_normal((9, 5)).astype(np.float32)
    labels = [f"point {i}" for i in range(9)]
    images = rng.integers(0, 256, (9, 3, 4, 4)).astype(np.uint8)
    with tblog.SummaryWriter(tmp_path / "run") as writer:
        writer.add_embedding(mat, metadata=labels, label_img=images, global_step=12, tag="words")
    get = _projector_routes(tmp_path)
    assert json.loads(get("/runs")[1]) == ["run"]
    assert _config(get) == {
        "words:00012": {
            "tensorName": "words:00012",
            "tensorPath": "00012/words/tensors.tsv",
            "tensorShape": [9, 5],
            "metadataPath": "00012/words/metadata.tsv",
            "sprite": {"imagePath": "00012/words/sprite.png", "singleImageDim": [4, 4]},
        }
    }
    np.testing.assert_array_equal(_tensor(get, "words:00012", (9, 5)), mat)
    assert _metadata(get, "words:00012") == "".join(f"{label}\n" for label in labels)
    sprite = _sprite(get, "words:00012")
    assert sprite.shape == (12, 12, 3)  # 3 x 3 tiles of 4 x 4
    for i in range(9):
        row, col = divmod(i, 3)
        np.testing.assert_array_equal(
            sprite[row * 4 : row * 4 + 4, col * 4 : col * 4 + 4], images[i].transpose(1, 2, 0)
        )


@pytest.mark.tensorboard
def test_multi_column_metadata_has_a_header_row(tmp_path: Path) -> None:
    """With metadata_header the TSV starts with the header and has one tab-separated row per point."""
    rows = [[i, f"name{i}", i % 2 == 0] for i in range(4)]
    with tblog.SummaryWriter(tmp_path / "run") as writer:
        writer.add_embedding(np.eye(4), metadata=rows, metadata_header=["index", "name", "even"])
        writer.add_embedding(
            np.eye(4), metadata=np.arange(8).reshape(4, 2), metadata_header=("a", "b"), tag="np"
        )
    get = _projector_routes(tmp_path)
    assert _metadata(get, "default:00000") == (
        "index\tname\teven\n0\tname0\tTrue\n1\tname1\tFalse\n2\tname2\tTrue\n3\tname3\tFalse\n"
    )
    assert _metadata(get, "np:00000") == "a\tb\n0\t1\n2\t3\n4\t5\n6\t7\n"
    status, body = get("/metadata", run="run", name="default:00000", num_rows=2)
    assert body.decode() == "index\tname\teven\n0\tname0\tTrue\n1\tname1\tFalse\n"


@pytest.mark.tensorboard
def test_label_kinds_are_written_as_text(tmp_path: Path) -> None:
    """Numbers, bytes and NumPy labels are written as plain text, one per line."""
    with tblog.SummaryWriter(tmp_path / "run") as writer:
        writer.add_embedding(np.ones((4, 2)), metadata=[1, 2.5, b"bytes", "str"], tag="mixed")
        writer.add_embedding(np.ones((3, 2)), metadata=np.array([7, 8, 9]), tag="array")
    get = _projector_routes(tmp_path)
    assert _metadata(get, "mixed:00000") == "1\n2.5\nbytes\nstr\n"
    assert _metadata(get, "array:00000") == "7\n8\n9\n"


@pytest.mark.tensorboard
def test_tensor_values_round_trip_exactly(tmp_path: Path) -> None:
    """float64 rows round-trip exactly in tensors.tsv; float32 exactly as served; ints as ints."""
    rng = np.random.default_rng(1)
    f64 = rng.standard_normal((20, 3)) * 10.0 ** rng.integers(-20, 20, (20, 3))
    f32 = f64.astype(np.float32)
    ints = rng.integers(-1000, 1000, (5, 4))
    with tblog.SummaryWriter(tmp_path / "run") as writer:
        writer.add_embedding(f64, tag="f64")
        writer.add_embedding(f32, tag="f32")
        writer.add_embedding(ints, tag="ints")
    text = (tmp_path / "run" / "00000" / "f64" / "tensors.tsv").read_text()
    parsed = np.array([[float(x) for x in line.split("\t")] for line in text.splitlines()])
    np.testing.assert_array_equal(parsed, f64)
    get = _projector_routes(tmp_path)
    np.testing.assert_array_equal(_tensor(get, "f64:00000", (20, 3)), f32)
    np.testing.assert_array_equal(_tensor(get, "f32:00000", (20, 3)), f32)
    np.testing.assert_array_equal(_tensor(get, "ints:00000", (5, 4)), ints.astype(np.float32))
    assert (tmp_path / "run" / "00000" / "ints" / "tensors.tsv").read_text().splitlines()[0] == "\t".join(
        str(v) for v in ints[0]
    )


@pytest.mark.tensorboard
def test_config_is_merged_across_calls_and_writers(tmp_path: Path) -> None:
    """Embeddings of other tags, steps and writers (torch's too) stay in projector_config.pbtxt."""
    run = tmp_path / "run"
    with tblog.SummaryWriter(run) as writer:
        writer.add_embedding(np.ones((3, 2)), tag="a")
        writer.add_embedding(np.ones((3, 2)), tag="b", global_step=1)
    with tblog.SummaryWriter(run) as writer:  # a second writer, as after a restart
        writer.add_embedding(np.ones((3, 2)), tag="a", global_step=2)
    names = set(_config(_projector_routes(tmp_path)))
    assert names == {"a:00000", "b:00001", "a:00002"}


@pytest.mark.tensorboard
def test_same_tag_and_step_replaces_its_entry_and_files(tmp_path: Path) -> None:
    """The same tag and step again replaces its entry (no duplicate) and removes files it no longer has."""
    run = tmp_path / "run"
    with tblog.SummaryWriter(run) as writer:
        writer.add_embedding(
            np.zeros((4, 2)), metadata=list("abcd"), label_img=np.zeros((4, 1, 2, 2)), tag="x"
        )
        writer.add_embedding(np.ones((3, 3)), tag="other")
        writer.add_embedding(np.full((2, 5), 7.0), tag="x")
    config = _config(get := _projector_routes(tmp_path))
    assert list(config) == ["x:00000", "other:00000"]
    assert "metadataPath" not in config["x:00000"] and "sprite" not in config["x:00000"]
    assert sorted(os.listdir(run / "00000" / "x")) == ["tensors.tsv"]
    np.testing.assert_array_equal(_tensor(get, "x:00000", (2, 5)), np.full((2, 5), 7.0))
    assert (run / "projector_config.pbtxt").read_text().count("tensor_name") == 2


@pytest.mark.tensorboard
def test_config_written_by_others_is_kept(tmp_path: Path) -> None:
    """Fields and embeddings tblog did not write (a checkpoint path, bookmarks) survive a merge."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "projector_config.pbtxt").write_text(
        'model_checkpoint_dir: "ckpt"\nembeddings {\n  tensor_name: "theirs"\n  bookmarks_path: "b.json"\n}\n'
    )
    with tblog.SummaryWriter(run) as writer:
        writer.add_embedding(np.ones((2, 2)), tag="ours")
    from google.protobuf import text_format
    from tensorboard.plugins.projector import projector_config_pb2

    config = text_format.Parse(
        (run / "projector_config.pbtxt").read_text(), projector_config_pb2.ProjectorConfig()
    )
    assert config.model_checkpoint_dir == "ckpt"
    assert [(e.tensor_name, e.bookmarks_path) for e in config.embeddings] == [
        ("theirs", "b.json"),
        ("ours:00000", ""),
    ]


def test_unreadable_existing_config_is_not_overwritten(tmp_path: Path) -> None:
    """A projector_config.pbtxt that does not parse raises a clear error and is left as it was."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "projector_config.pbtxt").write_text("this is { not a config")
    with tblog.SummaryWriter(run) as writer:
        with pytest.raises(ValueError, match="projector_config.pbtxt exists but could not be read"):
            writer.add_embedding(np.ones((2, 2)))
        writer.add_scalar("still", 1.0)
    assert (run / "projector_config.pbtxt").read_text() == "this is { not a config"
    assert not (run / "00000").exists()


@pytest.mark.parametrize(
    "tag",
    [
        "../../x",
        "..",
        ".",
        "../x",
        "a/../../b",
        "a/./b",
        "/abs/x",
        "\\..\\x",
        "..\\x",
        "C:\\x",
        "c:x",
        "x\n",
        "a\x00b",
    ],
)
@pytest.mark.tensorboard
def test_tags_that_leave_the_log_dir_are_refused(tmp_path: Path, tag: str) -> None:
    """A tag reading as a path out of the log dir, or with control characters: ValueError, nothing written."""
    run = tmp_path / "logs" / "run"
    with tblog.SummaryWriter(run) as writer:
        before = _files(tmp_path)
        with pytest.raises(ValueError, match=r"tag .* must not"):
            writer.add_embedding(np.ones((2, 2)), metadata=["a", "b"], tag=tag)
        assert _files(tmp_path) == before
        writer.add_embedding(np.ones((2, 2)), tag="fine")  # the writer is still usable
        writer.add_scalar("loss", 1.0)
    assert set(_config(_projector_routes(tmp_path / "logs"))) == {"fine:00000"}


@pytest.mark.tensorboard
def test_tags_with_slashes_stay_one_directory(tmp_path: Path) -> None:
    """'/', '\\' and '%' in tags are escaped into one directory name as torch does; the name is kept."""
    run = tmp_path / "run"
    with tblog.SummaryWriter(run) as writer:
        writer.add_embedding(np.ones((2, 2)), tag="layer/1\\emb%", global_step=3)
    assert sorted(os.listdir(run / "00003")) == ["layer%2f1%5cemb%25"]
    config = _config(_projector_routes(tmp_path))
    assert config["layer/1\\emb%:00003"]["tensorPath"] == "00003/layer%2f1%5cemb%25/tensors.tsv"


@pytest.mark.tensorboard
def test_sprite_layout_for_non_square_and_gray_and_rgba_images(tmp_path: Path) -> None:
    """Sprites tile row by row in a ceil(sqrt(N))² grid of H x W cells, gray → RGB; RGBA kept."""
    rng = np.random.default_rng(3)
    gray = rng.random((5, 1, 2, 3))  # float in [0, 1]
    rgba = rng.integers(0, 256, (2, 4, 3, 2)).astype(np.uint8)
    with tblog.SummaryWriter(tmp_path / "run") as writer:
        writer.add_embedding(np.ones((5, 2)), label_img=gray, tag="gray")
        writer.add_embedding(np.ones((2, 2)), label_img=rgba, tag="rgba")
    get = _projector_routes(tmp_path)
    assert _config(get)["gray:00000"]["sprite"]["singleImageDim"] == [3, 2]  # [width, height]
    sprite = _sprite(get, "gray:00000")
    assert sprite.shape == (6, 9, 3)  # 3 x 3 cells of 2 x 3
    expected = np.rint(gray[:, 0] * 255).astype(np.uint8)
    for i in range(9):
        row, col = divmod(i, 3)
        cell = sprite[row * 2 : row * 2 + 2, col * 3 : col * 3 + 3]
        if i < 5:
            for channel in range(3):
                np.testing.assert_array_equal(cell[:, :, channel], expected[i])
        else:
            assert not cell.any()
    sprite = _sprite(get, "rgba:00000")
    assert sprite.shape == (6, 4, 4)
    np.testing.assert_array_equal(sprite[0:3, 0:2], rgba[0].transpose(1, 2, 0))
    np.testing.assert_array_equal(sprite[0:3, 2:4], rgba[1].transpose(1, 2, 0))
    assert not sprite[3:].any()


@pytest.mark.tensorboard
def test_concurrent_calls_keep_every_embedding(tmp_path: Path) -> None:
    """Threads adding embeddings at once, through two writers of one dir, lose no config entry."""
    run = tmp_path / "run"
    errors: list[BaseException] = []
    with tblog.SummaryWriter(run) as first, tblog.SummaryWriter(run) as second:

        def work(k: int) -> None:
            try:
                for j in range(5):
                    (first if k % 2 else second).add_embedding(np.full((3, 2), k), tag=f"t{k}", global_step=j)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
    assert set(_config(_projector_routes(tmp_path))) == {f"t{k}:{j:05}" for k in range(6) for j in range(5)}
    assert not [n for n in os.listdir(run) if n.endswith(".tmp")]


_BAD: list[tuple[str, dict[str, Any], type[Exception], str]] = [
    ("mat 1-D", {"mat": np.ones(4)}, ValueError, r"mat must be 2-D \[N, D\]"),
    ("mat 3-D", {"mat": np.ones((4, 2, 2))}, ValueError, r"mat must be 2-D"),
    (
        "mat no rows",
        {"mat": np.ones((0, 2)), "metadata": None, "label_img": None},
        ValueError,
        r"at least one",
    ),
    ("mat no columns", {"mat": np.ones((4, 0))}, ValueError, r"mat must hold at least one point"),
    ("mat str", {"mat": "abcd"}, TypeError, r"mat must be a \[N, D\] array"),
    ("mat strings", {"mat": np.array([["a", "b"]] * 4)}, TypeError, r"mat must hold real numbers"),
    ("mat complex", {"mat": np.ones((4, 2), complex)}, TypeError, r"mat must hold real numbers"),
    ("mat NaN", {"mat": np.array([[1.0, 2.0]] * 3 + [[np.nan, 0.0]])}, ValueError, r"row 3 holds NaN or inf"),
    ("mat inf", {"mat": np.full((4, 2), np.inf)}, ValueError, r"mat must be finite"),
    ("metadata length", {"metadata": ["a", "b"]}, ValueError, r"mat has 4 rows, metadata has 2"),
    ("metadata not a list", {"metadata": "abcd"}, TypeError, r"metadata must be a list"),
    ("metadata tab", {"metadata": ["a", "b\tc", "d", "e"]}, ValueError, r"metadata\[1\] must not hold a tab"),
    ("metadata newline", {"metadata": ["a", "b", "c\n", "e"]}, ValueError, r"metadata\[2\] must not hold"),
    ("metadata blank", {"metadata": ["a", " ", "c", "d"]}, ValueError, r"metadata\[1\] is empty or blank"),
    ("metadata rows no header", {"metadata": [[1, 2]] * 4}, TypeError, r"needs metadata_header"),
    ("header 1 column", {"metadata": [[1]] * 4, "metadata_header": ["x"]}, ValueError, r"at least 2 columns"),
    (
        "header mismatch",
        {"metadata": [[1, 2]] * 4, "metadata_header": ["x", "y", "z"]},
        ValueError,
        r"has 2 values",
    ),
    (
        "header str rows",
        {"metadata": list("abcd"), "metadata_header": ["x", "y"]},
        TypeError,
        r"must be a row of 2",
    ),
    (
        "header no metadata",
        {"metadata": None, "metadata_header": ["x", "y"]},
        ValueError,
        r"without metadata",
    ),
    (
        "label_img count",
        {"label_img": np.zeros((3, 3, 2, 2))},
        ValueError,
        r"mat has 4 rows, label_img has 3",
    ),
    (
        "label_img rank",
        {"label_img": np.zeros((4, 2, 2))},
        ValueError,
        r"label_img must have shape \[N, C, H, W\]",
    ),
    ("label_img channels", {"label_img": np.zeros((4, 2, 2, 2))}, ValueError, r"1, 3 or 4 channels"),
    ("label_img NaN", {"label_img": np.full((4, 3, 2, 2), np.nan)}, ValueError, r"label_img must be finite"),
    (
        "label_img 300",
        {"label_img": np.full((4, 3, 2, 2), 300)},
        ValueError,
        r"integer label_img must lie in",
    ),
    (
        "sprite too big",
        {"label_img": np.broadcast_to(np.zeros((1, 1, 1, 1), np.uint8), (4, 1, 5000, 5000))},
        ValueError,
        r"at most 8192x8192",
    ),
    ("tag not str", {"tag": 5}, TypeError, r"tag must be a str"),
    ("empty tag", {"tag": ""}, ValueError, r"tag must not be empty"),
    ("step not int", {"global_step": "../x"}, TypeError, r"global_step must be an int"),
]


@pytest.mark.parametrize(("case", "change", "error", "match"), _BAD, ids=[c[0] for c in _BAD])
@pytest.mark.tensorboard
def test_bad_embedding_input_is_refused_and_writer_stays_usable(
    tmp_path: Path, case: str, change: dict[str, Any], error: type, match: str
) -> None:
    """Bad mat, metadata, label_img, tag or step: a clear error naming it, no files, the writer goes on."""
    args = {"mat": np.ones((4, 2)), "metadata": list("abcd"), "label_img": np.zeros((4, 3, 2, 2)), **change}
    run = tmp_path / "run"
    with tblog.SummaryWriter(run) as writer:
        with pytest.raises(error, match=match):
            writer.add_embedding(**args)
        assert not (run / "projector_config.pbtxt").exists() and not (run / "00000").exists()
        writer.add_embedding(np.ones((4, 2)), metadata=list("abcd"), tag="good")
    assert set(_config(_projector_routes(tmp_path))) == {"good:00000"}


@pytest.mark.framework
@pytest.mark.tensorboard
def test_torch_parity(tmp_path: Path) -> None:
    """torch.utils.tensorboard and tblog write the same entries, tensors, labels and (square) sprites."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("PIL")
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    rng = np.random.default_rng(4)
    mat = torch.from_numpy(rng.standard_normal((10, 6)).astype(np.float32))
    labels = [f"w{i}" for i in range(10)]
    rows = [[i, f"n{i}"] for i in range(10)]
    images = torch.from_numpy(rng.integers(0, 256, (10, 3, 5, 5)).astype(np.float32) / 255)
    with TorchWriter(str(tmp_path / "torch")) as theirs, tblog.SummaryWriter(tmp_path / "tblog") as ours:
        for writer in (theirs, ours):
            writer.add_embedding(mat, metadata=labels, label_img=images, global_step=3, tag="a/b")
            writer.add_embedding(mat * 2, metadata=rows, metadata_header=["i", "name"])
    get = _projector_routes(tmp_path)
    ours_config, theirs_config = _config(get, "tblog"), _config(get, "torch")
    assert list(ours_config) == list(theirs_config) == ["a/b:00003", "default:00000"]
    for name, shape in (("a/b:00003", (10, 6)), ("default:00000", (10, 6))):
        assert ours_config[name] == theirs_config[name]  # the plugin fills in tensorShape for torch's
        np.testing.assert_array_equal(_tensor(get, name, shape, "tblog"), _tensor(get, name, shape, "torch"))
        assert _metadata(get, name, "tblog") == _metadata(get, name, "torch")
    ours_sprite, theirs_sprite = _sprite(get, "a/b:00003", "tblog"), _sprite(get, "a/b:00003", "torch")
    assert ours_sprite.shape == theirs_sprite.shape == (20, 20, 3)
    # torch truncates x * 255 to uint8; tblog rounds: they differ by at most one level.
    assert np.abs(ours_sprite.astype(int) - theirs_sprite.astype(int)).max() <= 1


@pytest.mark.framework
@pytest.mark.tensorboard
def test_torch_and_jax_inputs(tmp_path: Path) -> None:
    """torch tensors and JAX arrays work for mat, labels and images; tensor labels are written as numbers."""
    torch = pytest.importorskip("torch")
    jnp = pytest.importorskip("jax.numpy")
    mat = np.arange(12, dtype=np.float32).reshape(4, 3)
    with tblog.SummaryWriter(tmp_path / "run") as writer:
        writer.add_embedding(
            torch.from_numpy(mat),
            metadata=torch.tensor([3, 1, 4, 1]),
            label_img=torch.rand(4, 3, 2, 2),
            tag="t",
        )
        writer.add_embedding(torch.from_numpy(mat).to(torch.bfloat16), tag="bf16")
        writer.add_embedding(
            jnp.asarray(mat), metadata=jnp.array([2, 7, 1, 8]), label_img=jnp.zeros((4, 1, 2, 2)), tag="j"
        )
    get = _projector_routes(tmp_path)
    for name in ("t:00000", "j:00000", "bf16:00000"):
        np.testing.assert_array_equal(_tensor(get, name, (4, 3)), mat)
    assert _metadata(get, "t:00000") == "3\n1\n4\n1\n"
    assert _metadata(get, "j:00000") == "2\n7\n1\n8\n"
    assert _sprite(get, "j:00000").shape == (4, 4, 3)


def test_files_on_disk_without_tensorboard(tmp_path: Path) -> None:
    """Without tensorboard: config parses with tblog's proto; the TSV files hold the expected text."""
    from google.protobuf import text_format

    from tblog.proto import projector_config_pb2

    run = tmp_path / "run"
    with tblog.SummaryWriter(run) as writer:
        writer.add_embedding(
            np.array([[1.5, -2.0], [0.25, 3.0]]), metadata=["x", "y"], global_step=4, tag="e"
        )
        writer.add_embedding(
            np.eye(2, dtype=np.int32), metadata=[[1, "a"], [2, "b"]], metadata_header=["n", "s"]
        )
    config = text_format.Parse(
        (run / "projector_config.pbtxt").read_text(), projector_config_pb2.ProjectorConfig()
    )
    assert [
        (e.tensor_name, e.tensor_path, e.metadata_path, list(e.tensor_shape)) for e in config.embeddings
    ] == [
        ("e:00004", "00004/e/tensors.tsv", "00004/e/metadata.tsv", [2, 2]),
        ("default:00000", "00000/default/tensors.tsv", "00000/default/metadata.tsv", [2, 2]),
    ]
    assert (run / "00004" / "e" / "tensors.tsv").read_text() == "1.5\t-2.0\n0.25\t3.0\n"
    assert (run / "00004" / "e" / "metadata.tsv").read_text() == "x\ny\n"
    assert (run / "00000" / "default" / "tensors.tsv").read_text() == "1\t0\n0\t1\n"
    assert (run / "00000" / "default" / "metadata.tsv").read_text() == "n\ts\n1\ta\n2\tb\n"


@pytest.mark.parametrize("tag", ["../../x", "..", "/abs", "a/../../b", "..\\..\\x"])
def test_path_escapes_refused_without_tensorboard(tmp_path: Path, tag: str) -> None:
    """The tag check needs no tensorboard: ValueError naming the tag, no file anywhere under tmp_path."""
    run = tmp_path / "a" / "run"
    with tblog.SummaryWriter(run) as writer:
        before = _files(tmp_path)
        with pytest.raises(ValueError, match="tag"):
            writer.add_embedding(np.ones((2, 2)), tag=tag)
        assert _files(tmp_path) == before
