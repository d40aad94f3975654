"""Embedding projector: ``add_embedding``."""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from collections.abc import Sequence
from typing import Any

from tblog import _convert, _fs
from tblog.methods._base import WriterBase

# One lock for every writer of this process: two writers may share a log directory, and the
# config file is read, merged and replaced under it. Re-created in a forked child, in case
# another thread of the parent held it at the fork.
_config_lock = threading.Lock()
_tmp_counter = itertools.count()


def _after_fork_in_child() -> None:
    global _config_lock
    _config_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class EmbeddingMethods(WriterBase):
    """Points in a high-dimensional space, shown by the Projector with PCA, t-SNE or UMAP."""

    def add_embedding(
        self,
        mat: Any,
        metadata: Any = None,
        label_img: Any = None,
        global_step: Any = None,
        tag: str = "default",
        metadata_header: Sequence[Any] | None = None,
    ) -> None:
        """Save an embedding for the Projector, in torch's layout (files, not events).

        Args:
            mat: [N, D] matrix, one row per point (NumPy, torch or JAX; finite real numbers).
            metadata: optional labels, one per point (each is ``str()``-ed); with
                ``metadata_header``, one row of values per point, one value per column.
            label_img: optional [N, C, H, W] thumbnails (C = 1, 3 or 4; float in [0, 1] or
                integers in [0, 255]), tiled into ``sprite.png``.
            global_step: the step; part of the directory and of the name (``<tag>:<step:05>``).
            tag: the embedding's name. It is escaped into one directory name as torch does;
                a tag that reads as a path leaving the log directory (``../x``, ``/abs``) is
                refused with a ValueError.
            metadata_header: column names for multi-column metadata (at least two).

        Writes ``<log_dir>/<step:05>/<tag>/{tensors,metadata}.tsv`` and ``sprite.png``, and
        adds the embedding to ``<log_dir>/projector_config.pbtxt``, keeping the entries of
        earlier calls and other writers (an entry with the same tag and step is replaced).
        Every file is replaced atomically. On an fsspec URL log_dir (``s3://…``) the same files
        are uploaded. Unlike the ``add_*`` methods that log events, this
        runs in the caller's thread: device values are read here, and the files are complete
        when it returns.
        """
        # Imported here: the config uses protobuf, which ``import tblog`` does not load.
        from tblog.summary import projector

        step = _convert.step(global_step)
        _convert.tag(tag)
        subdir = projector.embedding_dir(tag, step)
        mat_shape = _array_shape(mat, "mat", "[N, D]")
        if len(mat_shape) != 2:
            raise ValueError(f"mat must be 2-D [N, D] (one row per point); got {_convert.describe(mat)}")
        num_points = mat_shape[0]
        if _convert.dtype_kind(mat) not in "biuf":
            raise TypeError(f"mat must hold real numbers; got {_convert.describe(mat)}")
        if label_img is not None:
            projector.check_label_img_shape(_array_shape(label_img, "label_img", "[N, C, H, W]"), num_points)
        if metadata_header is not None and metadata is None:
            raise ValueError("metadata_header was given without metadata")
        if not self.is_writing:  # no files on a rank that does not write
            return

        tensors = projector.tensors_tsv(_convert.array(mat, "mat"))
        labels = None
        if metadata is not None:
            if hasattr(metadata, "shape") and hasattr(metadata, "dtype"):  # NumPy, torch, JAX
                metadata = _convert.array(metadata, "metadata")
            labels = projector.metadata_tsv(metadata, num_points, metadata_header)
        sprite = None
        sprite_dim = None
        if label_img is not None:
            sprite, sprite_dim = projector.sprite_png(_convert.array(label_img, "label_img"))
        info = projector.embedding_info(tag, step, (num_points, mat_shape[1]), labels is not None, sprite_dim)

        log_dir = os.fspath(self.log_dir)
        if _fs.is_url(log_dir):
            storage_options = getattr(self, "_options", {}).get("storage_options")
            files = {
                projector.TENSORS_FILE: tensors,
                projector.METADATA_FILE: labels,
                projector.SPRITE_FILE: sprite,
            }
            _save_to_url(log_dir, subdir, files, info, storage_options)
            return
        config_path = os.path.join(log_dir, projector.CONFIG_FILE)
        target = os.path.normpath(os.path.join(log_dir, subdir))
        _check_inside(log_dir, target, tag)
        with _config_lock:
            existing = None
            if os.path.exists(config_path):
                with open(config_path, encoding="utf-8") as f:
                    existing = f.read()
            try:
                config = projector.merged_config(existing, info)
            except ValueError as exc:
                raise ValueError(
                    f"{config_path} exists but could not be read ({exc}); not overwriting it"
                ) from exc
            os.makedirs(target, exist_ok=True)
            _check_inside(log_dir, target, tag)  # again: makedirs follows links planted meanwhile
            files = {
                projector.TENSORS_FILE: tensors,
                projector.METADATA_FILE: labels,
                projector.SPRITE_FILE: sprite,
            }
            for name, content in files.items():
                path = os.path.join(target, name)
                if content is not None:
                    _write_atomic(path, content)
                elif os.path.isfile(path):  # left by an earlier call with the same tag and step
                    os.remove(path)
            _write_atomic(config_path, config.encode("utf-8"))


