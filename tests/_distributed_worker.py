"""One rank of the multi-process tests in test_distributed.py, and the calls every rank makes.

Run as ``python tests/_distributed_worker.py torch|jax <json args>``; prints one JSON line
describing what the rank saw. ``exercise()`` calls the whole ``SummaryWriter`` API with values
that differ per rank, so a test can tell whose events it reads.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any

import numpy as np

import tblog
from tblog.profile import StepProfiler

STEPS = 20


def writer_threads() -> int:
    """How many tblog background threads this process runs."""
    return sum(t.name.startswith("tblog-writer") for t in threading.enumerate())


def exercise(writer: Any, rank: int, steps: int = STEPS) -> None:
    """Log through every ``add_*`` method (and the step profiler), values depending on ``rank``."""
    for step in range(steps):
        writer.add_scalar("loss", 100.0 * rank + step, step)
    writer.add_scalar("new_style", 1.0 + rank, 0, new_style=True)
    writer.add_scalars("pair", {"a": float(rank), "b": rank + 0.5}, 0)
    writer.log({"acc": 0.5 + rank}, step=0)
    writer.add_text("who", f"rank {rank}", 0)
    writer.add_histogram("weights", np.arange(10.0) + rank, 0)
    writer.add_histogram_raw("raw", 0, 1, 2, 1, 1, [0.5, 1.0], [1, 1], 0)
    writer.add_image("img", np.full((3, 4, 4), 50 * rank, np.uint8), 0)
    writer.add_images("imgs", np.zeros((2, 3, 4, 4), np.float32), 0)
    writer.add_image_with_boxes("boxes", np.zeros((3, 8, 8), np.float32), np.array([[1, 1, 4, 4]]), 0)
    writer.add_video("video", np.zeros((1, 2, 3, 4, 4), np.float32), 0)
    writer.add_audio("sound", np.zeros(100, np.float32), 0, sample_rate=8000)
    writer.add_pr_curve("pr", np.array([0, 1, 1]), np.array([0.2, 0.8, 0.6]), 0)
    writer.add_pr_curve_raw("pr_raw", [3, 1], [2, 0], [0, 2], [0, 2], [0.6, 1.0], [1.0, 0.5], 0, 2)
    writer.add_mesh("mesh", np.zeros((1, 3, 3), np.float32), faces=np.array([[[0, 1, 2]]]), global_step=0)
    writer.add_tensor("tensor", np.arange(4) + rank, 0)
    writer.add_custom_scalars_multilinechart(["loss"])
    writer.add_hparams({"lr": 0.1, "rank": rank}, {"hp/metric": float(rank)})
    writer.add_embedding(np.eye(3) + rank, metadata=["a", "b", "c"], global_step=0)
    with StepProfiler(writer) as profiler, profiler.step(0), profiler.span("forward"):
        pass
    writer.flush()


def torch_rank(args: dict[str, Any]) -> dict[str, Any]:
    """A gloo process group of two; the writer is made after init_process_group."""
    import datetime

    import torch
    import torch.distributed as dist

    import tblog.adapters.torch as tbtorch

    rank = args["rank"]
    # Rank and world size are passed here, not through RANK: the writer must ask torch.
    dist.init_process_group("gloo", rank=rank, world_size=2, timeout=datetime.timedelta(seconds=60))
    writer = tblog.SummaryWriter(args["log_dir"], per_rank=args["per_rank"])
    threads = writer_threads()
    exercise(writer, rank)

    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with (
        tbtorch.track(optimizer, writer, log_every=1) as tracker,
        tbtorch.watch(model, writer, log="all", log_freq=1),
        tbtorch.profile(writer, wait=0, warmup=0, active=1) as prof,
    ):
        for _ in range(2):
            loss = model(torch.ones(2, 4)).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            for param in model.parameters():  # what DDP does: average the gradients
                assert param.grad is not None
                dist.all_reduce(param.grad)
                param.grad /= 2
            optimizer.step()
            tracker.log("loss", loss)
            prof.step()

    total = torch.tensor([float(rank)])
    dist.all_reduce(total)
    if rank != 0:  # the same calls on a run directory no other rank uses
        probe = tblog.SummaryWriter(args["probe_dir"])
        exercise(probe, rank)
        probe.close()
    writer.close()
    dist.barrier()
    dist.destroy_process_group()
    return {
        "rank": writer.rank,
        "is_writing": writer.is_writing,
        "log_dir": writer.log_dir,
        "pid": os.getpid(),
        "writer_threads": threads,
        "tracked_steps": tracker.step,
        "sum_of_ranks": total.item(),
    }


def jax_rank(args: dict[str, Any]) -> dict[str, Any]:
    """Two JAX processes on CPU; a writer made before jax.distributed.initialize, and after."""
    import jax

    rank = args["rank"]
    before = tblog.SummaryWriter(args["before_dir"])  # must leave JAX's backends alone
    jax.distributed.initialize(
        coordinator_address=f"127.0.0.1:{args['port']}", num_processes=2, process_id=rank
    )
    writer = tblog.SummaryWriter(args["log_dir"])
    per_rank = tblog.SummaryWriter(args["per_rank_dir"], per_rank=True)
    for w in (writer, per_rank):
        for step in range(STEPS):
            w.add_scalar("loss", 100.0 * rank + step, step)
        w.close()
    before.close()
    result = {
        "rank": writer.rank,
        "is_writing": writer.is_writing,
        "rank_before_initialize": before.rank,
        "process_index": jax.process_index(),
        "process_count": jax.process_count(),
        "pid": os.getpid(),
    }
    jax.distributed.shutdown()
    return result


if __name__ == "__main__":
    kind, raw = sys.argv[1], sys.argv[2]
    outcome = (torch_rank if kind == "torch" else jax_rank)(json.loads(raw))
    print(json.dumps(outcome), flush=True)
