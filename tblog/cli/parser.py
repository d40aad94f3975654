"""The argument parser of the ``tblog`` command: one sub-parser per ``cmd_*`` function, whose
docstring is the sub-command's ``--help`` description."""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable
from typing import Any

from tblog import __version__
from tblog.cli import args as args_
from tblog.cli.commands import cmd_demo, cmd_export, cmd_inspect, cmd_plot, cmd_tail
from tblog.cli.errors import EXIT_STATUS


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
