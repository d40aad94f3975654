"""torch tensors and JAX arrays as scalars: accepted, correct, and not read in the caller."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tblog
from tblog import _convert

# Skipped where the frameworks are absent (the core runs); tests/run.sh fails the main run on
# any such skip, so they cannot hide there.
jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
torch = pytest.importorskip("torch")
torch_tensorboard = pytest.importorskip("torch.utils.tensorboard")

pytestmark = pytest.mark.framework


def test_torch_tensors_are_accepted(tmp_path: Path, event_accumulator: Any) -> None:
    """CPU torch tensors (grad-tracking, any one-element shape, int, bool, bf16) log as scalars."""
    weight = torch.tensor([2.5], requires_grad=True)
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_scalar("t", (weight * 2).sum(), 0)
        writer.add_scalar("t", torch.tensor([[3]]), 1)
        writer.add_scalar("t", torch.tensor(True), 2)
        writer.add_scalar("t", torch.tensor(0.5, dtype=torch.bfloat16), torch.tensor(3))
        writer.log({"t2": torch.tensor(1.25)}, 0)
        writer.add_scalars("ts", {"a": torch.tensor(4.0)}, 0)
    acc = event_accumulator(tmp_path)
    assert [(p.step, p.value) for p in acc.Scalars("t")] == [(0, 5.0), (1, 3.0), (2, 1.0), (3, 0.5)]
    assert acc.Scalars("t2")[0].value == 1.25
    assert event_accumulator(tmp_path / "ts_a").Scalars("ts")[0].value == 4.0


def test_torch_bad_tensors_are_clear_errors(tmp_path: Path) -> None:
    """Multi-element, complex and meta tensors are refused with their shape/dtype named."""
    writer = tblog.SummaryWriter(tmp_path)
    with pytest.raises(ValueError, match=r"exactly one element; got Tensor of shape \(2, 3\)"):
        writer.add_scalar("x", torch.zeros(2, 3), 0)
    with pytest.raises(TypeError, match=r"real number; got Tensor .*complex64"):
        writer.add_scalar("x", torch.zeros(1, dtype=torch.complex64), 0)
    with pytest.raises(ValueError, match="meta tensor"):
        writer.add_scalar("x", torch.zeros((), device="meta"), 0)
    writer.close()


def test_add_scalars_matches_torch_directory_names(tmp_path: Path) -> None:
    """The sub-run directories are exactly those torch.utils.tensorboard creates."""
    theirs = torch_tensorboard.SummaryWriter(os.fspath(tmp_path / "torch"))
    ours = tblog.SummaryWriter(tmp_path / "tblog")
    for writer in (theirs, ours):
        writer.add_scalars("a/b", {"x": 1.0, "y/z": 2.0}, 0)
        writer.close()

    def dirs(root: Path) -> set[str]:
        return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir()}

    assert dirs(tmp_path / "tblog") == dirs(tmp_path / "torch")


def test_jax_arrays_are_logged_without_reading_them_in_the_caller(
    tmp_path: Path, event_accumulator: Any
) -> None:
    """JAX arrays pass the caller's checks as device values and are read by the writer thread."""
    loss = jnp.float32(0.75)
    shaped = jnp.ones((1, 1), dtype=jnp.bfloat16) * 3
    assert isinstance(_convert.scalar(loss), jax.Array)  # not converted in the caller
    assert _convert.scalar(shaped).shape == ()
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_scalar("loss", loss, 0)
        writer.add_scalar("loss", shaped, 1)
        writer.log({"jax": {"m": jnp.int32(7)}}, 2)
    acc = event_accumulator(tmp_path)
    assert [p.value for p in acc.Scalars("loss")] == [0.75, 3.0]
    assert acc.Scalars("jax/m")[0].value == 7.0


def test_jax_bad_values_are_clear_errors(tmp_path: Path) -> None:
    """Multi-element arrays and traced values inside jit are refused with a clear message."""
    writer = tblog.SummaryWriter(tmp_path)
    with pytest.raises(ValueError, match=r"exactly one element; got .* of shape \(4,\)"):
        writer.add_scalar("x", jnp.zeros(4), 0)

    @jax.jit
    def step(x: Any) -> Any:
        writer.add_scalar("inside", x, 0)
        return x

    with pytest.raises(TypeError, match="traced JAX value"):
        step(jnp.float32(1))
    writer.close()


def test_torch_tensor_logged_then_modified_in_place_keeps_logged_value(
    tmp_path: Path, event_accumulator: Any
) -> None:
    """A CPU tensor changed in place right after logging still logs the value it had."""
    running = torch.tensor(5.0)
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_scalar("running", running, 0)
        running.zero_()
    assert event_accumulator(tmp_path).Scalars("running")[0].value == 5.0


def test_describe_names_shape_dtype_and_device() -> None:
    """Error descriptions of framework values carry type, shape, dtype and device."""
    assert _convert.describe(torch.zeros(2, 3)) == ("Tensor of shape (2, 3) and dtype torch.float32 on cpu")
    assert "shape (4,)" in _convert.describe(np.zeros(4))
