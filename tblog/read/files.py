"""Where a log directory's event files are, and opening them: local paths and fsspec URLs.

Only regular files are event files: a FIFO, socket or device named like one is never opened
(that could block), and it, like a directory or file that cannot be read, is reported per
``on_corrupt`` instead of raised.
"""

from __future__ import annotations

import os
import stat
from typing import Any, BinaryIO

from tblog import _fs
from tblog.events.files import FILE_PREFIX
from tblog.events.record import NotRegularFileError, OnCorrupt, not_regular, open_regular, report_corrupt

EVENTS_MARK = FILE_PREFIX.rstrip(".")  # what TensorBoard looks for in a name: "tfevents"


def event_files(
    path: str | os.PathLike[str],
    *,
    on_corrupt: OnCorrupt = "warn",
    storage_options: dict[str, Any] | None = None,
) -> list[str]:
    """The event files at ``path``: the file itself, or every one below a directory.

    Files are sorted by directory, then by name (name order is creation order). ``path`` may
    be an fsspec URL (``s3://bucket/run``; ``storage_options`` go to its file system).

    Only regular files are event files. Below ``path``, a FIFO, socket or device named like an
    event file (never opened: that could block), and a directory or file that cannot be read,
    are left out and reported per ``on_corrupt`` (a ``CorruptRecordWarning`` naming it, by
    default). ``path`` itself must be readable: else the ``OSError`` (``PermissionError``,
    ``FileNotFoundError``, ``NotRegularFileError``) is raised.
    """
    path = os.fspath(path)
    if _fs.is_url(path):
        return _local_regular(
            [file for _, file in _fs.event_files(path, storage_options)], on_corrupt, storage_options
        )
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"no event file or directory at {path!r}") from None
    if stat.S_ISREG(mode):
        open_regular(path).close()  # unreadable: raise now
        return [path]
    if not stat.S_ISDIR(mode):
        raise not_regular(path, mode)

    def unreadable(error: OSError) -> None:
        if error.filename == path:
            raise error  # the directory the caller named
        if not isinstance(error, FileNotFoundError):  # not merely removed while we walk
            report_corrupt(
                on_corrupt,
                f"{error.filename}: directory cannot be read ({error.strerror}); its event files are skipped",
                cause=error,
            )

    found: list[str] = []
    for directory, _, names in os.walk(path, onerror=unreadable):
        for name in names:
            if EVENTS_MARK in name:
                file = os.path.join(directory, name)
                if _is_regular(file, file, on_corrupt):
                    found.append(file)
    return sorted(found, key=lambda f: (os.path.dirname(f), os.path.basename(f)))


def _is_regular(local: str, name: str, on_corrupt: OnCorrupt) -> bool:
    """Whether the local path ``local`` (``name`` in messages) is a regular file; if not, and it
    was not merely removed meanwhile, that is reported."""
    try:
        mode = os.stat(local).st_mode
    except FileNotFoundError as error:
        if os.path.lexists(local):
            report_corrupt(on_corrupt, f"{name}: is a broken symbolic link; skipped", cause=error)
        return False
    except OSError as error:
        report_corrupt(on_corrupt, f"{name}: cannot be read ({error.strerror}); skipped", cause=error)
        return False
    if stat.S_ISREG(mode):
        return True
    report_corrupt(on_corrupt, f"{not_regular(name, mode)}; skipped")
    return False


def _local_regular(
    urls: list[str], on_corrupt: OnCorrupt, storage_options: dict[str, Any] | None
) -> list[str]:
    """``urls`` without the FIFOs and devices among them, where they name the local disk (``file://``)."""
    if not urls or not _fs.is_local(_fs.url_to_fs(urls[0], storage_options)[0]):
        return urls
    return [url for url in urls if _is_regular(_fs.url_to_fs(url, storage_options)[1], url, on_corrupt)]


def open_event_file(path: str, storage_options: dict[str, Any] | None = None) -> BinaryIO:
    """A binary stream of a local event file or an fsspec URL; a local path (``file://`` too)
    that is no regular file raises ``NotRegularFileError`` at once instead of blocking."""
    if not _fs.is_url(path):
        return open_regular(path)
    fs, inner = _fs.url_to_fs(path, storage_options)
    if _fs.is_local(fs):
        return open_regular(inner)
    stream: BinaryIO = fs.open(inner, "rb")
    return stream


def open_or_report(
    path: str, on_corrupt: OnCorrupt, storage_options: dict[str, Any] | None
) -> BinaryIO | None:
    """``open_event_file``, or None after reporting a local file that cannot be read (no longer
    regular, no permission, removed since it was listed) per ``on_corrupt``."""
    try:
        return open_event_file(path, storage_options)
    except NotRegularFileError as error:
        report_corrupt(on_corrupt, f"{error}; skipped", stacklevel=4)
    except OSError as error:
        if _fs.is_url(path):
            raise
        report_corrupt(
            on_corrupt, f"{path}: cannot be read ({error.strerror}); skipped", stacklevel=4, cause=error
        )
    return None


def runs(
    logdir: str | os.PathLike[str],
    *,
    on_corrupt: OnCorrupt = "warn",
    storage_options: dict[str, Any] | None = None,
) -> dict[str, list[str]]:
    """Run name (directory relative to ``logdir``, "." for itself) → its event files.

    What cannot be read is reported per ``on_corrupt``, as in ``event_files``."""
    logdir = os.fspath(logdir)
    result: dict[str, list[str]] = {}
    if _fs.is_url(logdir):
        urls = _fs.event_files(logdir, storage_options)
        kept = set(_local_regular([url for _, url in urls], on_corrupt, storage_options))
        for run, url in urls:
            if url in kept:
                result.setdefault(run, []).append(url)
        return result
    files = event_files(logdir, on_corrupt=on_corrupt)
    is_dir = os.path.isdir(logdir)
    for file in files:
        run = os.path.relpath(os.path.dirname(file), logdir) if is_dir else "."
        result.setdefault(run.replace(os.sep, "/"), []).append(file)
    return result
