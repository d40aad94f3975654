"""``tblog.patch()``: torch's and tensorboardX's SummaryWriter resolve to tblog's, and back."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.framework


def test_patch_reaches_names_imported_before_and_undo_restores_them(
    tmp_path: Path, event_accumulator: Any
) -> None:
    """A module that did ``from torch.utils.tensorboard import SummaryWriter`` before patch()
    (as Stable-Baselines3's logger does) creates tblog writers after it, and so do torch's and
    tensorboardX's modules; undo() restores every name."""
    pytest.importorskip("torch")
    pytest.importorskip("tensorboardX")
    module = tmp_path / "framework_like.py"
    module.write_text("from torch.utils.tensorboard import SummaryWriter as TorchWriter\n")
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        import framework_like, tensorboardX, torch.utils.tensorboard
        import tblog
        original = framework_like.TorchWriter
        with tblog.patch() as patched:
            assert framework_like.TorchWriter is tblog.SummaryWriter
            assert torch.utils.tensorboard.SummaryWriter is tblog.SummaryWriter
            assert tensorboardX.SummaryWriter is tblog.SummaryWriter
            assert "framework_like" in patched.modules, patched.modules
            writer = framework_like.TorchWriter({str(tmp_path / "run")!r})
            writer.add_scalar("x", 1.0, 1)
            writer._get_file_writer().flush()
            writer.close()
            print(type(writer).__module__)
        assert framework_like.TorchWriter is original
        assert torch.utils.tensorboard.SummaryWriter is original
        assert tensorboardX.SummaryWriter.__module__.startswith("tensorboardX")
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["tblog.writer"]
    acc = event_accumulator(tmp_path / "run")
    assert [(p.step, p.value) for p in acc.Scalars("x")] == [(1, 1.0)]


def test_patch_with_torchs_hparams_layout(tmp_path: Path) -> None:
    """patch(separate_hparams_runs=True): the writers a framework creates by torch's name put
    each add_hparams call in its own time-stamped sub-run, as torch's writer does; undo()
    restores torch's class; a bad value is a clear error."""
    pytest.importorskip("torch")
    script = textwrap.dedent(
        f"""
        import os
        import torch.utils.tensorboard
        import tblog
        original = torch.utils.tensorboard.SummaryWriter
        with tblog.patch(separate_hparams_runs=True):
            writer = torch.utils.tensorboard.SummaryWriter({str(tmp_path / "run")!r})
            print(isinstance(writer, tblog.SummaryWriter), writer.separate_hparams_runs)
            writer.add_hparams({{"lr": 0.1}}, {{}})
            writer.close()
        assert torch.utils.tensorboard.SummaryWriter is original
        run = {str(tmp_path / "run")!r}
        print(sorted(d != run for d, _, files in os.walk(run) if files))
        try:
            tblog.patch(separate_hparams_runs=1)
        except TypeError as exc:
            print("separate_hparams_runs" in str(exc))
        with tblog.patch():
            try:
                tblog.patch(separate_hparams_runs=True)
            except RuntimeError as exc:
                print("already in place" in str(exc))
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:4] == ["True True", "[False, True]", "True", "True"]
