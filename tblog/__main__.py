"""``python -m tblog``: the ``tblog`` command (see tblog.cli)."""

import sys

from tblog.cli import main

if __name__ == "__main__":
    sys.exit(main())
