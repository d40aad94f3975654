"""Mesh dashboard: point clouds and triangle meshes, one tensor per part.

TensorBoard's ``mesh`` plugin reads one mesh as up to three tensor summaries that share a
``MeshPluginData.name``: ``<name>_VERTEX`` (float32 [B, N, 3] positions), ``<name>_FACE``
(int32 [B, M, 3] vertex indices of triangles) and ``<name>_COLOR`` (uint8 [B, N, 3] RGB).
Each part's metadata carries the content type, its shape, the bit set of the parts present
(``components``) and the three.js scene configuration as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from tblog.proto import mesh_plugin_data_pb2, summary_pb2, tensor_pb2

PLUGIN_NAME = "mesh"
VERTEX, FACE, COLOR = 1, 2, 3  # MeshPluginData.ContentType
_PART_NAMES = {VERTEX: "VERTEX", FACE: "FACE", COLOR: "COLOR"}
_DT_FLOAT, _DT_INT32, _DT_UINT8 = 1, 3, 4
_DATA_CLASS_TENSOR = 2


def json_config(config_dict: Mapping[str, Any] | None) -> str:
    """The scene configuration as TensorBoard stores it: JSON with sorted keys, ``{}`` if None."""
    if config_dict is None:
        return "{}"
    if not isinstance(config_dict, Mapping):
        raise TypeError(
            f"config_dict must be a dict of three.js settings or None; got {type(config_dict).__name__}"
        )
    try:
        return json.dumps(dict(config_dict), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"config_dict must be JSON-serializable: {exc}") from None


def check_values(vertices: np.ndarray, colors: np.ndarray | None, faces: np.ndarray | None) -> None:
    """Content checks that need the values; raise ValueError naming the argument."""
    if vertices.dtype.kind == "f" and not np.isfinite(vertices).all():
        raise ValueError("vertices must be finite; got NaN or inf")
    if colors is not None:
        if colors.dtype.kind == "f":
            if not np.isfinite(colors).all():
                raise ValueError("colors must be finite; got NaN or inf")
            if colors.size and (colors.min() < 0 or colors.max() > 1):
                raise ValueError(
                    "float colors must lie in [0, 1] (integer colors in [0, 255]); "
                    f"got values in [{colors.min()}, {colors.max()}]"
                )
        elif colors.size and (colors.min() < 0 or colors.max() > 255):
            raise ValueError(
                f"integer colors must lie in [0, 255]; got values in [{colors.min()}, {colors.max()}]"
            )
    if faces is not None and faces.size:
        whole = faces.dtype.kind != "f" or (np.isfinite(faces).all() and (faces == np.floor(faces)).all())
        if not whole:
            raise ValueError("faces must hold whole-number vertex indices")
        n = vertices.shape[1]
        if faces.min() < 0 or faces.max() >= n:
            raise ValueError(
                f"faces must index vertices in [0, {n - 1}] (N = {n} vertices); "
                f"got indices in [{faces.min()}, {faces.max()}]"
            )


def colors_uint8(colors: np.ndarray) -> np.ndarray:
    """Float colors in [0, 1] scaled to 0..255 (rounded); integer colors as they are."""
    if colors.dtype.kind == "f":
        return np.rint(np.clip(colors.astype(np.float64), 0.0, 1.0) * 255.0).astype(np.uint8)
    return colors.astype(np.uint8)


def _tensor(array: np.ndarray, dtype: int) -> tensor_pb2.TensorProto:
    content = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    proto = tensor_pb2.TensorProto(dtype=dtype, tensor_content=content)  # type: ignore[arg-type]
    for size in array.shape:
        proto.tensor_shape.dim.add(size=size)
    return proto


def mesh_values(
    tag: str,
    vertices: np.ndarray,
    colors: np.ndarray | None = None,
    faces: np.ndarray | None = None,
    config: str = "{}",
) -> list[bytes]:
    """Encoded ``Summary.Value`` messages of one mesh: vertices, then faces and colors if given.

    ``vertices`` and ``colors`` are [B, N, 3], ``faces`` [B, M, 3]; ``config`` is the JSON
    scene configuration (see ``json_config``). Values are converted to the dtypes the mesh
    plugin serves: float32 positions, int32 indices, uint8 colors.
    """
    parts: list[tuple[int, np.ndarray, int]] = [(VERTEX, np.asarray(vertices, dtype=np.float32), _DT_FLOAT)]
    if faces is not None:
        parts.append((FACE, np.asarray(faces).astype(np.int32), _DT_INT32))
    if colors is not None:
        parts.append((COLOR, colors_uint8(np.asarray(colors)), _DT_UINT8))
    components = 0
    for content_type, _, _ in parts:
        components |= 1 << content_type
    values = []
    for content_type, array, dtype in parts:
        plugin_data = mesh_plugin_data_pb2.MeshPluginData(
            version=0,
            name=tag,
            content_type=content_type,  # type: ignore[arg-type]
            json_config=config,
            shape=list(array.shape),
            components=components,
        )
        metadata = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(
                plugin_name=PLUGIN_NAME, content=plugin_data.SerializeToString()
            ),
            data_class=_DATA_CLASS_TENSOR,  # type: ignore[arg-type]
        )
        value = summary_pb2.Summary.Value(
            tag=f"{tag}_{_PART_NAMES[content_type]}",
            metadata=metadata,
            tensor=_tensor(array, dtype),
        )
        values.append(value.SerializeToString())
    return values
