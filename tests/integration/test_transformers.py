"""Hugging Face transformers' TensorBoardCallback, with torch's writer, with tblog.patch(), and
with a ``tblog.SummaryWriter`` handed to the callback (``TensorBoardCallback(tb_writer=...)``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from framework_runs import assert_same, read_logdir, run_both, run_job, writers

pytestmark = [pytest.mark.integration, pytest.mark.framework]

# A tiny BERT built from its config (no download) on random token ids: Trainer's callback writes
# the args and the model config as text, then every log (train loss, grad norm, learning rate,
# epoch, eval loss, run timings) as a scalar at the global step.
JOB = """
import os
import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments, set_seed
from transformers.integrations import TensorBoardCallback

WRITER = os.environ.get("TB_WRITER")  # unset: report_to="tensorboard" makes torch's writer itself

set_seed(0)
config = BertConfig(
    vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
    intermediate_size=32, max_position_embeddings=16, num_labels=2,
)
model = BertForSequenceClassification(config)
generator = torch.Generator().manual_seed(0)


def dataset(n):
    ids = torch.randint(1, 50, (n, 8), generator=generator)
    labels = torch.randint(0, 2, (n,), generator=generator)
    mask = torch.ones(8, dtype=torch.long)
    return [{"input_ids": i, "attention_mask": mask, "labels": y} for i, y in zip(ids, labels)]


if WRITER is None:
    os.environ["TENSORBOARD_LOGGING_DIR"] = os.environ["LOGDIR"]  # transformers 5: no logging_dir
    report_to, callbacks = "tensorboard", []
else:
    if WRITER == "tblog":
        from tblog import SummaryWriter
    else:
        from torch.utils.tensorboard import SummaryWriter
    report_to, callbacks = "none", [TensorBoardCallback(tb_writer=SummaryWriter(os.environ["LOGDIR"]))]
args = TrainingArguments(
    output_dir="out", report_to=report_to, logging_steps=1, max_steps=6, eval_strategy="steps",
    eval_steps=3, per_device_train_batch_size=4, per_device_eval_batch_size=8, seed=0, data_seed=0,
    use_cpu=True, save_strategy="no", disable_tqdm=True, dataloader_num_workers=0,
)
trainer = Trainer(
    model=model, args=args, train_dataset=dataset(16), eval_dataset=dataset(8), callbacks=callbacks
)
trainer.train()
"""

# Wall-clock timings of the train run and of each evaluation: compared by their steps only.
TIMING = (
    r"train/train_(runtime|samples_per_second|steps_per_second)",
    r"eval/(runtime|samples_per_second|steps_per_second)",
)
STEPS = [1, 2, 3, 4, 5, 6]
TORCH_WRITER = "tensorboard.summary.writer.event_file_writer"  # source_metadata.writer of torch's files


def _check_reference(runs: dict) -> None:
    """The reference holds what the callback writes, so the comparison cannot pass on empty logs."""
    assert list(runs) == ["."], sorted(runs)
    run = runs["."]
    for tag in ("train/loss", "train/grad_norm", "train/learning_rate"):
        assert [step for step, _ in run.scalars[tag]] == STEPS, (tag, run.scalars[tag])
    assert [step for step, _ in run.scalars["eval/loss"]] == [3, 6]
    assert [step for step, _ in run.scalars["train/train_runtime"]] == [6]
    assert [step for step, _ in run.scalars["train/epoch"]] == [1, 2, 3, 3, 4, 5, 6, 6, 6]  # + eval, end
    assert sorted(run.text) == ["args/text_summary", "model_config/text_summary"]
    assert '"hidden_size": 16' in run.text["model_config/text_summary"][0][1]
    assert '"max_steps": 6' in run.text["args/text_summary"][0][1]


def test_transformers_tensorboard_callback(tmp_path: Path) -> None:
    """Trainer with ``report_to="tensorboard"``: the callback's own writer, patched by tblog,
    writes what torch's does."""
    pytest.importorskip("transformers")
    reference, candidate = run_both(tmp_path, JOB)
    assert writers(tmp_path / "reference" / "logs") == {TORCH_WRITER}
    assert writers(tmp_path / "tblog" / "logs") == {"tblog"}
    _check_reference(reference)
    assert_same(reference, candidate, timing_tags=TIMING)


def test_transformers_callback_given_tblog_writer(tmp_path: Path) -> None:
    """``TensorBoardCallback(tb_writer=tblog.SummaryWriter(...))`` without patch() writes what
    the same callback given torch's ``SummaryWriter`` writes."""
    pytest.importorskip("transformers")
    torch_run = run_job(tmp_path / "torch", JOB, use_tblog=False, env={"TB_WRITER": "torch"})
    tblog_run = run_job(tmp_path / "native", JOB, use_tblog=False, env={"TB_WRITER": "tblog"})
    assert writers(torch_run.logdir) == {TORCH_WRITER}
    assert writers(tblog_run.logdir) == {"tblog"}
    reference, candidate = read_logdir(torch_run.logdir), read_logdir(tblog_run.logdir)
    _check_reference(reference)
    assert_same(reference, candidate, timing_tags=TIMING)
