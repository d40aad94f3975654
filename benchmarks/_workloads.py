"""Workload definitions shared by the benchmark child (which runs them) and the
parent (which recomputes what each one must have written, to verify it).

Every value and text is a pure function of the loop index, so the expected
output never has to be passed between processes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

N_TAGS = 10

# Writers whose SummaryWriter has no log(metrics, step): the log workload is
# emulated with one add_scalar call per metric.
NATIVE_LOG = {"tblog"}

SCALAR_TAGS = [f"scalar/{k}" for k in range(N_TAGS)]
TEXT_TAGS = [f"text/{k}" for k in range(N_TAGS)]
METRIC_TAGS = [f"metric/{k}" for k in range(N_TAGS)]
TRAIN_TAGS = [f"train/{k}" for k in range(N_TAGS)]


def value_of(j: int) -> float:
    """The scalar logged for flat index j (not representable in float32 on purpose)."""
    return (j % 1009) * 0.37


def text_of(i: int) -> str:
    """The markdown text logged by add_text call i (~90 characters)."""
    return f"row {i} | **loss** = {(i % 1009) * 0.37:.4f} | `note`: lorem ipsum dolor sit amet"


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    unit: str  # what one "op" is, for the ops/s columns
    full_size: int  # loop iterations in a default run
    quick_size: int  # loop iterations with --quick
    ops_per_iter: int  # ops (values) per loop iteration

    def size(self, quick: bool) -> int:
        return self.quick_size if quick else self.full_size


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload(
            "scalar",
            "add_scalar over 10 tags (tag i%10, step i//10)",
            "add_scalar call",
            200_000,
            20_000,
            1,
        ),
        Workload(
            "text",
            "add_text over 10 tags (~90-char markdown, step i//10)",
            "add_text call",
            20_000,
            2_000,
            1,
        ),
        Workload(
            "log",
            "log() of 10 metrics per call (step i); peers: 10 add_scalar calls",
            "scalar value (1 log() = 10 values)",
            20_000,
            2_000,
            N_TAGS,
        ),
        Workload(
            "train",
            "rounds of {10 add_scalar, then time.sleep(1 ms)}; only the 10 calls are timed",
            "add_scalar call",
            5_000,
            500,
            N_TAGS,
        ),
    )
}


# --------------------------------------------------------------------------
# Running (in the child). Each returns a dict of raw timings in nanoseconds.
# --------------------------------------------------------------------------


def run_scalar(w: Any, n: int, writer_name: str) -> dict[str, Any]:
    tags = SCALAR_TAGS
    add = w.add_scalar
    t0 = time.perf_counter_ns()
    for i in range(n):
        add(tags[i % 10], (i % 1009) * 0.37, i // 10)
    t1 = time.perf_counter_ns()
    return {"loop_ns": t1 - t0, "calls": n}


def run_text(w: Any, n: int, writer_name: str) -> dict[str, Any]:
    tags = TEXT_TAGS
    add = w.add_text
    t0 = time.perf_counter_ns()
    for i in range(n):
        add(
            tags[i % 10],
            f"row {i} | **loss** = {(i % 1009) * 0.37:.4f} | `note`: lorem ipsum dolor sit amet",
            i // 10,
        )
    t1 = time.perf_counter_ns()
    return {"loop_ns": t1 - t0, "calls": n}


def run_log(w: Any, n: int, writer_name: str) -> dict[str, Any]:
    keys = METRIC_TAGS
    ks = range(N_TAGS)
    if writer_name in NATIVE_LOG:
        log = w.log
        t0 = time.perf_counter_ns()
        for i in range(n):
            metrics = {keys[k]: ((i * 10 + k) % 1009) * 0.37 for k in ks}
            log(metrics, i)
        t1 = time.perf_counter_ns()
        calls = n
    else:
        add = w.add_scalar
        t0 = time.perf_counter_ns()
        for i in range(n):
            metrics = {keys[k]: ((i * 10 + k) % 1009) * 0.37 for k in ks}
            for tag, v in metrics.items():
                add(tag, v, i)
        t1 = time.perf_counter_ns()
        calls = n * N_TAGS
    return {"loop_ns": t1 - t0, "calls": calls}


def run_train(w: Any, n: int, writer_name: str) -> dict[str, Any]:
    tags = TRAIN_TAGS
    add = w.add_scalar
    clock = time.perf_counter_ns
    sleep = time.sleep
    rounds = [0] * n
    t_start = clock()
    for r in range(n):
        base = r * 10
        a = clock()
        for k in range(10):
            add(tags[k], ((base + k) % 1009) * 0.37, r)
        rounds[r] = clock() - a
        sleep(0.001)
    t_end = clock()
    return {
        "loop_ns": sum(rounds),
        "wall_ns": t_end - t_start,
        "round_ns": rounds,
        "calls": n * N_TAGS,
    }


RUNNERS = {"scalar": run_scalar, "text": run_text, "log": run_log, "train": run_train}


# --------------------------------------------------------------------------
# Expected output (in the parent): kind -> tag -> (steps, values)
# --------------------------------------------------------------------------


def expected(name: str, n: int) -> dict[str, dict[str, tuple[list[int], list[Any]]]]:
    out: dict[str, tuple[list[int], list[Any]]] = {}
    if name == "scalar":
        for k, tag in enumerate(SCALAR_TAGS):
            idx = range(k, n, N_TAGS)
            out[tag] = ([i // 10 for i in idx], [value_of(i) for i in idx])
        return {"scalars": out}
    if name == "text":
        for k, tag in enumerate(TEXT_TAGS):
            idx = range(k, n, N_TAGS)
            out[tag] = ([i // 10 for i in idx], [text_of(i) for i in idx])
        return {"text": out}
    if name in ("log", "train"):
        tags = METRIC_TAGS if name == "log" else TRAIN_TAGS
        for k, tag in enumerate(tags):
            out[tag] = (list(range(n)), [value_of(i * 10 + k) for i in range(n)])
        return {"scalars": out}
    raise KeyError(name)
