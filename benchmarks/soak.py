"""Soak benchmark: 10 million scalars through one SummaryWriter, with the process's RSS sampled.

    python benchmarks/soak.py [--scalars 10000000] [--samples 100] [--apis add_scalar,log]
                              [--max-growth-mib 16] [--out benchmarks/results] [--keep]

Each API runs in a fresh subprocess (so one run's memory never counts in another's):

- ``add_scalar``: ``writer.add_scalar(f"soak/{i % 10}", value(i), i // 10)``, one call per scalar;
- ``log``: ``writer.log({10 metrics}, step)``, one call per 10 scalars.

VmRSS (/proc/self/status) is sampled ``--samples`` times during the loop. Reported: RSS after
the writer is created, at 10 %, 50 % and 100 % of the loop, peak RSS (VmHWM), growth from 10 %
to 100 % (the writer's steady state; the first 10 % include the queue and buffers filling up),
loop and end-to-end throughput. Afterwards the log dir is read back with ``tblog.read.scalars``
and every scalar must be there. A run fails (exit status 1) if it loses a scalar or its RSS
grows more than ``--max-growth-mib`` from 10 % to 100 %. Writes ``soak.json`` and ``soak.md``
to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from _machine import machine_info  # noqa: E402

TAGS = 10
CHILD_TIMEOUT_S = 3600


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


def child(api: str, scalars: int, samples: int, logdir: str) -> dict[str, Any]:
    """Log ``scalars`` scalars with ``api`` into ``logdir``; the RSS samples and timings."""
    import tblog

    tags = [f"soak/{k}" for k in range(TAGS)]
    calls = scalars if api == "add_scalar" else scalars // TAGS
    every = max(1, calls // samples)
    trace: list[tuple[int, int, float]] = []  # (calls done, VmRSS KiB, seconds since the loop began)
    writer = tblog.SummaryWriter(logdir)
    rss_open = _status_kib("VmRSS")
    start = time.perf_counter_ns()
    if api == "add_scalar":
        add_scalar = writer.add_scalar
        for i in range(calls):
            add_scalar(tags[i % TAGS], (i % 1000) * 1e-3, i // TAGS)
            if i % every == every - 1:
                trace.append((i + 1, _status_kib("VmRSS"), (time.perf_counter_ns() - start) / 1e9))
    else:
        log = writer.log
        for i in range(calls):
            log({tag: ((i * TAGS + k) % 1000) * 1e-3 for k, tag in enumerate(tags)}, i)
            if i % every == every - 1:
                trace.append((i + 1, _status_kib("VmRSS"), (time.perf_counter_ns() - start) / 1e9))
    loop_s = (time.perf_counter_ns() - start) / 1e9
    writer.close()
    total_s = (time.perf_counter_ns() - start) / 1e9
    return {
        "api": api,
        "scalars": calls * (1 if api == "add_scalar" else TAGS),
        "calls": calls,
        "loop_s": loop_s,
        "close_s": total_s - loop_s,
        "rss_open_kib": rss_open,
        "rss_after_close_kib": _status_kib("VmRSS"),
        "peak_rss_kib": _status_kib("VmHWM"),
        "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "trace": trace,
    }


def _at(trace: list[list[float]], fraction: float) -> int:
    """VmRSS (KiB) of the first sample at or after ``fraction`` of the calls."""
    target = trace[-1][0] * fraction
    return int(next(rss for calls, rss, _ in trace if calls >= target))


def summarize(
    run: dict[str, Any], read_back: int, bytes_on_disk: int, max_growth_mib: float
) -> dict[str, Any]:
    mib = 1 / 1024
    trace = run["trace"]
    rss10, rss50, rss100 = (_at(trace, f) for f in (0.1, 0.5, 1.0))
    growth = (rss100 - rss10) * mib
    lost = run["scalars"] - read_back
    return {
        "api": run["api"],
        "scalars": run["scalars"],
        "calls": run["calls"],
        "status": "ok" if lost == 0 and growth <= max_growth_mib else "FAILED",
        "scalars_read_back": read_back,
        "event_file_mib": round(bytes_on_disk / 2**20, 1),
        "loop_s": round(run["loop_s"], 2),
        "close_s": round(run["close_s"], 3),
        "scalars_per_s_loop": round(run["scalars"] / run["loop_s"]),
        "scalars_per_s_e2e": round(run["scalars"] / (run["loop_s"] + run["close_s"])),
        "rss_open_mib": round(run["rss_open_kib"] * mib, 1),
        "rss_10pct_mib": round(rss10 * mib, 1),
        "rss_50pct_mib": round(rss50 * mib, 1),
        "rss_100pct_mib": round(rss100 * mib, 1),
        "rss_growth_10_to_100pct_mib": round(growth, 1),
        "rss_max_sampled_mib": round(max(rss for _, rss, _ in trace) * mib, 1),
        "peak_rss_mib": round(run["peak_rss_kib"] * mib, 1),
        "rss_after_close_mib": round(run["rss_after_close_kib"] * mib, 1),
        "max_growth_mib": max_growth_mib,
    }


def read_back(logdir: str) -> tuple[int, int]:
    """(scalars tblog.read finds in ``logdir``, bytes of its event files)."""
    sys.path.insert(0, REPO)
    from tblog import read

    table = read.scalars(logdir, dataframe=False, on_corrupt="raise")
    size = sum(os.path.getsize(f) for f in read.event_files(logdir))
    return len(table["value"]), size


def render(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# Soak: 10 million scalars through one SummaryWriter",
        "",
        f"{m['date_utc']} · {m['cpu']} · {m['cores_usable']} usable cores · load at start "
        f"{' / '.join(f'{x:.2f}' for x in m['loadavg_start'])} · Python {m['python']} "
        f"· tblog {m['git_commit']}",
        "",
        "| API | scalars | status | RSS open | RSS 10 % | RSS 50 % | RSS 100 % | growth 10→100 % "
        "| peak RSS | scalars/s loop | scalars/s e2e | close s | file MiB |",
        "|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in report["runs"]:
        lines.append(
            f"| `{r['api']}` | {r['scalars']:,} | {r['status']} | {r['rss_open_mib']} | {r['rss_10pct_mib']} "
            f"| {r['rss_50pct_mib']} | {r['rss_100pct_mib']} | {r['rss_growth_10_to_100pct_mib']:+} "
            f"| {r['peak_rss_mib']} | {r['scalars_per_s_loop']:,} | {r['scalars_per_s_e2e']:,} "
            f"| {r['close_s']} | {r['event_file_mib']} |"
        )
    lines += [
        "",
        "RSS columns are MiB (VmRSS; peak is VmHWM). Growth is from 10 % to 100 % of the loop and must",
        f"stay under {report['config']['max_growth_mib']} MiB; every scalar must read back with "
        "`tblog.read.scalars`. See benchmarks/README.md.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scalars", type=int, default=10_000_000)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--apis", default="add_scalar,log")
    parser.add_argument("--max-growth-mib", type=float, default=16.0)
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--keep", action="store_true", help="keep the log dirs (printed)")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # "api,scalars,samples,logdir,result.json"
    args = parser.parse_args()
    if args.child:
        api, scalars, samples, logdir, result = args.child.split(",")
        with open(result, "w", encoding="utf-8") as out:
            json.dump(child(api, int(scalars), int(samples), logdir), out)
        return 0
    config = {"scalars": args.scalars, "samples": args.samples, "max_growth_mib": args.max_growth_mib}
    report: dict[str, Any] = {
        "machine": machine_info(["tblog", "numpy", "protobuf", "crc32c"]),
        "config": config,
        "runs": [],
        "traces": {},
    }
    work = tempfile.mkdtemp(prefix="tblog-soak-")
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        for api in args.apis.split(","):
            logdir, result = os.path.join(work, api), os.path.join(work, api + ".json")
            spec = ",".join(map(str, (api, args.scalars, args.samples, logdir, result)))
            cmd = [sys.executable, os.path.abspath(__file__), "--child", spec]
            subprocess.run(cmd, check=True, timeout=CHILD_TIMEOUT_S, env=env)
            with open(result, encoding="utf-8") as f:
                run = json.load(f)
            found, size = read_back(logdir)
            summary = summarize(run, found, size, args.max_growth_mib)
            report["runs"].append(summary)
            report["traces"][api] = run["trace"]
            print(json.dumps(summary), flush=True)
    finally:
        if args.keep:
            print("log dirs kept in", work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "soak.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    with open(os.path.join(args.out, "soak.md"), "w", encoding="utf-8") as f:
        f.write(render(report))
    print(render(report))
    return 0 if all(r["status"] == "ok" for r in report["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
