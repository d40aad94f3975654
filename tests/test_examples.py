"""The scripts in examples/ run as written and log what they promise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, logdir: Path, env: dict[str, str] | None = None) -> str:
    """Run ``examples/<name>.py --logdir logdir`` in a fresh interpreter; return its stdout."""
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), "--logdir", str(logdir)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, f"{name}.py failed:\n{proc.stdout}\n{proc.stderr}"
    assert proc.stdout.strip().splitlines()[-1] == f"tensorboard --logdir {logdir}"
    return proc.stdout


def steps(acc: Any, tag: str) -> list[int]:
    """The steps of scalar ``tag`` in the loaded run."""
    return [e.step for e in acc.Scalars(tag)]


def test_numpy_quickstart(tmp_path: Path, event_accumulator: Any) -> None:
    """The README quick start writes its scalars, dict tags, add_scalars sub-runs and text."""
    logdir = tmp_path / "quickstart"
    run_example("numpy_quickstart", logdir)
    acc = event_accumulator(logdir)
    for tag in ("train/loss", "train/lr", "train/accuracy"):
        assert steps(acc, tag) == list(range(100)), tag
    assert acc.Scalars("train/lr")[0].value == pytest.approx(0.1, rel=1e-6)
    assert "notes/text_summary" in acc.Tags()["tensors"]
    for sub in ("loss_train", "loss_val"):
        assert steps(event_accumulator(logdir / sub), "loss") == list(range(100)), sub


@pytest.mark.framework
def test_torch_loop(tmp_path: Path, event_accumulator: Any) -> None:
    """torch_loop.py logs track()'s lr/grad norm/loss every 10 steps and watch()'s histograms every 20."""
    pytest.importorskip("torch")
    logdir = tmp_path / "torch"
    run_example("torch_loop", logdir)
    acc = event_accumulator(logdir)
    every10 = list(range(10, 101, 10))
    for tag in (
        "train/lr/group0",
        "train/grad_norm",
        "train/loss",
        "train/step_time",
        "train/samples_per_sec",
    ):
        assert steps(acc, tag) == every10, tag
    lrs = [e.value for e in acc.Scalars("train/lr/group0")]
    # the lr each step used (logged before scheduler.step()): StepLR halves it after step 50
    assert lrs == pytest.approx([0.1] * 5 + [0.05] * 5, rel=1e-6)
    names = ("0.weight", "0.bias", "2.weight", "2.bias")
    histograms = set(acc.Tags()["histograms"])
    assert {f"{kind}/{n}" for kind in ("parameters", "gradients") for n in names} <= histograms
    assert [e.step for e in acc.Histograms("parameters/0.weight")] == list(range(20, 101, 20))
    assert steps(acc, "gradients_norm/2.weight") == list(range(20, 101, 20))


@pytest.mark.framework
def test_jax_loop(tmp_path: Path, event_accumulator: Any) -> None:
    """jax_loop.py logs metrics every 10 steps, histograms every 50, the in-jit scalar every step, a graph."""
    pytest.importorskip("jax")
    logdir = tmp_path / "jax"
    run_example("jax_loop", logdir)
    acc = event_accumulator(logdir)
    for tag in ("loss", "bias"):
        assert steps(acc, tag) == list(range(0, 100, 10)), tag
    losses = [e.value for e in acc.Scalars("loss")]
    assert losses[-1] < losses[0] / 10
    assert acc.Scalars("bias")[-1].value == pytest.approx(0.7, abs=0.1)
    assert steps(acc, "inner/grad_norm") == list(range(100))
    assert [e.step for e in acc.Histograms("params/w")] == [0, 50]
    assert "params/b" in acc.Tags()["histograms"]
    assert acc.Tags()["graph"]


@pytest.mark.framework
def test_keras_fit(tmp_path: Path, event_accumulator: Any) -> None:
    """keras_fit.py writes Keras's train/ and validation/ runs: epoch_loss per epoch, histograms, graph."""
    pytest.importorskip("jax")
    logdir = tmp_path / "keras"
    run_example("keras_fit", logdir, env={"KERAS_BACKEND": "jax"})
    train = event_accumulator(logdir / "train")
    validation = event_accumulator(logdir / "validation")
    for tag in ("epoch_loss", "epoch_accuracy", "epoch_learning_rate"):
        assert steps(train, tag) == [0, 1, 2], tag
    for tag in ("epoch_loss", "epoch_accuracy"):
        assert steps(validation, tag) == [0, 1, 2], tag
    assert "classifier/hidden/kernel/histogram" in train.Tags()["histograms"]
    assert "keras" in train.Tags()["tensors"]
