"""PyTorch Lightning's TensorBoardLogger, with torch's writer and with tblog.patch()."""

from __future__ import annotations

from pathlib import Path

import pytest
from framework_runs import assert_same, run_both

pytestmark = [pytest.mark.integration, pytest.mark.framework]

JOB = """
import os
import torch
import pytorch_lightning as pl
from pytorch_lightning.loggers import TensorBoardLogger


class Regressor(pl.LightningModule):
    def __init__(self, hidden=8, lr=0.05, use_bias=True, name="tiny"):
        super().__init__()
        self.save_hyperparameters()  # Lightning writes hparams through _get_file_writer()
        layers = [torch.nn.Linear(4, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1)]
        self.net = torch.nn.Sequential(*layers)
        self.example_input_array = torch.zeros(2, 4)

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self(x), y)
        self.log("train/loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val/loss", torch.nn.functional.mse_loss(self(x), y))

    def on_train_epoch_end(self):
        self.logger.experiment.add_histogram("weights/first", self.net[0].weight, self.current_epoch)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


torch.manual_seed(0)
x = torch.randn(64, 4)
y = x.sum(1, keepdim=True)
data = torch.utils.data.TensorDataset(x, y)
train = torch.utils.data.DataLoader(data, batch_size=8)
val = torch.utils.data.DataLoader(data, batch_size=16)
logger = TensorBoardLogger(os.environ["LOGDIR"], name="lightning", version=0, log_graph=True)
trainer = pl.Trainer(
    max_epochs=3, logger=logger, log_every_n_steps=2, accelerator="cpu", devices=1,
    enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
    deterministic=True,
)
trainer.fit(Regressor(), train, val)
"""


def test_lightning_tensorboard_logger(tmp_path: Path) -> None:
    """fit() with save_hyperparameters(), log_graph, self.log and a histogram: tblog's log
    directory reads as torch's (hparams through ``_get_file_writer().add_summary``)."""
    pytest.importorskip("pytorch_lightning")
    reference, candidate = run_both(tmp_path, JOB)
    assert reference["lightning/version_0"].hparams == {
        "hidden": 8.0,
        "lr": 0.05,
        "use_bias": True,
        "name": "tiny",
    }
    assert reference["lightning/version_0"].scalars["train/loss"]
    assert_same(reference, candidate)
