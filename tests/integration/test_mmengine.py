"""MMEngine's TensorboardVisBackend under a Runner, with torch's writer and with tblog.patch()."""

from __future__ import annotations

from pathlib import Path

import pytest
from framework_runs import assert_same, run_both, writers

TORCH_WRITER = "tensorboard.summary.writer.event_file_writer"  # torch writes with TensorBoard's

pytestmark = [pytest.mark.integration, pytest.mark.framework]

JOB = """
import os
import numpy as np
import torch
from mmengine.config import Config
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.registry import DATASETS, HOOKS, METRICS, MODELS
from mmengine.runner import Runner

torch.set_num_threads(1)


@MODELS.register_module()
class TinyRegressor(BaseModel):
    def __init__(self, hidden=8):
        super().__init__()
        layers = [torch.nn.Linear(4, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1)]
        self.net = torch.nn.Sequential(*layers)

    def forward(self, inputs, targets, mode="tensor"):
        out = self.net(inputs)
        if mode == "loss":
            return {"loss": torch.nn.functional.mse_loss(out, targets)}
        if mode == "predict":
            return [(out, targets)]
        return out


@DATASETS.register_module()
class TinyData(torch.utils.data.Dataset):
    def __init__(self, size=32):
        generator = torch.Generator().manual_seed(0)
        self.x = torch.randn(size, 4, generator=generator)
        self.y = self.x.sum(1, keepdim=True)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"inputs": self.x[i], "targets": self.y[i]}


@METRICS.register_module()
class MAE(BaseMetric):
    def process(self, data_batch, data_samples):
        for out, targets in data_samples:
            self.results.append(float((out - targets).abs().mean()))

    def compute_metrics(self, results):
        return {"mae": sum(results) / len(results)}


@HOOKS.register_module()
class ImageHook(Hook):
    # An image per validation, through Visualizer.add_image -> the backend's add_image (HWC).
    def after_val_epoch(self, runner, metrics=None):
        image = np.full((6, 10, 3), 60 * runner.epoch, dtype=np.uint8)
        runner.visualizer.add_image("val/image", image, step=runner.epoch)


loader = dict(
    batch_size=8, num_workers=0, dataset=dict(type="TinyData"),
    sampler=dict(type="DefaultSampler", shuffle=False), collate_fn=dict(type="default_collate"),
)
cfg = Config(dict(
    model=dict(type="TinyRegressor", hidden=8),
    work_dir="work",
    train_dataloader=loader,
    train_cfg=dict(by_epoch=True, max_epochs=2, val_interval=1),
    optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.05, momentum=0.9)),
    param_scheduler=dict(type="MultiStepLR", milestones=[1], gamma=0.5),
    val_dataloader=loader,
    val_cfg=dict(),
    val_evaluator=dict(type="MAE"),
    default_hooks=dict(logger=dict(type="LoggerHook", interval=2), checkpoint=None),
    custom_hooks=[dict(type="ImageHook")],
    visualizer=dict(
        type="Visualizer", vis_backends=[dict(type="TensorboardVisBackend", save_dir=os.environ["LOGDIR"])]
    ),
    randomness=dict(seed=0, deterministic=True),
    env_cfg=dict(cudnn_benchmark=False, dist_cfg=dict(backend="gloo")),
    launcher="none",
))
Runner.from_cfg(cfg).train()
"""


def test_mmengine_tensorboard_vis_backend(tmp_path: Path) -> None:
    """Runner.train() for 2 epochs with validation, a LR schedule, the config (add_config) and
    an image per validation: tblog's log directory reads as torch's."""
    pytest.importorskip("mmengine")
    reference, candidate = run_both(tmp_path, JOB)
    assert writers(tmp_path / "reference" / "logs") == {TORCH_WRITER}
    assert writers(tmp_path / "tblog" / "logs") == {"tblog"}
    run = reference["."]
    lr = [(2, 0.05), (4, 0.05), (6, 0.025), (8, 0.025)]  # MultiStepLR halves it after epoch 1
    assert [step for step, _ in run.scalars["lr"]] == [step for step, _ in lr]
    assert [value for _, value in run.scalars["lr"]] == pytest.approx([value for _, value in lr], rel=1e-6)
    assert [step for step, _ in run.scalars["loss"]] == [2, 4, 6, 8]
    assert [step for step, _ in run.scalars["mae"]] == [1, 2]  # validation, at the epoch
    assert run.steps[("images", "val/image")] == [1, 2]
    [(step, config)] = run.text["config/text_summary"]
    assert step == 0 and "type='TinyRegressor'" in config
    # time and data_time: wall-clock seconds, of training iterations and of validation epochs
    assert_same(reference, candidate, timing_tags=("time", "data_time"))
