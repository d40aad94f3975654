"""The floor for the training-like loop: what a bare Python call costs there.

Runs the benchmark's training-like loop (10 calls, then ``time.sleep(1 ms)``) with a
function that only appends ``(tag, value, step, time.time())`` to a deque, i.e. the least any
asynchronous writer can do in the caller. Prints the median and p99 cost per call.

    python benchmarks/train_floor.py
"""

from __future__ import annotations

import collections
import statistics
import time


def main(rounds: int = 3000) -> None:
    queue: collections.deque[tuple[str, float, int, float]] = collections.deque()

    def add_scalar(tag: str, value: float, step: int) -> None:
        queue.append((tag, value, step, time.time()))

    tags = [f"train/{k}" for k in range(10)]
    clock = time.perf_counter_ns
    per_round = []
    for r in range(rounds):
        start = clock()
        for k in range(10):
            add_scalar(tags[k], ((r * 10 + k) % 1009) * 0.37, r)
        per_round.append(clock() - start)
        time.sleep(0.001)
    ordered = sorted(per_round)
    median = statistics.median(per_round) / 10 / 1000
    p99 = ordered[int(len(ordered) * 0.99)] / 10 / 1000
    print(f"bare append: median {median:.2f} us/call, p99 {p99:.2f} us/call")


if __name__ == "__main__":
    main()
