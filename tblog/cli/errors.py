"""The exit statuses of the ``tblog`` command and the errors that choose them."""

from __future__ import annotations

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
