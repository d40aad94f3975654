"""The ``tblog`` command: look into, export, follow and plot TensorBoard log directories.

    tblog inspect runs/                      # runs, tags per dashboard, steps, last values, files
    tblog export runs/ -o scalars.csv        # or .json, .jsonl, .parquet
    tblog tail runs/ --tag 'train/*'         # new scalars as they are written, like tail -f
    tblog plot runs/ --tag '*/loss' -o loss.png
    tblog demo                               # a small training run logged to runs/demo

Each sub-command is one ``cmd_*`` function below; the work lives in ``tblog._cli_*``.
"""

from __future__ import annotations

import argparse
import fnmatch
import inspect
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tblog import __version__
from tblog import _cli_args as args_

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

EXIT_STATUS = """\
exit status:
  0    success
  1    error: a missing path, no event files, nothing matched the filters, a file that
       cannot be read or written, an optional dependency that is not installed
  2    bad usage: an unknown command or option, or a bad option value
  130  interrupted with Ctrl-C (tblog tail is ended by Ctrl-C normally and exits 0)
"""


class CommandError(Exception):
    """A failure the user can fix; printed as one line, without a traceback (exit status 1)."""

    status = EXIT_ERROR


class UsageError(CommandError):
    """Options that do not go together (exit status 2, like argparse's own errors)."""

    status = EXIT_USAGE


# --------------------------------------------------------------------------- shared helpers


def matches(name: str, patterns: Sequence[str] | None) -> bool:
    """Whether ``name`` matches any of the globs (no globs: everything matches)."""
    return not patterns or any(fnmatch.fnmatchcase(name, p) for p in patterns)


def check_logdir(path: str) -> str:
    """``path`` if it is a directory or an event file; else a CommandError saying what it is."""
    from tblog import _fs
    from tblog.events.files import FILE_PREFIX

    if _fs.is_url(path):  # fsspec: tblog.read says what is wrong with it
        return path
    if not os.path.exists(path):
        raise CommandError(f"LOGDIR {path!r} does not exist")
    if os.path.isfile(path) and FILE_PREFIX.rstrip(".") not in os.path.basename(path):
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

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            found = read.runs(check_logdir(logdir))  # warns about what cannot be read
    except (FileNotFoundError, ValueError) as error:  # a URL that names nothing, or no URL
        raise CommandError(str(error)) from None
    _warn(command, caught)
    if not found:
        raise CommandError(f"no event files (events.out.tfevents.*) under {logdir!r}")
    selected = {run: files for run, files in found.items() if matches(run, run_globs)}
    if not selected:
        raise CommandError(f"no run matches --run {' '.join(run_globs or [])!r}; runs: {_listing(found)}")
    return selected


def _listing(names: Any, limit: int = 10) -> str:
    names = sorted(names)
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


_warned: set[str] = set()  # warnings printed so far: each once (every run's read lists the logdir)


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
    from tblog._cli_export import concat, exactly, length
    from tblog._cli_records import file_size
    from tblog._progress import Progress, progress_enabled

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


# --------------------------------------------------------------------------- sub-commands


def cmd_inspect(args: argparse.Namespace) -> int:
    """List what a log directory holds: its runs, each run's tags per dashboard with their
    step ranges and counts, the last value of each scalar, hparam values, event files (bytes,
    incomplete tails), projector and profile files, and any corrupted records."""
    import json

    from tblog import _cli_inspect
    from tblog._cli_records import file_size
    from tblog._progress import Progress, progress_enabled

    runs = find_runs(args.logdir, args.run, args.command)
    total = sum(file_size(f) for files in runs.values() for f in files)
    with Progress(total, "reading", unit="B", enabled=progress_enabled(sys.stderr, args.quiet)) as bar:
        stats = {run: _cli_inspect.inspect_run(files, bar.advance) for run, files in runs.items()}
    report = _cli_inspect.to_json(args.logdir, stats, _cli_inspect.side_files(args.logdir))
    print(json.dumps(report, indent=2) if args.json else _cli_inspect.to_text(report))
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    """Write a tblog.read table (scalars by default: run, tag, step, wall_time, value) as CSV,
    JSON, JSON lines or Parquet, to stdout or -o OUT.

    CSV keeps every float exactly. A CSV text cell (a run, tag, text or hparam) that starts
    with =, +, -, @, a tab or a carriage return gets a leading ' so that a spreadsheet shows
    it instead of running it as a formula (CSV injection); numbers, negative ones included,
    are written as they are."""
    from tblog import _cli_export as export

    fmt = args.format or _format_from_suffix(args.output)
    to_stdout = args.output in (None, "-")
    if fmt == "parquet" and to_stdout:
        raise UsageError("--format parquet writes a binary file: name it with -o FILE.parquet")
    if not to_stdout:
        _check_output(args.output)
    if args.what == "hparams" and (args.tag or args.steps):
        raise UsageError("--what hparams has one row per run: --tag and --steps do not apply")
    table = read_table(args.logdir, find_runs(args.logdir, args.run, args.command), args, args.what)
    if fmt == "parquet":
        export.write(table, fmt, None, args.output)
    elif to_stdout:
        export.write(table, fmt, sys.stdout, None)
    else:
        with open(args.output, "w", encoding="utf-8", newline="") as out:
            export.write(table, fmt, out, None)
    if not args.quiet and not to_stdout:
        rows = export.length(table)
        print(f"wrote {rows:,} row{'s' * (rows != 1)} to {args.output}", file=sys.stderr)
    return EXIT_OK


