"""Embedding projector: the files TensorBoard's ``projector`` plugin reads (no events).

In the run directory: ``projector_config.pbtxt`` (a text-format ``ProjectorConfig`` listing
every embedding), and per embedding a sub-directory ``<step:05>/<tag>`` holding
``tensors.tsv`` (one row of floats per point), optionally ``metadata.tsv`` (one label per
point; several tab-separated columns under a header row) and ``sprite.png`` (one thumbnail
per point, tiled row by row in a square grid). Same layout and names as torch.

Everything here is pure: values in, file contents out. ``tblog.methods.embeddings`` writes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tblog import _convert
from tblog.proto import projector_config_pb2
from tblog.summary.png import encode_png

CONFIG_FILE = "projector_config.pbtxt"
TENSORS_FILE = "tensors.tsv"
METADATA_FILE = "metadata.tsv"
SPRITE_FILE = "sprite.png"
MAX_SPRITE_SIDE = 8192  # the projector refuses larger sprite images (WebGL texture limit)
_MAX_NAME_BYTES = 255  # one path component on common file systems


def embedding_dir(tag: str, step: int) -> str:
    """``<step:05>/<tag>``, relative to the run directory, as torch names it.

    ``%``, ``/`` and ``\\`` in the tag are escaped as ``%25``, ``%2f`` and ``%5c`` (torch's
    escaping), so a tag is always one path component. Tags that read as a path leaving the
    directory (``..`` or ``.`` parts, an absolute path or drive) or hold control characters
    are refused with a ValueError rather than escaped, so the mistake shows.
    """
    if not isinstance(tag, str):
        raise TypeError(f"tag must be a str; got {type(tag).__name__}")
    if not tag:
        raise ValueError("tag must not be empty")
    parts = tag.replace("\\", "/").split("/")
    if (
        tag.startswith(("/", "\\"))
        or (len(tag) > 1 and tag[1] == ":" and tag[0].isalpha())
        or any(part in (".", "..") for part in parts)
    ):
        raise ValueError(
            f"tag {tag!r} must not be an absolute path or hold '.' or '..' parts: "
            "the embedding files must stay inside the log directory"
        )
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in tag):
        raise ValueError(f"tag {tag!r} must not hold control characters (newline, tab, NUL, ...)")
    name = tag.replace("%", "%25").replace("/", "%2f").replace("\\", "%5c")
    if len(name.encode("utf-8")) > _MAX_NAME_BYTES:
        raise ValueError(
            f"tag is too long for a directory name ({len(name.encode('utf-8'))} bytes once "
            f"escaped; at most {_MAX_NAME_BYTES})"
        )
    return f"{step:05}/{name}"


def tensor_name(tag: str, step: int) -> str:
    """The embedding's name in the projector: ``<tag>:<step:05>``, as torch names it."""
    return f"{tag}:{step:05}"


# ----- tensors.tsv ------------------------------------------------------------------------


def check_mat(mat: np.ndarray) -> None:
    """Raise ValueError unless ``mat`` is a non-empty, finite [N, D] matrix of real numbers."""
    if mat.ndim != 2:
        raise ValueError(f"mat must be 2-D [N, D] (one row per point); got shape {mat.shape}")
    if mat.shape[0] == 0 or mat.shape[1] == 0:
        raise ValueError(f"mat must hold at least one point of at least one dimension; got {mat.shape}")
    if mat.dtype.kind not in "biuf":
        raise TypeError(f"mat must hold real numbers; got dtype {mat.dtype}")
    if mat.dtype.kind == "f" and not np.isfinite(mat).all():
        bad = int(np.argmax(~np.isfinite(mat).all(axis=1)))
        raise ValueError(f"mat must be finite; row {bad} holds NaN or inf")


def tensors_tsv(mat: np.ndarray) -> bytes:
    """One line per row, values separated by tabs; floats round-trip exactly.

    float64 is written with Python's shortest repr, float16/32 with 9 significant digits
    (exact for float32, which is what the projector reads).
    """
    check_mat(mat)
    if mat.dtype.kind == "f":
        if mat.dtype.itemsize > 4:
            rows = ["\t".join(map(repr, row)) for row in mat.astype(np.float64).tolist()]
        else:
            line = "\t".join(["%.9g"] * mat.shape[1])
            rows = [line % tuple(row) for row in mat.astype(np.float64).tolist()]
    else:
        rows = ["\t".join(map(str, row)) for row in mat.astype(np.int64).tolist()]
    return ("\n".join(rows) + "\n").encode("ascii")


