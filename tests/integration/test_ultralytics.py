"""Ultralytics' TensorBoard callback, replayed: the calls it makes, in its order, on a real tiny
torch conv model, with torch's writer and with tblog.patch().

ultralytics cannot be installed here (it needs torchvision, whose PyPI wheels do not load with
the CPU torch), so the job replays ``ultralytics/utils/callbacks/tensorboard.py`` of 8.4.190: the
writer on ``str(trainer.save_dir)`` at pretrain start; at train start the model put in eval mode
and ``add_graph(torch.jit.trace(model, zeros, strict=False), [])`` under
``smart_inference_mode`` (``torch.inference_mode``); at each epoch's end ``add_scalar`` of the
train losses (``label_loss_items``: 5-decimal floats) and of ``lr/pg<i>`` at ``epoch + 1``, then
of the validation metrics; ``close()`` at teardown. Unlike the callback, which logs a failed graph
as a warning, the replay lets an exception fail the job.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from framework_runs import assert_same, run_both, writers

pytestmark = [pytest.mark.integration, pytest.mark.framework]

JOB = """
import os
from pathlib import Path

import torch
from torch import nn
from torch.utils.tensorboard import SummaryWriter  # bound at import, as the callback module does

torch.manual_seed(0)
WRITER = None


class Conv(nn.Module):
    def __init__(self, c1, c2, s=1):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, 3, s, 1, bias=False)
        self.bn = nn.BatchNorm2d(c2)
        self.act = nn.SiLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class TinyDetect(nn.Module):
    \"\"\"Backbone of Conv blocks and two heads returning a list, as YOLO's Detect does in training.\"\"\"

    def __init__(self, ch=3, nc=2):
        super().__init__()
        self.backbone = nn.Sequential(Conv(ch, 8, 2), Conv(8, 16, 2))
        self.box = nn.Conv2d(16, 4, 1)
        self.cls = nn.Conv2d(16, nc, 1)

    def forward(self, x):
        x = self.backbone(x)
        return [self.box(x), self.cls(x)]


def losses(model, images, boxes, labels):
    box, cls = model(images)
    box_loss = nn.functional.smooth_l1_loss(box.mean((2, 3)), boxes)
    cls_loss = nn.functional.cross_entropy(cls.mean((2, 3)), labels)
    dfl_loss = box.sigmoid().var()
    return {"box_loss": box_loss, "cls_loss": cls_loss, "dfl_loss": dfl_loss}


def label_loss_items(items, prefix):
    return {f"{prefix}/{k}": round(float(v), 5) for k, v in items.items()}


@torch.inference_mode()  # smart_inference_mode()
def log_tensorboard_graph(model, ch, imgsz):
    p = next(model.parameters())
    im = torch.zeros((1, ch, imgsz, imgsz), device=p.device, dtype=p.dtype)
    model.eval()
    WRITER.add_graph(torch.jit.trace(model, im, strict=False), [])


imgsz, ch, epochs = 32, 3, 3
images = torch.randn(16, ch, imgsz, imgsz)
boxes = torch.rand(16, 4)
labels = torch.randint(0, 2, (16,))
model = TinyDetect(ch)
decay, bn, bias = [], [], []  # ultralytics' three parameter groups
for name, param in model.named_parameters():
    (bias if name.endswith("bias") else bn if ".bn." in name else decay).append(param)
optimizer = torch.optim.SGD(bias, lr=0.01, momentum=0.9, nesterov=True)
optimizer.add_param_group({"params": decay, "weight_decay": 5e-4})
optimizer.add_param_group({"params": bn, "weight_decay": 0.0})
scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: (1 - e / epochs) * 0.99 + 0.01)

save_dir = Path(os.environ["LOGDIR"]) / "detect" / "train"
WRITER = SummaryWriter(str(save_dir))  # on_pretrain_routine_start
log_tensorboard_graph(model, ch, imgsz)  # on_train_start
for epoch in range(epochs):
    model.train()
    tloss = None
    for i in range(0, 16, 4):
        items = losses(model, images[i : i + 4], boxes[i : i + 4], labels[i : i + 4])
        sum(items.values()).backward()
        optimizer.step()
        optimizer.zero_grad()
        items = {k: v.detach() for k, v in items.items()}
        n = i // 4
        tloss = items if tloss is None else {k: (tloss[k] * n + v) / (n + 1) for k, v in items.items()}
    lr = {f"lr/pg{ir}": x["lr"] for ir, x in enumerate(optimizer.param_groups)}
    scheduler.step()
    for k, v in label_loss_items(tloss, "train").items():  # on_train_epoch_end
        WRITER.add_scalar(k, v, epoch + 1)
    for k, v in lr.items():
        WRITER.add_scalar(k, v, epoch + 1)
    model.eval()
    with torch.no_grad():
        val = losses(model, images, boxes, labels)
        hits = (model(images)[1].mean((2, 3)).argmax(1) == labels).float()
    stats = {
        "metrics/precision(B)": hits.mean(),
        "metrics/recall(B)": hits[labels == 1].mean(),
        "metrics/mAP50(B)": hits.mean() * 0.9,
        "metrics/mAP50-95(B)": hits.mean() * 0.6,
    }
    metrics = {k: round(float(v), 5) for k, v in {**stats, **label_loss_items(val, "val")}.items()}
    for k, v in metrics.items():  # on_fit_epoch_end
        WRITER.add_scalar(k, v, epoch + 1)
WRITER.close()  # teardown
WRITER = None
"""

TAGS = [
    "lr/pg0",
    "lr/pg1",
    "lr/pg2",
    "metrics/mAP50(B)",
    "metrics/mAP50-95(B)",
    "metrics/precision(B)",
    "metrics/recall(B)",
    "train/box_loss",
    "train/cls_loss",
    "train/dfl_loss",
    "val/box_loss",
    "val/cls_loss",
    "val/dfl_loss",
]


def test_ultralytics_tensorboard_callback_replay(tmp_path: Path) -> None:
    """The callback's calls, replayed: graph of a traced ScriptModule with ``[]`` as input, then
    per-epoch scalars; tblog's log directory reads as torch's."""
    pytest.importorskip("torch")
    reference, candidate = run_both(tmp_path, JOB)
    assert writers(tmp_path / "reference" / "logs") == {"tensorboard.summary.writer.event_file_writer"}
    assert writers(tmp_path / "tblog" / "logs") == {"tblog"}
    assert list(reference) == ["detect/train"]
    run = reference["detect/train"]
    assert sorted(run.scalars) == TAGS
    assert all([step for step, _ in points] == [1, 2, 3] for points in run.scalars.values())
    assert run.scalars["lr/pg0"][0][1] > run.scalars["lr/pg0"][2][1]
    ops = {op for _, op in run.graph_ops}
    assert {"aten::_convolution", "aten::batch_norm", "aten::silu"} <= ops, sorted(ops)
    assert_same(reference, candidate)
