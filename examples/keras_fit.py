"""Keras ``model.fit`` with tblog.adapters.keras.TensorBoard, without TensorFlow.

A small classifier on synthetic data, on the JAX backend unless ``KERAS_BACKEND`` says
otherwise (torch works too). The callback writes Keras's own layout: ``train/`` and
``validation/`` runs with ``epoch_loss``, ``epoch_accuracy``, the learning rate, weight
histograms and the conceptual graph.

    python examples/keras_fit.py --logdir runs/keras_fit
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "jax")  # fixed when keras is first imported

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tblog.adapters.keras import TensorBoard  # noqa: E402

EPOCHS = 3


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logdir", default="runs/keras_fit", help="run directory to write")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 8)).astype("float32")
    y = (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype("int32")

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(shape=(8,)),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(2, name="logits"),
        ],
        name="classifier",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(
        x,
        y,
        epochs=EPOCHS,
        batch_size=64,
        validation_split=0.2,
        verbose=0,
        callbacks=[TensorBoard(log_dir=args.logdir, histogram_freq=1)],  # as keras.callbacks.TensorBoard
    )

    print(f"tensorboard --logdir {args.logdir}")


if __name__ == "__main__":
    main()
