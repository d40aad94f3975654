"""The ``tblog`` command: look into, export, follow and plot TensorBoard log directories.

    tblog inspect runs/                      # runs, tags per dashboard, steps, last values, files
    tblog export runs/ -o scalars.csv        # or .json, .jsonl, .parquet
    tblog tail runs/ --tag 'train/*'         # new scalars as they are written, like tail -f
    tblog plot runs/ --tag '*/loss' -o loss.png
    tblog demo                               # a small training run logged to runs/demo

``main`` parses the arguments (``parser``) and runs one ``cmd_*`` function of ``commands``;
the work of each lives in the module named after it (``inspect``, ``export``, ``tail``,
``plot``). The command reads with ``tblog.read`` and never imports the writer side.
"""

from __future__ import annotations

from tblog.cli.main import main

__all__ = ["main"]
