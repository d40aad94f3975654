"""The sub-commands of ``tblog``: one ``cmd_*`` function each, taking the parsed arguments
and returning the exit status; the work lives in the module named after the command."""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from tblog.cli.errors import EXIT_OK, CommandError, UsageError
from tblog.cli.selection import check_logdir, find_runs, read_table


def cmd_inspect(args: argparse.Namespace) -> int:
    """List what a log directory holds: its runs, each run's tags per dashboard with their
    step ranges and counts, the last value of each scalar, hparam values, event files (bytes,
    incomplete tails), projector and profile files, and any corrupted records."""
    import json

    from tblog._progress import Progress, progress_enabled
    from tblog.cli import inspect
    from tblog.cli.growing_file import file_size

    runs = find_runs(args.logdir, args.run, args.command)
    total = sum(file_size(f) for files in runs.values() for f in files)
    with Progress(total, "reading", unit="B", enabled=progress_enabled(sys.stderr, args.quiet)) as bar:
        stats = {run: inspect.inspect_run(files, bar.advance) for run, files in runs.items()}
    report = inspect.to_json(args.logdir, stats, inspect.side_files(args.logdir))
    print(json.dumps(report, indent=2) if args.json else inspect.to_text(report))
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    """Write a tblog.read table (scalars by default: run, tag, step, wall_time, value) as CSV,
    JSON, JSON lines or Parquet, to stdout or -o OUT.

    CSV keeps every float exactly. A CSV text cell (a run, tag, text or hparam) that starts
    with =, +, -, @, a tab or a carriage return gets a leading ' so that a spreadsheet shows
    it instead of running it as a formula (CSV injection); numbers, negative ones included,
    are written as they are."""
    from tblog.cli import export

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
    from tblog.cli.export import SUFFIX_FORMAT

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
    from tblog.cli.tail import follow
    from tblog.read.filters import name_filter

    check_logdir(args.logdir)
    keep_run, keep_tag = name_filter(args.run, "--run"), name_filter(args.tag, "--tag")

    def keep(run: str, tag: str) -> bool:
        return keep_run(run) and keep_tag(tag)

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
    from tblog.cli.plot import MAX_CHARTS, plot

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
