"""add_mesh: read back through TensorBoard's own mesh plugin (its HTTP routes) and EventAccumulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import tensorboard_plugin

import tblog


def _mesh_routes(logdir: Path) -> Any:
    """``get(route, **query)`` → (status, body) on TensorBoard's MeshPlugin over ``logdir``."""
    from tensorboard.plugins.mesh import mesh_plugin

    return tensorboard_plugin(mesh_plugin.MeshPlugin, logdir).get


def _data(get: Any, run: str, tag: str, part: str, step: int, sample: int = 0) -> np.ndarray:
    dtype = {"VERTEX": np.float32, "FACE": np.int32, "COLOR": np.uint8}[part]
    status, body = get("/data", run=run, tag=tag, content_type=part, step=step, sample=sample)
    assert status == 200, body
    return np.frombuffer(body, dtype).reshape(-1, 3)


def _tetrahedron(batch: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    vertices = rng.standard_normal((batch, 4, 3)).astype(np.float32)
    colors = rng.integers(0, 256, (batch, 4, 3)).astype(np.uint8)
    faces = np.tile(np.array([[0, 2, 3], [0, 3, 1], [0, 1, 2], [1, 3, 2]], np.int32), (batch, 1, 1))
    return vertices, colors, faces


@pytest.mark.tensorboard
def test_mesh_round_trips_through_the_mesh_plugin(tmp_path: Path) -> None:
    """Vertices, faces, colors and the scene config come back from the mesh plugin's routes as logged."""
    vertices, colors, faces = _tetrahedron()
    config = {"camera": {"cls": "PerspectiveCamera", "fov": 75}, "lights": [{"cls": "AmbientLight"}]}
    with tblog.SummaryWriter(tmp_path / "run") as writer:
        writer.add_mesh(
            "solid", vertices, colors=colors, faces=faces, config_dict=config, global_step=7, walltime=1.5e9
        )
    get = _mesh_routes(tmp_path)
    status, body = get("/tags")
    assert status == 200
    assert json.loads(body) == {"run": {"solid": {"samples": 2}}}
    status, body = get("/meshes", run="run", tag="solid")
    metas = json.loads(body)
    assert sorted(m["content_type"] for m in metas) == [1, 2, 3]
    for meta in metas:
        assert meta["step"] == 7 and meta["wall_time"] == 1.5e9
        assert meta["components"] == (1 << 1) | (1 << 2) | (1 << 3)
        assert json.loads(meta["config"]) == config
        assert meta["data_shape"] == [2, 4, 3]
    for sample in range(2):
        np.testing.assert_array_equal(_data(get, "run", "solid", "VERTEX", 7, sample), vertices[sample])
        np.testing.assert_array_equal(_data(get, "run", "solid", "FACE", 7, sample), faces[sample])
        np.testing.assert_array_equal(_data(get, "run", "solid", "COLOR", 7, sample), colors[sample])


@pytest.mark.tensorboard
def test_mesh_tags_dtypes_and_metadata_in_event_accumulator(tmp_path: Path, event_accumulator: Any) -> None:
    """Each part is a tensor under <tag>_VERTEX/_FACE/_COLOR with float32/int32/uint8 and MeshPluginData."""
    from tensorboard.plugins.mesh import metadata
    from tensorboard.util import tensor_util

    vertices, colors, faces = _tetrahedron(batch=1)
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_mesh("m", vertices, colors, faces, global_step=3)
    acc = event_accumulator(tmp_path)
    assert sorted(acc.Tags()["tensors"]) == ["m_COLOR", "m_FACE", "m_VERTEX"]
    expected = {"m_VERTEX": (1, vertices), "m_FACE": (2, faces), "m_COLOR": (3, colors)}
    for tag, (content_type, array) in expected.items():
        (event,) = acc.Tensors(tag)
        assert event.step == 3
        value = tensor_util.make_ndarray(event.tensor_proto)
        assert value.dtype == array.dtype
        np.testing.assert_array_equal(value, array)
        summary_metadata = acc.SummaryMetadata(tag)
        assert summary_metadata.plugin_data.plugin_name == "mesh"
        data = metadata.parse_plugin_metadata(summary_metadata.plugin_data.content)
        assert (data.name, data.content_type, list(data.shape)) == ("m", content_type, list(array.shape))
        assert data.json_config == "{}"
        assert data.components == 0b1110


@pytest.mark.tensorboard
def test_point_cloud_without_faces_or_colors(tmp_path: Path, event_accumulator: Any) -> None:
    """Vertices alone make a point cloud: one tag, components = VERTEX only, float64 input → float32."""
    from tensorboard.plugins.mesh import metadata

    vertices = np.random.default_rng(1).standard_normal((3, 50, 3))
    with tblog.SummaryWriter(tmp_path / "run") as writer:
        writer.add_mesh("cloud", vertices)
    acc = event_accumulator(tmp_path / "run")
    assert acc.Tags()["tensors"] == ["cloud_VERTEX"]
    data = metadata.parse_plugin_metadata(acc.SummaryMetadata("cloud_VERTEX").plugin_data.content)
    assert data.components == 1 << 1
    get = _mesh_routes(tmp_path)
    assert json.loads(get("/tags")[1]) == {"run": {"cloud": {"samples": 3}}}
    np.testing.assert_array_equal(_data(get, "run", "cloud", "VERTEX", 0, 2), vertices[2].astype(np.float32))


@pytest.mark.tensorboard
def test_float_colors_are_scaled_and_int_colors_kept(tmp_path: Path) -> None:
    """Float colors in [0, 1] are served as 0..255 (rounded), int colors as they are (as torch documents)."""
    vertices = np.zeros((1, 3, 3), np.float32)
    float_colors = np.array([[[0.0, 0.5, 1.0], [1 / 255, 254.6 / 255, 0.25], [1.0, 1.0, 0.0]]])
    int_colors = np.array([[[0, 128, 255], [1, 2, 3], [255, 0, 9]]], np.int64)
    with tblog.SummaryWriter(tmp_path / "run") as writer:
        writer.add_mesh("f", vertices, colors=float_colors)
        writer.add_mesh("i", vertices, colors=int_colors)
    get = _mesh_routes(tmp_path)
    np.testing.assert_array_equal(
        _data(get, "run", "f", "COLOR", 0), [[0, 128, 255], [1, 255, 64], [255, 255, 0]]
    )
    np.testing.assert_array_equal(_data(get, "run", "i", "COLOR", 0), int_colors[0])


@pytest.mark.tensorboard
def test_meshes_over_steps(tmp_path: Path) -> None:
    """Several steps of one mesh are listed in step order and each step serves its own vertices."""
    rng = np.random.default_rng(2)
    steps = [5, 1, 3]
    clouds = {s: rng.standard_normal((1, 10, 3)).astype(np.float32) for s in steps}
    with tblog.SummaryWriter(tmp_path / "run") as writer:
        for s in steps:
            writer.add_mesh("moving", clouds[s], global_step=s)
    get = _mesh_routes(tmp_path)
    assert [m["step"] for m in json.loads(get("/meshes", run="run", tag="moving")[1])] == [1, 3, 5]
    for s in steps:
        np.testing.assert_array_equal(_data(get, "run", "moving", "VERTEX", s), clouds[s][0])


def _good() -> dict[str, Any]:
    vertices, colors, faces = _tetrahedron(batch=1)
    return {"vertices": vertices, "colors": colors, "faces": faces}


_BAD_MESHES: list[tuple[str, dict[str, Any], type[Exception], str]] = [
    ("vertices 2-D", {"vertices": np.zeros((4, 3))}, ValueError, r"vertices must have shape \[B, N, 3\]"),
    ("vertices last dim 2", {"vertices": np.zeros((1, 4, 2))}, ValueError, r"vertices must have shape"),
    ("vertices empty", {"vertices": np.zeros((1, 0, 3))}, ValueError, r"vertices must hold at least one"),
    ("vertices str", {"vertices": "abc"}, TypeError, r"vertices must be a \[B, N, 3\] array"),
    (
        "vertices object",
        {"vertices": np.array([[[None] * 3]])},
        TypeError,
        r"vertices must hold real numbers",
    ),
    ("vertices complex", {"vertices": np.zeros((1, 4, 3), complex)}, TypeError, r"vertices must hold real"),
    ("vertices NaN", {"vertices": np.full((1, 4, 3), np.nan)}, ValueError, r"vertices must be finite"),
    ("colors shape", {"colors": np.zeros((1, 3, 3), np.uint8)}, ValueError, r"colors must have the shape of"),
    ("colors 2-D", {"colors": np.zeros((4, 3), np.uint8)}, ValueError, r"colors must have shape"),
    (
        "colors float > 1",
        {"colors": np.full((1, 4, 3), 255.0)},
        ValueError,
        r"float colors must lie in \[0, 1\]",
    ),
    ("colors int 300", {"colors": np.full((1, 4, 3), 300)}, ValueError, r"integer colors must lie in"),
    ("colors bool", {"colors": np.ones((1, 4, 3), bool)}, TypeError, r"colors must hold real numbers"),
    ("faces batch", {"faces": np.zeros((2, 4, 3), np.int32)}, ValueError, r"faces must have the batch size"),
    ("faces 4 per row", {"faces": np.zeros((1, 4, 4), np.int32)}, ValueError, r"faces must have shape"),
    ("faces index", {"faces": np.array([[[0, 1, 4]]])}, ValueError, r"faces must index vertices in \[0, 3\]"),
    ("faces negative", {"faces": np.array([[[0, -1, 2]]])}, ValueError, r"faces must index vertices"),
    ("faces fractional", {"faces": np.array([[[0, 1.5, 2]]])}, ValueError, r"faces must hold whole-number"),
    ("config not dict", {"config_dict": [1, 2]}, TypeError, r"config_dict must be a dict"),
    ("config not JSON", {"config_dict": {"x": object()}}, TypeError, r"config_dict must be JSON"),
    ("empty tag", {"tag": ""}, ValueError, r"tag must not be empty"),
    ("tag not str", {"tag": 3}, TypeError, r"tag must be a str"),
    ("step fraction", {"global_step": 1.5}, ValueError, r"global_step must be a whole number"),
]


@pytest.mark.parametrize(("case", "change", "error", "match"), _BAD_MESHES, ids=[c[0] for c in _BAD_MESHES])
def test_bad_mesh_input_is_refused_and_writer_stays_usable(
    tmp_path: Path, event_accumulator: Any, case: str, change: dict[str, Any], error: type, match: str
) -> None:
    """Bad shapes, dtypes or values: a clear error naming the argument, nothing logged, the writer goes on."""
    args = {"tag": "bad", **_good(), **change}
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_scalar("before", 1.0, 0)
        with pytest.raises(error, match=match):
            writer.add_mesh(**args)
        writer.add_mesh("good", **_good(), global_step=1)
    acc = event_accumulator(tmp_path)
    assert sorted(acc.Tags()["tensors"]) == ["good_COLOR", "good_FACE", "good_VERTEX"]
    assert [s.value for s in acc.Scalars("before")] == [1.0]


def _without_wall_time(metas: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = [{k: v for k, v in m.items() if k != "wall_time"} for m in metas]
    return sorted(rows, key=lambda m: m["content_type"])


@pytest.mark.framework
@pytest.mark.tensorboard
def test_torch_parity(tmp_path: Path) -> None:
    """torch.utils.tensorboard and tblog log the same tags, steps, config and (as served) mesh data."""
    pytest.importorskip("torch")
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    vertices, colors, faces = _tetrahedron()
    config = {"material": {"cls": "MeshStandardMaterial"}}
    with TorchWriter(str(tmp_path / "torch")) as theirs, tblog.SummaryWriter(tmp_path / "tblog") as ours:
        for writer in (theirs, ours):
            writer.add_mesh("mesh", vertices, colors=colors, faces=faces, config_dict=config, global_step=4)
            writer.add_mesh("cloud", vertices, global_step=5)
    get = _mesh_routes(tmp_path)
    tags = json.loads(get("/tags")[1])
    assert tags["torch"] == tags["tblog"] == {"mesh": {"samples": 2}, "cloud": {"samples": 2}}
    for tag in ("mesh", "cloud"):
        ours_meta = json.loads(get("/meshes", run="tblog", tag=tag)[1])
        theirs_meta = json.loads(get("/meshes", run="torch", tag=tag)[1])
        assert _without_wall_time(ours_meta) == _without_wall_time(theirs_meta)
        step = ours_meta[0]["step"]
        for part in ("VERTEX", "FACE", "COLOR") if tag == "mesh" else ("VERTEX",):
            for sample in range(2):
                np.testing.assert_array_equal(
                    _data(get, "tblog", tag, part, step, sample), _data(get, "torch", tag, part, step, sample)
                )


@pytest.mark.framework
@pytest.mark.tensorboard
def test_torch_and_jax_inputs(tmp_path: Path) -> None:
    """torch tensors and JAX arrays are accepted for every part and logged with the same values."""
    torch = pytest.importorskip("torch")
    jnp = pytest.importorskip("jax.numpy")
    vertices, colors, faces = _tetrahedron(batch=1)
    with tblog.SummaryWriter(tmp_path / "run") as writer:
        writer.add_mesh(
            "t",
            torch.from_numpy(vertices),
            torch.from_numpy(colors),
            torch.from_numpy(faces).long(),
            global_step=1,
        )
        writer.add_mesh("j", jnp.asarray(vertices), jnp.asarray(colors), jnp.asarray(faces), global_step=1)
        with pytest.raises(ValueError, match="vertices must have shape"):
            writer.add_mesh("bad", torch.zeros(4, 3))
    get = _mesh_routes(tmp_path)
    for tag in ("t", "j"):
        np.testing.assert_array_equal(_data(get, "run", tag, "VERTEX", 1), vertices[0])
        np.testing.assert_array_equal(_data(get, "run", tag, "COLOR", 1), colors[0])
        np.testing.assert_array_equal(_data(get, "run", tag, "FACE", 1), faces[0])


@pytest.mark.framework
def test_bad_device_values_surface_on_the_next_call(tmp_path: Path, event_accumulator: Any) -> None:
    """A JAX array is not read in the caller: its NaN is reported by the next flush; the writer goes on."""
    jnp = pytest.importorskip("jax.numpy")
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_mesh("nan", jnp.full((1, 4, 3), jnp.nan))  # returns: the values are read later
        with pytest.raises(tblog.BackgroundWriteError) as info:
            writer.flush()
        assert "vertices must be finite" in str(info.value.__cause__)
        writer.add_mesh("fine", jnp.zeros((1, 4, 3)))
    assert event_accumulator(tmp_path).Tags()["tensors"] == ["fine_VERTEX"]


def test_mesh_events_read_back_with_tblogs_own_reader(tmp_path: Path) -> None:
    """Without tensorboard: tblog.read finds the three parts with their dtypes, values and MeshPluginData."""
    from tblog import read
    from tblog.proto import mesh_plugin_data_pb2

    vertices, colors, faces = _tetrahedron(batch=1)
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_mesh("m", vertices, colors, faces, {"camera": {"fov": 60}}, global_step=9, walltime=5.0)
    values = {
        value.tag: (event, value)
        for event in read.events(tmp_path)
        if event.HasField("summary")
        for value in event.summary.value
    }
    assert sorted(values) == ["m_COLOR", "m_FACE", "m_VERTEX"]
    expected = {"m_VERTEX": (1, vertices), "m_FACE": (2, faces), "m_COLOR": (3, colors)}
    for tag, (content_type, array) in expected.items():
        event, value = values[tag]
        assert (event.step, event.wall_time) == (9, 5.0)
        got = read.tensor_to_numpy(value.tensor)
        assert got.dtype == array.dtype
        np.testing.assert_array_equal(got, array)
        assert value.metadata.plugin_data.plugin_name == "mesh"
        data = mesh_plugin_data_pb2.MeshPluginData.FromString(value.metadata.plugin_data.content)
        assert (data.name, data.content_type, list(data.shape), data.components) == (
            "m",
            content_type,
            list(array.shape),
            0b1110,
        )
        assert json.loads(data.json_config) == {"camera": {"fov": 60}}


@pytest.mark.parametrize(
    ("case", "change", "error", "match"), _BAD_MESHES[:6], ids=[c[0] for c in _BAD_MESHES[:6]]
)
def test_bad_mesh_input_without_tensorboard(
    tmp_path: Path, case: str, change: dict[str, Any], error: type, match: str
) -> None:
    """The input checks need no tensorboard: errors name the argument and nothing is queued."""
    from tblog import read

    with tblog.SummaryWriter(tmp_path) as writer, pytest.raises(error, match=match):
        writer.add_mesh(**{"tag": "bad", **_good(), **change})
    assert not [v for e in read.events(tmp_path) if e.HasField("summary") for v in e.summary.value]
