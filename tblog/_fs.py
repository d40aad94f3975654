"""fsspec URLs (``s3://``, ``gs://``, ``memory://``, …): recognising, joining, listing, opening.

fsspec is imported only when a URL is actually used, so ``import tblog`` stays light. Paths
inside a URL are joined with ``/`` on every OS. Credentials and endpoints are fsspec's and the
storage library's own settings (``AWS_*`` variables, ``FSSPEC_S3_ENDPOINT_URL``, …), plus the
``storage_options`` passed to the file system.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any, BinaryIO

from tblog.events.files import FILE_PREFIX

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+://")  # two letters at least: "C://" is a drive
_EVENTS_MARK = FILE_PREFIX.rstrip(".")  # what TensorBoard looks for in a name: "tfevents"


def is_url(path: str) -> bool:
    """``True`` for ``scheme://…`` (handled by fsspec), ``False`` for a local path."""
    return _URL.match(path) is not None


def join(url: str, *parts: str) -> str:
    """``url`` with ``parts`` appended, ``/``-separated; empty parts are skipped."""
    parts = tuple(part.strip("/") for part in parts if part and part.strip("/"))
    return "/".join((url.rstrip("/"), *parts)) if parts else url


def is_local(fs: Any) -> bool:
    """Whether ``fs`` is the local disk (``file://``), where directories must exist before files."""
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
    return "file" in protocols or "local" in protocols


def url_to_fs(url: str, storage_options: dict[str, Any] | None = None) -> tuple[Any, str]:
    """fsspec's file system for ``url`` and the path of ``url`` inside it."""
    try:
        import fsspec.core
    except ImportError:
        raise ImportError(
            f"{url!r} is an fsspec URL; writing or reading URLs needs fsspec: pip install 'tblog[remote]'"
        ) from None
    try:
        return fsspec.core.url_to_fs(url, **(storage_options or {}))
    except ImportError as exc:  # fsspec knows the protocol but its package is missing (s3fs, gcsfs)
        raise ImportError(
            f"{url!r} needs the file system package of its protocol ({exc}); "
            "for s3:// that is pip install 'tblog[remote]'"
        ) from exc
    except ValueError as exc:  # an unknown protocol
        raise ValueError(f"{url!r} is not a URL fsspec can open: {exc}") from exc


def event_files(url: str, storage_options: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    """``(run, file URL)`` for ``url`` itself if it is a file, else for every event file below it.

    ``run`` is the file's directory relative to ``url`` ("." for ``url`` itself). Sorted by
    run, then by name (name order is write order, segments included).
    """
    fs, root = url_to_fs(url, storage_options)
    root = root.rstrip("/")
    if fs.isfile(root):
        return [(".", url)]
    if not fs.isdir(root):
        raise FileNotFoundError(f"no event file or directory at {url!r}")
    found = []
    for path in fs.find(root):
        directory, name = posixpath.split(path)
        if _EVENTS_MARK in name:
            run = directory[len(root) + 1 :] if directory != root else "."
            found.append((run, name))
    found.sort()
    return [(run, join(url, run if run != "." else "", name)) for run, name in found]


def open_for_reading(path: str, storage_options: dict[str, Any] | None = None) -> BinaryIO:
    """A binary stream of a local file or an fsspec URL."""
    if not is_url(path):
        return open(path, "rb")
    fs, inner = url_to_fs(path, storage_options)
    stream: BinaryIO = fs.open(inner, "rb")
    return stream
