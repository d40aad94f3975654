"""Write the small tf.summary event files under tests/data/tf_summary/ (run with TensorFlow).

    python scripts/make_tf_fixtures.py [OUT_DIR]     # needs tensorflow-cpu; tblog never does

tests/test_read_tables.py reads these files and checks them against the values below, which
it recomputes with the same formulas (``expected_*``), so regenerating them keeps the test
valid. Wall times and file names change on every run; nothing checks them.

Layout (runs are directories under OUT_DIR):

* ``.``: the hparams experiment (``hp.hparams_config``: hparams lr, optimizer, dropout_on;
  metric accuracy).
* ``run_a``, ``run_b``: per step 0..4 ``tf.summary.scalar("loss")`` and
  ``scalar("accuracy")``, ``histogram("weights")`` of 100 values, ``text("note")``; at step 0
  an ``image("digits")`` of 2 images (4x3 RGB and 4x3, uint8); ``hp.hparams`` of the run.
"""

from __future__ import annotations

import os
import shutil
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(os.path.dirname(HERE), "tests", "data", "tf_summary")
RUNS = {"run_a": 0, "run_b": 1}
STEPS = 5
HPARAMS = {
    "run_a": {"lr": 0.1, "optimizer": "adam", "dropout_on": True},
    "run_b": {"lr": 0.01, "optimizer": "sgd", "dropout_on": False},
}


def expected_loss(run: int, step: int) -> float:
    return 1.0 / (step + 1) + run


def expected_accuracy(run: int, step: int) -> float:
    return 0.5 + 0.1 * step - 0.05 * run


def expected_weights(run: int, step: int) -> np.ndarray:
    return np.linspace(-1.0, 1.0, 100) * (step + 1) + run


def expected_note(run: int, step: int) -> str:
    return f"**run {run}** step {step}"


def expected_digits(run: int) -> np.ndarray:
    """Two 4x3 RGB uint8 images (N, H, W, C)."""
    pixels = np.arange(2 * 4 * 3 * 3, dtype=np.int64).reshape(2, 4, 3, 3)
    return ((pixels * 7 + run * 50) % 256).astype(np.uint8)


def main(out: str) -> None:
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    shutil.rmtree(out, ignore_errors=True)
    with tf.summary.create_file_writer(out).as_default():
        hp.hparams_config(
            hparams=[
                hp.HParam("lr", hp.RealInterval(0.001, 1.0)),
                hp.HParam("optimizer", hp.Discrete(["adam", "sgd"])),
                hp.HParam("dropout_on", hp.Discrete([True, False])),
            ],
            metrics=[hp.Metric("accuracy", display_name="Accuracy")],
        )
    for name, run in RUNS.items():
        writer = tf.summary.create_file_writer(os.path.join(out, name))
        with writer.as_default():
            hp.hparams(HPARAMS[name], trial_id=name)
            for step in range(STEPS):
                tf.summary.scalar("loss", expected_loss(run, step), step=step)
                tf.summary.scalar("accuracy", expected_accuracy(run, step), step=step)
                tf.summary.histogram("weights", expected_weights(run, step), step=step, buckets=5)
                tf.summary.text("note", expected_note(run, step), step=step)
            tf.summary.image("digits", expected_digits(run), step=0, max_outputs=2)
        writer.close()
    for directory, _, names in os.walk(out):
        for file in names:
            print(
                os.path.relpath(os.path.join(directory, file), out),
                os.path.getsize(os.path.join(directory, file)),
            )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT)
