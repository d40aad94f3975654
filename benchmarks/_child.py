"""Run ONE (writer, workload) in this fresh process and write its timings as JSON.

Invoked by run.py as:  python benchmarks/_child.py WRITER WORKLOAD N LOGDIR RESULT_JSON
Only the logging loop and close() are timed here; verification happens in the parent.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import traceback

WRITER_MODULES = {
    "tblog": "tblog",
    "tensorboardX": "tensorboardX",
    "torch": "torch.utils.tensorboard",
}


def _rss_mib() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _import_writer(name: str):
    if name == "tblog":
        from tblog import SummaryWriter
    elif name == "tensorboardX":
        from tensorboardX import SummaryWriter
    elif name == "torch":
        from torch.utils.tensorboard import SummaryWriter
    else:
        raise ValueError(f"unknown writer {name!r}")
    return SummaryWriter


def main(argv: list[str]) -> int:
    writer_name, workload, n_s, logdir, result_path = argv
    n = int(n_s)
    result: dict = {"writer": writer_name, "workload": workload, "n": n}
    try:
        t0 = time.perf_counter_ns()
        summary_writer = _import_writer(writer_name)
        result["import_ns"] = time.perf_counter_ns() - t0
        result["rss_after_import_mib"] = _rss_mib()

        # Imported after the writer so its (tiny) cost is not in import_ns.
        from _workloads import RUNNERS

        t0 = time.perf_counter_ns()
        w = summary_writer(logdir)
        result["open_ns"] = time.perf_counter_ns() - t0

        result.update(RUNNERS[workload](w, n, writer_name))

        t0 = time.perf_counter_ns()
        w.close()
        result["close_ns"] = time.perf_counter_ns() - t0
        result["rss_peak_mib"] = _rss_mib()
        result["ok"] = True
        rc = 0
    except BaseException as e:  # report anything, including KeyboardInterrupt
        result["ok"] = False
        result["error"] = f"{type(e).__name__}: {e}"
        result["traceback"] = traceback.format_exc()
        rc = 1
    with open(result_path, "w", encoding="utf-8") as f:
        json.dump(result, f)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
