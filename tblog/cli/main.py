"""``tblog``'s entry point: parse the arguments, run the sub-command, turn failures into one
line on stderr and an exit status."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from tblog.cli.errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CommandError
from tblog.cli.parser import build_parser
from tblog.cli.selection import forget_warnings


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tblog`` command; returns its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if getattr(args, "lines", 0) < 0:
        parser.error(f"-n/--lines must be 0 or more, got {args.lines}")
    forget_warnings()
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
