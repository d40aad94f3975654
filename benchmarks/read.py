"""Reading speed: 1,000,000 scalars back as a table, tblog.read vs tbparse vs EventAccumulator.

    python benchmarks/read.py [--quick] [--repeats N] [--n 1000000]
                              [--writers tblog,tensorboardX] [--out benchmarks/results]

The log directories are written once (``add_scalar(f"scalar/{i % 10}", v(i), i // 10)``, the
write benchmark's scalar workload, so every event is a plain ``simple_value``), by tblog and
by tensorboardX. Then each (reader, data set, repeat) runs in a fresh subprocess of this same
file (``--child READER LOGDIR``), round-robin, with the files in the page cache (the parent
reads them right before each child). The time is that of the reading call alone (imports
excluded); the reported number is the median over repeats. Every reader's output is checked:
1,000,000 rows, and the sums of steps and values equal what was written.

Readers:

* ``raw read``: ``open(f, "rb").read()`` of every event file: the floor.
* ``tblog.read.scalars``: the DataFrame (pandas installed), and ``dataframe=False`` (NumPy arrays).
* ``tbparse``: ``SummaryReader(logdir, extra_columns={"wall_time", "dir_name"}).scalars``.
* ``EventAccumulator``: tensorboard's, ``size_guidance={SCALARS: 0}`` (keep all), ``Reload()``,
  then ``Scalars(tag)`` for every tag (ScalarEvent tuples, no table built).

Writes ``read.md`` and ``read.json`` in ``--out``. See the "Reading speed" section of
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from _machine import machine_info  # noqa: E402

N_TAGS = 10
READERS = ["raw", "tblog", "tblog_numpy", "tbparse", "event_accumulator"]
LABELS = {
    "raw": "raw read (`open().read()`)",
    "tblog": "tblog.read.scalars (DataFrame)",
    "tblog_numpy": "tblog.read.scalars (dataframe=False)",
    "tbparse": "tbparse SummaryReader(...).scalars",
    "event_accumulator": "tensorboard EventAccumulator",
}
PACKAGES = ["tblog", "tbparse", "tensorboard", "tensorboardX", "pandas", "numpy", "protobuf", "crc32c"]
CHILD_TIMEOUT_S = 1800


def value_of(i: int) -> float:
    return (i % 1009) * 0.37


# ----- data -----------------------------------------------------------------------------------


def write_logdir(writer: str, n: int, logdir: str) -> float:
    """Write the n scalars with ``writer`` into ``logdir`` (in a fresh process); seconds taken."""
    code = (
        "import sys\n"
        f"from {'tblog' if writer == 'tblog' else 'tensorboardX'} import SummaryWriter\n"
        "w = SummaryWriter(sys.argv[1])\n"
        f"for i in range({n}):\n"
        f"    w.add_scalar(f'scalar/{{i % {N_TAGS}}}', (i % 1009) * 0.37, i // {N_TAGS})\n"
        "w.close()\n"
    )
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, logdir], check=True, cwd=REPO, timeout=CHILD_TIMEOUT_S)
    return time.perf_counter() - started


def expected_sums(n: int) -> tuple[int, float]:
    import numpy as np

    i = np.arange(n)
    values = ((i % 1009) * 0.37).astype(np.float32).astype(np.float64)
    return int((i // N_TAGS).sum()), float(values.sum())


def event_files(logdir: str) -> list[str]:
    return sorted(os.path.join(d, f) for d, _, names in os.walk(logdir) for f in names if "tfevents" in f)


# ----- one reader in a child process ----------------------------------------------------------


def child(reader: str, logdir: str) -> dict:
    """Run one reader once; return its timing and what it read."""
    import numpy as np

    started = time.perf_counter()
    if reader == "raw":
        size = 0
        timer = time.perf_counter()
        for file in event_files(logdir):
            with open(file, "rb") as stream:
                size += len(stream.read())
        elapsed = time.perf_counter() - timer
        return {"seconds": elapsed, "bytes": size, "import_s": 0.0}
    if reader in ("tblog", "tblog_numpy"):
        import tblog.read

        if reader == "tblog":
            import pandas  # noqa: F401  (imported by tbparse before its timer too)

        imported = time.perf_counter()
        table = tblog.read.scalars(logdir, dataframe=reader == "tblog")
        elapsed = time.perf_counter() - imported
        steps, values = np.asarray(table["step"]), np.asarray(table["value"])
    elif reader == "tbparse":
        from tbparse import SummaryReader

        imported = time.perf_counter()
        table = SummaryReader(logdir, extra_columns={"wall_time", "dir_name"}).scalars
        elapsed = time.perf_counter() - imported
        steps, values = table["step"].to_numpy(), table["value"].to_numpy()
    elif reader == "event_accumulator":
        from tensorboard.backend.event_processing import event_accumulator as ea

        imported = time.perf_counter()
        points = []
        for run in sorted({os.path.dirname(f) for f in event_files(logdir)}):
            accumulator = ea.EventAccumulator(run, size_guidance={ea.SCALARS: 0})
            accumulator.Reload()
            for tag in accumulator.Tags()["scalars"]:
                points.extend(accumulator.Scalars(tag))
        elapsed = time.perf_counter() - imported
        steps = np.array([p.step for p in points], dtype=np.int64)
        values = np.array([p.value for p in points], dtype=np.float64)
    else:
        raise ValueError(f"unknown reader {reader!r}")
    return {
        "seconds": elapsed,
        "import_s": imported - started,
        "rows": len(steps),
        "step_sum": int(np.sum(steps)),
        "value_sum": float(np.sum(values)),
        "rss_peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_child(reader: str, logdir: str) -> dict:
    files = event_files(logdir)
    for file in files:  # the page cache holds the files for every reader alike
        with open(file, "rb") as stream:
            stream.read()
    try:
        done = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--child", reader, logdir],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=CHILD_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"timed out after {CHILD_TIMEOUT_S}s"}
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        return {"ok": False, "error": f"exit status {done.returncode}: {tail}"}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["ok"] = True
    return result


def verify(result: dict, n: int, sums: tuple[int, float]) -> str | None:
    if "rows" not in result:
        return None
    if result["rows"] != n:
        return f"{result['rows']} rows, expected {n}"
    if result["step_sum"] != sums[0]:
        return f"sum of steps {result['step_sum']}, expected {sums[0]}"
    if abs(result["value_sum"] - sums[1]) > 1e-9 * abs(sums[1]):
        return f"sum of values {result['value_sum']}, expected {sums[1]}"
    return None


# ----- report ---------------------------------------------------------------------------------


def report(summary: dict, machine: dict, config: dict) -> str:
    lines = [
        "# Reading speed: scalars back as a table",
        "",
        f'{config["n"]:,} scalars (10 tags, `add_scalar(f"scalar/{{i % 10}}", v(i), i // 10)`), one '
        f"event file per data set; every reader in a fresh process, files in the page cache; "
        f"median of {config['repeats']} (reading call only, imports excluded). "
        "Every result checked: row count and the sums of steps and values.",
        "",
        "| data written by | reader | status | seconds | best s | rows/s | MB/s | × raw read | vs tblog "
        "| peak RSS MiB |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for dataset, cells in summary.items():
        raw = cells.get("raw", {}).get("seconds")
        ours = cells.get("tblog", {}).get("seconds")
        for reader in READERS:
            cell = cells.get(reader)
            if cell is None:
                continue
            if cell["status"] != "ok":
                lines.append(f"| {dataset} | {LABELS[reader]} | {cell['status']} | | | | | | | |")
                continue
            seconds = cell["seconds"]
            megabytes = cell["bytes"] / 1e6 / seconds
            lines.append(
                f"| {dataset} | {LABELS[reader]} | ok | {seconds:.3f} | {min(cell['runs_s']):.3f} | "
                f"{config['n'] / seconds:,.0f} | {megabytes:,.0f} | "
                f"{seconds / raw:.1f}× | {'—' if reader == 'raw' else f'{seconds / ours:.2f}×'} | "
                f"{cell.get('rss_peak_mib', 0):.0f} |"
            )
    failures = [
        f"- {dataset} / {LABELS[reader]}: {'; '.join(cell['reasons'])}"
        for dataset, cells in summary.items()
        for reader, cell in cells.items()
        if cell["status"] != "ok"
    ]
    if failures:
        lines += ["", "## Failures", "", *failures]
    lines += [
        "",
        "seconds: median; best s: the fastest repeat (on a shared machine the least disturbed). "
        "× raw read: seconds / the raw read's seconds on the same files. vs tblog: seconds / "
        "tblog.read.scalars (DataFrame)'s (higher = slower than tblog).",
        "",
        "## Machine",
        "",
        f"- date: {machine['date_utc']}",
        f"- CPU: {machine['cpu']} ({machine['cores']} cores, {machine['cores_usable']} usable), "
        f"load at start {', '.join(f'{x:.2f}' for x in machine['loadavg_start'])}",
        f"- {machine['os']}, Python {machine['python']}",
        "- packages: " + ", ".join(f"{k} {v}" for k, v in machine["packages"].items() if v),
        f"- tblog commit: {machine['git_commit']}",
        f"- data sets written in: {', '.join(f'{k} {v:.1f} s' for k, v in config['write_s'].items())}",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--child", nargs=2, metavar=("READER", "LOGDIR"), help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="1 repeat of 100,000 scalars")
    parser.add_argument("--repeats", type=int, default=None, help="runs per cell (default 3, 1 with --quick)")
    parser.add_argument("--n", type=int, default=None, help="scalars per data set (default 1,000,000)")
    parser.add_argument("--writers", default="tblog,tensorboardX", help="who writes the data sets")
    parser.add_argument("--readers", default=",".join(READERS), help=f"any of {','.join(READERS)}")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--workdir", default=None, help="where the data sets go (default: a temp dir)")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    n = args.n or (100_000 if args.quick else 1_000_000)
    repeats = args.repeats or (1 if args.quick else 3)
    writers = [w for w in args.writers.split(",") if w]
    readers = [r for r in args.readers.split(",") if r]
    unknown = set(readers) - set(READERS) | set(writers) - {"tblog", "tensorboardX"}
    if unknown:
        parser.error(f"unknown reader or writer: {', '.join(sorted(unknown))}")
    machine = machine_info(PACKAGES)
    workdir = args.workdir or tempfile.mkdtemp(prefix="tblog-read-bench-")
    sums = expected_sums(n)
    write_s = {}
    logdirs = {}
    for writer in writers:
        logdirs[writer] = os.path.join(workdir, writer)
        shutil.rmtree(logdirs[writer], ignore_errors=True)
        print(f"writing {n:,} scalars with {writer} ...", flush=True)
        write_s[writer] = write_logdir(writer, n, logdirs[writer])
    runs: list[dict] = []
    for repeat in range(repeats):
        for writer in writers:
            for reader in readers:
                result = run_child(reader, logdirs[writer])
                result.update(reader=reader, dataset=writer, repeat=repeat)
                if result["ok"]:
                    problem = verify(result, n, sums)
                    if problem:
                        result.update(ok=False, error=problem)
                shown = f"{result['seconds']:.3f} s" if result["ok"] else f"FAILED: {result['error']}"
                print(f"[{repeat + 1}/{repeats}] {writer:>12} {reader:>18}: {shown}", flush=True)
                runs.append(result)
    summary: dict = {}
    for writer in writers:
        size = sum(os.path.getsize(f) for f in event_files(logdirs[writer]))
        summary[writer] = {}
        for reader in readers:
            cell_runs = [r for r in runs if r["dataset"] == writer and r["reader"] == reader]
            bad = [r for r in cell_runs if not r["ok"]]
            if bad:
                summary[writer][reader] = {"status": "FAILED", "reasons": sorted({r["error"] for r in bad})}
                continue
            summary[writer][reader] = {
                "status": "ok",
                "seconds": statistics.median(r["seconds"] for r in cell_runs),
                "runs_s": [r["seconds"] for r in cell_runs],
                "bytes": size,
                "rss_peak_mib": statistics.median(r.get("rss_peak_mib", 0) for r in cell_runs),
            }
    config = {"n": n, "repeats": repeats, "writers": writers, "readers": readers, "write_s": write_s}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "read.md"), "w", encoding="utf-8") as out:
        out.write(report(summary, machine, config))
    with open(os.path.join(args.out, "read.json"), "w", encoding="utf-8") as out:
        json.dump({"machine": machine, "config": config, "summary": summary, "runs": runs}, out, indent=1)
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"wrote {os.path.join(args.out, 'read.md')}")
    return 1 if any(c["status"] != "ok" for cells in summary.values() for c in cells.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