def _save_to_url(
    log_dir: str,
    subdir: str,
    files: dict[str, bytes | None],
    info: Any,
    storage_options: dict[str, Any] | None,
) -> None:
    """The projector files of one embedding, and the merged config, on an fsspec URL.

    Each object is replaced whole by its upload (object stores have no partial writes). The
    config is read, merged and written under the process-wide lock: two processes adding
    embeddings to one run at the same moment may lose one entry (no atomic rename there).
    """
    from tblog.summary import projector

    fs, root = _fs.url_to_fs(log_dir, storage_options)
    root = root.rstrip("/")
    target = f"{root}/{subdir}"
    config_path = f"{root}/{projector.CONFIG_FILE}"
    config_url = _fs.join(log_dir, projector.CONFIG_FILE)
    with _config_lock:
        try:
            existing = fs.cat_file(config_path).decode("utf-8") if fs.exists(config_path) else None
        except Exception as exc:
            raise OSError(f"add_embedding: reading {config_url} failed: {exc}") from exc
        try:
            config = projector.merged_config(existing, info)
        except ValueError as exc:
            raise ValueError(
                f"{config_url} exists but could not be read ({exc}); not overwriting it"
            ) from exc
        try:
            if _fs.is_local(fs):
                fs.makedirs(target, exist_ok=True)
            for name, content in files.items():
                if content is not None:
                    fs.pipe_file(f"{target}/{name}", content)
                elif fs.exists(f"{target}/{name}"):  # left by an earlier call with the same tag and step
                    fs.rm_file(f"{target}/{name}")
            fs.pipe_file(config_path, config.encode("utf-8"))
        except Exception as exc:
            raise OSError(f"add_embedding: writing {_fs.join(log_dir, subdir)} failed: {exc}") from exc


def _array_shape(value: Any, name: str, layout: str) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a {layout} array; got {_convert.describe(value)}")
    try:
        return _convert.shape_of(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a {layout} array; got {_convert.describe(value)}") from exc


def _check_inside(log_dir: str, target: str, tag: str) -> None:
    """Refuse an embedding directory that is, or would be reached through, a link (or a path)
    leading out of the log directory: tblog writes nothing outside it."""
    root = os.path.realpath(log_dir)
    if os.path.commonpath([root, os.path.realpath(target)]) != root:
        link = next(
            (p for p in _parents_within(log_dir, target) if os.path.islink(p)),
            target,
        )
        raise ValueError(
            f"tag {tag!r}: the embedding directory {target!r} would leave the log directory "
            f"{log_dir!r} (through {link!r}); tblog writes nothing outside it"
        )


def _parents_within(log_dir: str, target: str) -> list[str]:
    """``target`` and its parents up to (not including) ``log_dir``, the outermost first."""
    found = []
    path = target
    while os.path.normpath(path) != os.path.normpath(log_dir) and path != os.path.dirname(path):
        found.append(path)
        path = os.path.dirname(path)
    return found[::-1]


def _write_atomic(path: str, content: bytes) -> None:
    """Write ``content`` to a new file beside ``path``, then rename it over ``path``."""
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.{next(_tmp_counter)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
