"""Hugging Face Accelerate's TensorBoardTracker, with torch's writer and with tblog.patch()."""

from __future__ import annotations

from pathlib import Path

import pytest
from framework_runs import assert_same, run_both, writers

pytestmark = [pytest.mark.integration, pytest.mark.framework]

# A tiny regression through accelerator.prepare()/backward(); the tracker gets every kind of value
# its log() dispatches on (numbers -> add_scalar, str -> add_text, dict -> add_scalars), images
# through log_images(), and the config as hparams (add_hparams with metric_dict={}).
JOB = """
import os

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed

set_seed(0)
accelerator = Accelerator(log_with="tensorboard", project_dir=os.environ["LOGDIR"], cpu=True)
config = {"lr": 0.05, "batch_size": 8, "optimizer": "sgd", "nesterov": True, "warmup": None}
accelerator.init_trackers("proj", config=config)

x = torch.randn(64, 4)
y = x.sum(1, keepdim=True)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=config["batch_size"])
model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=config["lr"], momentum=0.9, nesterov=True)
model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
step = 0
for epoch in range(2):
    for xb, yb in loader:
        loss = torch.nn.functional.mse_loss(model(xb), yb)
        accelerator.backward(loss)
        optimizer.step()
        optimizer.zero_grad()
        step += 1
        accelerator.log({"train/loss": loss.item(), "epoch": epoch}, step=step)
    with torch.no_grad():
        full = torch.nn.functional.mse_loss(model(x), y).item()
    accelerator.log({"loss": {"train": loss.item(), "full": full}, "note": f"epoch {epoch} done"}, step=step)
    weights = model.state_dict()["0.weight"].abs().numpy()
    image = weights / weights.max()
    accelerator.get_tracker("tensorboard").log_images({"weights": np.stack([image] * 3)[None]}, step=step)
accelerator.end_training()
"""


def test_accelerate_tensorboard_tracker(tmp_path: Path) -> None:
    """init_trackers(config=...), log() of numbers, text and dicts, log_images(), end_training():
    tblog's log directory reads as torch's."""
    pytest.importorskip("accelerate")
    reference, candidate = run_both(tmp_path, JOB)
    assert writers(tmp_path / "reference" / "logs") == {"tensorboard.summary.writer.event_file_writer"}
    assert writers(tmp_path / "tblog" / "logs") == {"tblog"}

    # torch: the scalars in proj, add_scalars' in proj/loss_<key>, hparams alone in proj/<time>.
    assert sorted(reference) == ["proj", "proj/<time>", "proj/loss_full", "proj/loss_train"]
    proj = reference["proj"]
    assert [step for step, _ in proj.scalars["train/loss"]] == list(range(1, 17))
    assert proj.text["note/text_summary"] == [(8, "epoch 0 done"), (16, "epoch 1 done")]
    assert proj.steps[("images", "weights")] == [8, 16]
    assert [step for step, _ in reference["proj/loss_full"].scalars["loss"]] == [8, 16]
    # None is left out by both; torch writes the bool as 1.0, tblog keeps it a bool (on purpose).
    want = {"lr": 0.05, "batch_size": 8.0, "optimizer": "sgd", "nesterov": 1.0}
    assert reference["proj/<time>"].hparams == want
    assert candidate["proj"].hparams["nesterov"] is True
    assert_same(reference, candidate, hparams_compare="as-text")


def test_accelerate_with_torchs_hparams_layout(tmp_path: Path) -> None:
    """With ``tblog.patch(separate_hparams_runs=True)`` the hparams go to a time-stamped
    sub-run as in torch: the same runs, the hparams-only one included."""
    pytest.importorskip("accelerate")
    switch = "import tblog\ntblog.patch(separate_hparams_runs=True)\n"
    reference, candidate = run_both(tmp_path, JOB, switch=switch)
    assert (
        sorted(candidate) == sorted(reference) == ["proj", "proj/<time>", "proj/loss_full", "proj/loss_train"]
    )
    assert candidate["proj/<time>"].hparams["lr"] == 0.05 and not candidate["proj"].hparams
    assert_same(reference, candidate, hparams_compare="as-text")
