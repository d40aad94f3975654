"""Mesh dashboard: ``add_mesh``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tblog import _convert
from tblog.methods._base import WriterBase
from tblog.summary import _wire


class MeshMethods(WriterBase):
    """3-D point clouds and triangle meshes (three.js)."""

    def add_mesh(
        self,
        tag: str,
        vertices: Any,
        colors: Any = None,
        faces: Any = None,
        config_dict: Mapping[str, Any] | None = None,
        global_step: Any = None,
        walltime: float | None = None,
    ) -> None:
        """Log a batch of meshes or point clouds (Mesh dashboard), as torch lays them out.

        Args:
            tag: the mesh's name; its parts go to ``<tag>_VERTEX``, ``<tag>_FACE`` and
                ``<tag>_COLOR``.
            vertices: [B, N, 3] positions (B meshes of N vertices), any real dtype.
            colors: optional [B, N, 3] RGB per vertex: float in [0, 1] or integers in [0, 255].
            faces: optional [B, M, 3] triangles as indices into the N vertices.
            config_dict: optional three.js scene settings (camera, lights, material), stored
                as JSON.

        Arrays may be NumPy, torch or JAX; device values are read on the writer thread.
        """
        # Imported here: the builder uses protobuf, which ``import tblog`` does not load.
        from tblog.summary.mesh import check_values, json_config, mesh_values

        _convert.tag(tag)
        step, wall = self._step_and_wall(global_step, walltime)
        config = json_config(config_dict)
        shape = _check_part(vertices, "vertices", "B, N, 3")
        b, n, _ = shape
        if n == 0 or b == 0:
            raise ValueError(f"vertices must hold at least one point; got shape {shape}")
        if colors is not None:
            color_shape = _check_part(colors, "colors", "B, N, 3")
            if color_shape != shape:
                raise ValueError(
                    f"colors must have the shape of vertices {shape} (one RGB per vertex); got {color_shape}"
                )
        if faces is not None:
            face_shape = _check_part(faces, "faces", "B, M, 3")
            if face_shape[0] != b:
                raise ValueError(f"faces must have the batch size of vertices ({b}); got shape {face_shape}")
        if not self.is_writing:
            return
        vertex_snap = _convert.snapshot(vertices, "vertices")
        color_snap = None if colors is None else _convert.snapshot(colors, "colors")
        face_snap = None if faces is None else _convert.snapshot(faces, "faces")
        snaps = [s for s in (vertex_snap, color_snap, face_snap) if s is not None]
        on_host = all(isinstance(s, np.ndarray) for s in snaps)
        if on_host:  # check the values now; device values are checked on the writer thread
            check_values(vertex_snap, color_snap, face_snap)
        nbytes = sum(int(getattr(s, "nbytes", 0)) for s in snaps)

        def encode() -> bytes:
            v = _convert.array(vertex_snap, "vertices")
            c = None if color_snap is None else _convert.array(color_snap, "colors")
            f = None if face_snap is None else _convert.array(face_snap, "faces")
            if not on_host:
                check_values(v, c, f)
            return _wire.event(wall, step, _wire.summary(mesh_values(tag, v, c, f, config)))

        self._put_deferred(encode, nbytes)


def _check_part(value: Any, name: str, layout: str) -> tuple[int, ...]:
    """Shape and dtype checks from metadata only; returns the shape."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a [{layout}] array; got {_convert.describe(value)}")
    try:
        shape = _convert.shape_of(value)
        kind = _convert.dtype_kind(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a [{layout}] array; got {_convert.describe(value)}") from exc
    if len(shape) != 3 or shape[2] != 3:
        raise ValueError(f"{name} must have shape [{layout}]; got {_convert.describe(value)}")
    if kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers (int or float); got {_convert.describe(value)}")
    return shape
