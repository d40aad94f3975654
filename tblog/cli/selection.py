"""What a ``tblog`` command reads: the log directory checked, its runs selected by ``--run``,
a ``tblog.read`` table of them, and the reader's warnings printed one line each, once."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from tblog.cli.errors import CommandError


def check_logdir(path: str) -> str:
    """``path`` if it is a directory or an event file; else a CommandError saying what it is."""
    from tblog import _fs
    from tblog.read.files import EVENTS_MARK

    if _fs.is_url(path):  # fsspec: tblog.read says what is wrong with it
        return path
    if not os.path.exists(path):
        raise CommandError(f"LOGDIR {path!r} does not exist")
    if os.path.isfile(path) and EVENTS_MARK not in os.path.basename(path):
        raise CommandError(f"LOGDIR {path!r} is a file, not a log directory or an event file")
    if not os.path.isfile(path) and not os.path.isdir(path):  # a FIFO, socket or device: never opened
        raise CommandError(f"LOGDIR {path!r} is {_kind(path)}, not a log directory or an event file")
    return path


def _kind(path: str) -> str:
    from tblog.events.record import file_kind

    return file_kind(os.stat(path).st_mode)


def find_runs(logdir: str, run_globs: Sequence[str] | None, command: str) -> dict[str, list[str]]:
    """Run name -> event files under ``logdir``, those matching ``run_globs``; an error if none.
    What cannot be read (a FIFO named like an event file, a directory without permission) is
    printed as one warning line of ``tblog <command>``."""
    from tblog import read
    from tblog.read.filters import name_filter

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            found = read.runs(check_logdir(logdir))  # warns about what cannot be read
    except (FileNotFoundError, ValueError) as error:  # a URL that names nothing, or no URL
        raise CommandError(str(error)) from None
    _warn(command, caught)
    if not found:
        raise CommandError(f"no event files (events.out.tfevents.*) under {logdir!r}")
    keep_run = name_filter(run_globs, "--run")
    selected = {run: files for run, files in found.items() if keep_run(run)}
    if not selected:
        raise CommandError(f"no run matches --run {' '.join(run_globs or [])!r}; runs: {_listing(found)}")
    return selected


def _listing(names: Any, limit: int = 10) -> str:
    names = sorted(names)
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


_warned: set[str] = set()  # warnings printed so far: each once (every run's read lists the logdir)


def forget_warnings() -> None:
    """Print each warning again, once, in the next command (``main`` may run many times)."""
    _warned.clear()


def _warn(command: str, caught: list[warnings.WarningMessage]) -> None:
    """Print the caught warnings (a corrupt record, an unreadable file...) one line each, once."""
    for w in caught:
        text = " ".join(str(w.message).split())  # one line, even for a name holding a newline
        if text not in _warned:
            _warned.add(text)
            print(f"tblog {command}: warning: {text}", file=sys.stderr)


def read_table(
    logdir: str, runs: dict[str, list[str]], args: argparse.Namespace, what: str
) -> dict[str, Any]:
    """The ``tblog.read.<what>`` table of the selected runs, tags and steps, with a progress bar."""
    from tblog import read
    from tblog._progress import Progress, progress_enabled
    from tblog.cli.export import concat, exactly, length
    from tblog.cli.growing_file import file_size

    reader = getattr(read, what)
    filters = {} if what == "hparams" else {"tags": args.tag, "steps": args.steps}
    sizes = {run: sum(file_size(f) for f in files) for run, files in runs.items()}
    enabled = progress_enabled(sys.stderr, args.quiet)
    with (
        Progress(sum(sizes.values()), "reading", unit="B", enabled=enabled) as bar,
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        if what == "hparams":  # metrics may live in other runs (hparams groups): read them together
            tables = [reader(logdir, runs=[exactly(run) for run in runs], dataframe=False)]
            bar.advance(sum(sizes.values()))
        else:
            tables = []
            for run, size in sizes.items():  # run by run, so the bar moves as each run is read
                tables.append(reader(logdir, runs=exactly(run), dataframe=False, **filters))
                bar.advance(size)
    _warn(args.command, caught)
    table = concat([t for t in tables if length(t)])
    if not length(table):
        wanted = f" matching --tag {' '.join(args.tag)!r}" if args.tag else ""
        raise CommandError(f"no {what}{wanted} in {logdir!r}")
    return table
