"""PyTorch-Ignite's TensorboardLogger, with its own writer (tensorboardX's, which ignite prefers
when installed, else torch's) and with tblog.patch()."""

from __future__ import annotations

from pathlib import Path

import pytest
from framework_runs import assert_same, run_both, writers

pytestmark = [pytest.mark.integration, pytest.mark.framework]

JOB = """
import os
import torch
from ignite.engine import Events, create_supervised_evaluator, create_supervised_trainer
from ignite.handlers.tensorboard_logger import (
    GradsHistHandler, GradsScalarHandler, OptimizerParamsHandler, OutputHandler, TensorboardLogger,
    WeightsHistHandler, WeightsScalarHandler, global_step_from_engine,
)
from ignite.metrics import Loss, MeanAbsoluteError

torch.manual_seed(0)
torch.set_num_threads(1)
x = torch.randn(32, 4)
y = x.sum(1, keepdim=True)
data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)
model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
loss_fn = torch.nn.MSELoss()
trainer = create_supervised_trainer(model, optimizer, loss_fn)
evaluator = create_supervised_evaluator(model, metrics={"loss": Loss(loss_fn), "mae": MeanAbsoluteError()})
trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda engine: evaluator.run(data))

tb_logger = TensorboardLogger(log_dir=os.environ["LOGDIR"])
every_2 = Events.ITERATION_COMPLETED(every=2)
tb_logger.attach_output_handler(
    trainer, event_name=every_2, tag="training", output_transform=lambda loss: {"batchloss": loss}
)
tb_logger.attach(
    evaluator,
    log_handler=OutputHandler(
        tag="validation", metric_names=["loss", "mae"], global_step_transform=global_step_from_engine(trainer)
    ),
    event_name=Events.COMPLETED,
)
tb_logger.attach_opt_params_handler(trainer, event_name=Events.ITERATION_STARTED, optimizer=optimizer)
tb_logger.attach(trainer, log_handler=OptimizerParamsHandler(optimizer, "momentum"), event_name=every_2)
tb_logger.attach(trainer, log_handler=WeightsScalarHandler(model), event_name=every_2)
tb_logger.attach(trainer, log_handler=GradsScalarHandler(model, reduction=torch.mean), event_name=every_2)
tb_logger.attach(trainer, log_handler=WeightsHistHandler(model), event_name=Events.EPOCH_COMPLETED)
tb_logger.attach(trainer, log_handler=GradsHistHandler(model, tag="train"), event_name=Events.EPOCH_COMPLETED)
trainer.run(data, max_epochs=2)
tb_logger.close()
"""


def test_ignite_tensorboard_logger(tmp_path: Path) -> None:
    """A supervised trainer and evaluator with ignite's output, optimizer-params, weights and
    grads handlers: tblog's log directory reads as tensorboardX's."""
    pytest.importorskip("ignite")
    reference, candidate = run_both(tmp_path, JOB)
    assert writers(tmp_path / "reference" / "logs") == {""}  # tensorboardX names no writer
    assert writers(tmp_path / "tblog" / "logs") == {"tblog"}
    run = reference["."]
    assert [step for step, _ in run.scalars["training/batchloss"]] == [2, 4, 6, 8]
    assert [step for step, _ in run.scalars["validation/loss"]] == [1, 2]  # epochs
    assert [step for step, _ in run.scalars["lr/group_0"]] == list(range(1, 9))
    more = {"momentum/group_0", "validation/mae", "weights_norm/0/weight", "grads_mean/2/bias"}
    assert more <= set(run.scalars)
    assert run.steps[("histograms", "weights/0/weight")] == [1, 2]
    assert run.steps[("histograms", "train/grads/2/bias")] == [1, 2]
    assert_same(reference, candidate)
