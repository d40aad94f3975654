"""Stable-Baselines3's TensorBoard output format, with torch's writer and with tblog.patch()."""

from __future__ import annotations

from pathlib import Path

import pytest
from framework_runs import assert_same, run_both, writers

TORCH_WRITER = "tensorboard.summary.writer.event_file_writer"  # torch writes with TensorBoard's

pytestmark = [pytest.mark.integration, pytest.mark.framework]

JOB = """
import os
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Figure, HParam, Image

ONLY_TB = ("stdout", "log", "json", "csv")


class HParamCallback(BaseCallback):
    # SB3's documented "Logging Hyperparameters" callback, plus an image, a figure, a histogram
    # and a text per rollout: every kind of value SB3's TensorBoardOutputFormat writes but video.

    def _on_training_start(self):
        hparam_dict = {
            "algorithm": self.model.__class__.__name__,
            "learning rate": self.model.learning_rate,
            "gamma": self.model.gamma,
            "normalize_advantage": self.model.normalize_advantage,
        }
        metric_dict = {"rollout/ep_len_mean": 0, "train/value_loss": 0.0}
        self.logger.record("hparams", HParam(hparam_dict, metric_dict), exclude=ONLY_TB)

    def _on_rollout_end(self):
        rollout = int(self.num_timesteps // self.model.n_steps)
        image = np.full((8, 12, 3), 40 * rollout, dtype=np.uint8)
        self.logger.record("media/image", Image(image, "HWC"), exclude=ONLY_TB)
        figure = plt.figure(figsize=(1, 1), dpi=20)
        plt.plot([0, 1], [0, rollout])
        self.logger.record("media/figure", Figure(figure, close=True), exclude=ONLY_TB)
        actions = self.model.rollout_buffer.actions.flatten()
        self.logger.record("media/actions", actions, exclude=ONLY_TB)
        self.logger.record("media/note", f"rollout {rollout}", exclude=ONLY_TB)

    def _on_step(self):
        return True


torch.set_num_threads(1)
model = PPO(
    "MlpPolicy", "CartPole-v1", tensorboard_log=os.environ["LOGDIR"], n_steps=64, batch_size=32,
    n_epochs=2, policy_kwargs={"net_arch": [16]}, seed=0, device="cpu", verbose=0,
)
model.learn(total_timesteps=256, callback=HParamCallback())
"""


def test_stable_baselines3_ppo(tmp_path: Path) -> None:
    """PPO.learn() on CartPole with the documented HParam callback (written through
    ``writer.file_writer.add_summary``), images, figures, histograms and text: tblog's log
    directory reads as torch's, with tblog.patch() called after SB3 was imported."""
    pytest.importorskip("stable_baselines3")
    # patch() after SB3 is imported: its logger bound torch's SummaryWriter at import
    switch = "import stable_baselines3.common.logger\nimport tblog\ntblog.patch()\n"
    reference, candidate = run_both(tmp_path, JOB, env={"MPLBACKEND": "Agg"}, switch=switch)
    assert writers(tmp_path / "reference" / "logs") == {TORCH_WRITER}
    assert writers(tmp_path / "tblog" / "logs") == {"tblog"}
    run = reference["PPO_1"]
    assert run.hparams == {
        "algorithm": "PPO",
        "learning rate": 0.0003,
        "gamma": 0.99,
        "normalize_advantage": 1.0,  # torch's hparams() writes a bool as a number
    }
    assert run.metrics == {"rollout/ep_len_mean", "train/value_loss"}
    assert {"rollout/ep_len_mean", "train/loss", "train/value_loss", "time/fps"} <= set(run.scalars)
    assert [step for step, _ in run.scalars["train/loss"]] == [128, 192, 256]
    assert ("images", "media/image") in run.steps and ("images", "media/figure") in run.steps
    assert ("histograms", "media/actions") in run.steps
    assert run.text["media/note/text_summary"] == [(64 * i, f"rollout {i}") for i in range(1, 5)]
    # SB3 keeps time/time_elapsed, time/iterations and time/total_timesteps out of TensorBoard
    assert_same(reference, candidate, timing_tags=("time/fps",))