# ----- metadata.tsv -----------------------------------------------------------------------


def _cell(value: Any, where: str) -> str:
    if isinstance(value, bytes):
        text = value.decode("utf-8", errors="replace")
    elif isinstance(value, str):
        text = value
    else:
        text = str(value)
    if "\t" in text or "\n" in text or "\r" in text:
        raise ValueError(f"{where} must not hold a tab or line break (TSV cell); got {text[:60]!r}")
    return text if text.isascii() else _convert.text(text, where)


def _rows(values: Any, name: str) -> list[Any]:
    """A list of the items of a list/tuple or a NumPy/torch/JAX array."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise TypeError(f"{name} must be a list (one entry per point); got {type(values).__name__}")
    if isinstance(values, np.ndarray):
        return list(values.tolist())
    if hasattr(values, "tolist") and hasattr(values, "shape"):  # torch/JAX, already on the host
        return list(np.asarray(values).tolist())
    return list(values)


def metadata_tsv(metadata: Any, num_points: int, metadata_header: Sequence[Any] | None = None) -> bytes:
    """The labels file: one line per point; with a header, a tab-separated header row first.

    Without ``metadata_header`` each entry is one label (``str()`` of it). With it, each entry
    is a row with one value per header column. The projector skips blank lines and treats a
    first line holding a tab as the header, so empty labels, cells with tabs or line breaks
    and one-column headers are refused (they would shift labels against points).
    """
    rows = _rows(metadata, "metadata")
    if len(rows) != num_points:
        raise ValueError(
            f"metadata must have one entry per point: mat has {num_points} rows, metadata has {len(rows)}"
        )
    lines: list[str] = []
    if metadata_header is None:
        for i, row in enumerate(rows):
            if isinstance(row, (list, tuple, np.ndarray)):
                raise TypeError(
                    f"metadata[{i}] is a sequence ({type(row).__name__}); multi-column metadata "
                    "needs metadata_header to name the columns"
                )
            lines.append(_cell(row, f"metadata[{i}]"))
    else:
        header = [
            _cell(h, f"metadata_header[{j}]") for j, h in enumerate(_rows(metadata_header, "metadata_header"))
        ]
        if len(header) < 2:
            raise ValueError(
                f"metadata_header must name at least 2 columns (the projector reads a header only "
                f"when the first line holds a tab); got {len(header)}. For one column pass "
                "metadata without a header."
            )
        lines.append("\t".join(header))
        for i, row in enumerate(rows):
            if isinstance(row, (str, bytes)) or not hasattr(row, "__len__"):
                raise TypeError(
                    f"metadata[{i}] must be a row of {len(header)} values (one per header column); "
                    f"got {type(row).__name__}"
                )
            cells = list(row)
            if len(cells) != len(header):
                raise ValueError(
                    f"metadata[{i}] has {len(cells)} values; metadata_header has {len(header)} columns"
                )
            lines.append("\t".join(_cell(c, f"metadata[{i}][{j}]") for j, c in enumerate(cells)))
    for i, line in enumerate(lines[1:] if metadata_header is not None else lines):
        if not line.strip():
            raise ValueError(
                f"metadata[{i}] is empty or blank; the projector skips blank lines, so the labels "
                "would no longer line up with the points (use a placeholder such as '-')"
            )
    return ("\n".join(lines) + "\n").encode("utf-8")


# ----- sprite.png -------------------------------------------------------------------------


def check_label_img_shape(shape: tuple[int, ...], num_points: int) -> tuple[int, int]:
    """Raise unless ``shape`` is [N, C, H, W] with C in 1, 3, 4; returns the grid's (rows, cols)."""
    if len(shape) != 4:
        raise ValueError(f"label_img must have shape [N, C, H, W]; got shape {shape}")
    n, c, h, w = shape
    if n != num_points:
        raise ValueError(
            f"label_img must have one image per point: mat has {num_points} rows, label_img has {n}"
        )
    if c not in (1, 3, 4):
        raise ValueError(f"label_img must have 1, 3 or 4 channels (dimension 1 of N, C, H, W); got {c}")
    if h == 0 or w == 0:
        raise ValueError(f"label_img images must not be empty; got shape {shape}")
    side = math.isqrt(n - 1) + 1 if n else 0  # ceil(sqrt(n))
    if side * max(h, w) > MAX_SPRITE_SIDE:
        raise ValueError(
            f"label_img: the sprite of {n} images of {h}x{w} would be {side * h}x{side * w} pixels; "
            f"the projector shows at most {MAX_SPRITE_SIDE}x{MAX_SPRITE_SIDE}. Use fewer or smaller images."
        )
    return side, side


