"""The README's Quick start as a script: scalars, a nested dict, overlaid curves and text.

python examples/numpy_quickstart.py --logdir runs/quickstart
"""

from __future__ import annotations

import argparse

import numpy as np

from tblog import SummaryWriter


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logdir", default="runs/quickstart", help="run directory to write")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    with SummaryWriter(args.logdir) as writer:
        for step in range(100):
            loss = 1.0 / (step + 1) + 0.01 * rng.random()  # a NumPy scalar works as well
            writer.add_scalar("train/loss", loss, step)
            writer.log({"train": {"lr": 0.1, "accuracy": 1 - loss}}, step)  # train/lr, train/accuracy
            writer.add_scalars("loss", {"train": loss, "val": 1.2 * loss}, step)  # runs loss_train, loss_val
        writer.add_text("notes", "**markdown** works here")

    print(f"tensorboard --logdir {args.logdir}")


if __name__ == "__main__":
    main()