def _format_from_suffix(output: str | None) -> str:
    from tblog._cli_export import SUFFIX_FORMAT

    suffix = os.path.splitext(output or "")[1].lower()
    return SUFFIX_FORMAT.get(suffix, "csv")


def _check_output(path: str) -> None:
    if os.path.isdir(path):
        raise CommandError(f"-o {path!r} is a directory; expected a file name")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise CommandError(f"-o {path!r}: the directory {parent!r} does not exist")


def cmd_tail(args: argparse.Namespace) -> int:
    """Print the last scalars, then new ones as they are written, like tail -f: files are read
    from where the last look stopped, new runs and files are picked up, and a half-written
    record is waited for. Ctrl-C stops it (exit status 0)."""
    from tblog._cli_tail import follow

    check_logdir(args.logdir)

    def keep(run: str, tag: str) -> bool:
        return matches(run, args.run) and matches(tag, args.tag)

    return follow(
        args.logdir,
        keep,
        out=sys.stdout,
        err=sys.stderr,
        last=args.lines,
        interval=args.interval,
        timeout=args.timeout,
        once=args.once,
        as_json=args.jsonl,
        quiet=args.quiet,
    )


def cmd_plot(args: argparse.Namespace) -> int:
    """Draw scalars to an image file with matplotlib (no display needed): one chart per tag,
    one line per run."""
    from tblog._cli_plot import MAX_CHARTS, plot

    _check_output(args.output)
    table = read_table(args.logdir, find_runs(args.logdir, args.run, args.command), args, "scalars")
    series: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for tag in sorted(set(table["tag"])):
        for run in sorted(set(table["run"][table["tag"] == tag])):
            rows = (table["tag"] == tag) & (table["run"] == run)
            order = np.argsort(table["step"][rows], kind="stable")
            series.setdefault(tag, {})[run] = (table["step"][rows][order], table["value"][rows][order])
    if len(series) > MAX_CHARTS:
        raise CommandError(f"--tag matches {len(series)} tags; at most {MAX_CHARTS} fit in one image")
    plot(series, args.output, size=args.size, smoothing=args.smoothing, title=args.title)
    if not args.quiet:
        print(f"wrote {len(series)} chart{'s' * (len(series) != 1)} to {args.output}", file=sys.stderr)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Train a small NumPy MLP on two spirals and log every TensorBoard dashboard to LOGDIR
    (replaced on every run), with a progress bar."""
    from tblog import demo

    if os.path.isfile(args.logdir):
        raise CommandError(f"LOGDIR {args.logdir!r} is a file; the demo needs a directory")
    argv = ["--logdir", args.logdir, "--steps", str(args.steps), "--seed", str(args.seed)]
    return demo.main(argv + (["--quiet"] if args.quiet else []))


# --------------------------------------------------------------------------- the parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tblog",
        description="Look into, export, follow and plot TensorBoard log directories.",
        epilog=EXIT_STATUS + "\nRun 'tblog COMMAND --help' for a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"tblog {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", help="no progress bars or status messages")
    runs = argparse.ArgumentParser(add_help=False)
    runs.add_argument(
        "--run", action="append", type=args_.glob, metavar="GLOB", help="only runs matching GLOB (repeatable)"
    )
    tags = argparse.ArgumentParser(add_help=False)
    tags.add_argument(
        "--tag", action="append", type=args_.glob, metavar="GLOB", help="only tags matching GLOB (repeatable)"
    )
    steps = argparse.ArgumentParser(add_help=False)
    steps.add_argument(
        "--steps", type=args_.steps, metavar="MIN:MAX", help="only steps in this inclusive range"
    )

    def add(name: str, func: Callable[[argparse.Namespace], int], parents: list[Any], help: str) -> Any:
        sub = commands.add_parser(
            name,
            parents=[common, *parents],
            help=help,
            description=inspect.cleandoc(func.__doc__ or ""),
            epilog=EXIT_STATUS,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(func=func)
        return sub

    logdir_help = (
        "a log directory (every directory below it with event files is a run), an event file, "
        "or an fsspec URL"
    )

    sub = add("inspect", cmd_inspect, [runs], "list runs, tags per dashboard, steps, last values and files")
    sub.add_argument("logdir", metavar="LOGDIR", help=logdir_help)
    sub.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")

    sub = add(
        "export", cmd_export, [runs, tags, steps], "write scalars (or another table) to CSV, JSON or Parquet"
    )
    sub.add_argument("logdir", metavar="LOGDIR", help=logdir_help)
    sub.add_argument(
        "--format",
        choices=("csv", "json", "jsonl", "parquet"),
        help="output format (default: from -o's suffix, else csv; text that looks like a spreadsheet "
        "formula gets a leading ' in csv); parquet needs pyarrow",
    )
    sub.add_argument("-o", "--output", metavar="OUT", help="output file (default: stdout; '-' is stdout)")
    sub.add_argument(
        "--what",
        choices=("scalars", "histograms", "texts", "hparams"),
        default="scalars",
        help="which tblog.read table to export (default: scalars)",
    )

    sub = add("tail", cmd_tail, [runs, tags], "print the last scalars, then new ones as they are written")
    sub.add_argument("logdir", metavar="LOGDIR", help=logdir_help)
    sub.add_argument(
        "-n", "--lines", type=int, default=10, metavar="N", help="existing points to show first (10)"
    )
    sub.add_argument(
        "--interval", type=args_.positive, default=1.0, metavar="S", help="seconds between looks (1)"
    )
    sub.add_argument("--timeout", type=args_.positive, metavar="S", help="stop following after S seconds")
    sub.add_argument("--once", action="store_true", help="print the last points and exit, do not follow")
    sub.add_argument("--jsonl", action="store_true", help="one JSON object per line")

    sub = add(
        "plot", cmd_plot, [runs, steps], "draw scalars to an image: one chart per tag, one line per run"
    )
    sub.add_argument("logdir", metavar="LOGDIR", help=logdir_help)
    sub.add_argument(
        "--tag",
        action="append",
        type=args_.glob,
        required=True,
        metavar="GLOB",
        help="tags to plot (repeatable)",
    )
    sub.add_argument(
        "-o", "--output", type=args_.plot_output, required=True, metavar="OUT", help="image file (.png …)"
    )
    sub.add_argument("--size", type=args_.size, default=(1000, 600), metavar="WxH", help="pixels (1000x600)")
    sub.add_argument(
        "--smoothing", type=args_.smoothing, default=0.0, metavar="W", help="TensorBoard's smoothing, 0..1"
    )
    sub.add_argument("--title", help="a title above the charts")

    from tblog.demo import DEFAULT_LOGDIR, Config

    sub = add("demo", cmd_demo, [], "train a small NumPy MLP and log every dashboard")
    sub.add_argument(
        "logdir", metavar="LOGDIR", nargs="?", default=DEFAULT_LOGDIR, help=f"({DEFAULT_LOGDIR})"
    )
    sub.add_argument(
        "--steps", type=args_.at_least_one, default=Config.steps, help=f"training steps ({Config.steps})"
    )
    sub.add_argument("--seed", type=int, default=Config.seed, help=f"data and init seed ({Config.seed})")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tblog`` command; returns its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if getattr(args, "lines", 0) < 0:
        parser.error(f"-n/--lines must be 0 or more, got {args.lines}")
    _warned.clear()
    try:
        return int(args.func(args))
    except CommandError as error:
        print(f"tblog {args.command}: error: {error}", file=sys.stderr)
        return error.status
    except ImportError as error:
        if "pip install" not in str(error):  # not a missing extra: a real bug
            raise
        print(f"tblog {args.command}: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_OK if args.command == "tail" else EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`tblog tail ... | head`): stop quietly, like other tools.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as error:
        print(f"tblog {args.command}: error: {error}", file=sys.stderr)
        return EXIT_ERROR