def _to_uint8(images: np.ndarray) -> np.ndarray:
    kind = images.dtype.kind
    if kind == "f":
        if not np.isfinite(images).all():
            raise ValueError("label_img must be finite; got NaN or inf")
        return np.rint(np.clip(images.astype(np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)
    if kind == "b":
        return images.astype(np.uint8) * 255
    if kind in "iu":
        if images.size and (images.min() < 0 or images.max() > 255):
            raise ValueError(
                f"integer label_img must lie in [0, 255]; got values in [{images.min()}, {images.max()}]"
            )
        return images.astype(np.uint8)
    raise TypeError(f"label_img must hold real numbers; got dtype {images.dtype}")


def sprite_png(label_img: np.ndarray) -> tuple[bytes, tuple[int, int]]:
    """(PNG bytes, [width, height] of one thumbnail) of the sprite of [N, C, H, W] images.

    Images are tiled row by row into a grid of ceil(sqrt(N)) x ceil(sqrt(N)) cells of H x W
    pixels, black where no image falls. Float images are read in [0, 1], integers in
    [0, 255]; 1-channel images become gray RGB, 4-channel ones keep their alpha.
    """
    n, c, h, w = label_img.shape
    side, _ = check_label_img_shape(label_img.shape, n)
    pixels = _to_uint8(label_img).transpose(0, 2, 3, 1)  # N, H, W, C
    if c == 1:
        pixels = np.repeat(pixels, 3, axis=3)
        c = 3
    canvas = np.zeros((side * side, h, w, c), np.uint8)
    canvas[:n] = pixels
    grid = canvas.reshape(side, side, h, w, c).transpose(0, 2, 1, 3, 4).reshape(side * h, side * w, c)
    return encode_png(grid), (w, h)


# ----- projector_config.pbtxt ---------------------------------------------------------------


def embedding_info(
    tag: str,
    step: int,
    shape: tuple[int, int],
    has_metadata: bool,
    sprite_dim: tuple[int, int] | None,
) -> projector_config_pb2.EmbeddingInfo:
    """The config entry of one embedding; paths are relative to the run directory."""
    subdir = embedding_dir(tag, step)
    info = projector_config_pb2.EmbeddingInfo(
        tensor_name=tensor_name(tag, step),
        tensor_path=f"{subdir}/{TENSORS_FILE}",
        tensor_shape=list(shape),
    )
    if has_metadata:
        info.metadata_path = f"{subdir}/{METADATA_FILE}"
    if sprite_dim is not None:
        info.sprite.image_path = f"{subdir}/{SPRITE_FILE}"
        info.sprite.single_image_dim.extend(sprite_dim)
    return info


def parse_config(text: str) -> projector_config_pb2.ProjectorConfig:
    """A ``ProjectorConfig`` from text format; ValueError if it does not parse."""
    from google.protobuf import text_format

    config = projector_config_pb2.ProjectorConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as exc:
        raise ValueError(f"not a text-format ProjectorConfig: {exc}") from exc
    return config


def merged_config(existing: str | None, info: projector_config_pb2.EmbeddingInfo) -> str:
    """The text of ``existing`` (a config's text, or None) with ``info`` added.

    An entry with the same tensor name or tensor path is replaced in place; every other
    embedding, and every other field, is kept.
    """
    from google.protobuf import text_format

    config = parse_config(existing) if existing else projector_config_pb2.ProjectorConfig()
    for i, old in enumerate(config.embeddings):
        if old.tensor_name == info.tensor_name or (old.tensor_path and old.tensor_path == info.tensor_path):
            config.embeddings[i].CopyFrom(info)
            break
    else:
        config.embeddings.append(info)
    return text_format.MessageToString(config)
