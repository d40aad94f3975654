"""Write-throughput harness: tblog vs tensorboardX vs torch.utils.tensorboard.

    python benchmarks/run.py [--quick] [--writers tblog,tensorboardX,torch]
                             [--workloads scalar,text,log,train,histogram,image,audio]
                             [--repeats N]
                             [--out benchmarks/results]

Each (writer, workload, repeat) runs in a fresh subprocess (benchmarks/_child.py), so
import cost, background threads and peak RSS are isolated. Runs are interleaved
round-robin (repeat -> workload -> writer) so machine noise hits every writer alike.
After all timed runs, every log dir is read back with TensorBoard's EventAccumulator
(benchmarks/_verify.py); a run that fails is reported as FAILED, never counted.
See benchmarks/README.md for the meaning of every column.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from _child import WRITER_MODULES  # noqa: E402
from _machine import machine_info  # noqa: E402
from _report import write_reports  # noqa: E402
from _verify import verify  # noqa: E402
from _workloads import EXTRA_MODULES, WORKLOADS  # noqa: E402

ALL_WRITERS = ["tblog", "tensorboardX", "torch"]
PACKAGES = ["tblog", "tensorboardX", "torch", "tensorboard", "numpy", "protobuf", "crc32c"]
CHILD_TIMEOUT_S = 900


def _median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def _time_cmd(python: str, code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [python, "-c", code],
        check=True,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - t0


def import_times(python: str, writers: list[str], repeats: int) -> dict:
    """Wall time of `python -c "import X"` (warm .pyc cache), median of `repeats`."""
    codes = {"(interpreter only)": "pass"}
    for w in writers:
        codes[WRITER_MODULES[w]] = f"import {WRITER_MODULES[w]}"
    out = {}
    for label, code in codes.items():
        try:
            _time_cmd(python, code)  # warm the .pyc cache and the page cache
            ts = [_time_cmd(python, code) for _ in range(repeats)]
            out[label] = {
                "cmd": f'python -c "{code}"',
                "median_s": statistics.median(ts),
                "runs_s": ts,
            }
        except subprocess.CalledProcessError as e:
            out[label] = {"cmd": f'python -c "{code}"', "error": f"exit status {e.returncode}"}
    base = out["(interpreter only)"].get("median_s")
    for v in out.values():
        if base is not None and "median_s" in v:
            v["net_s"] = v["median_s"] - base
    return out


def check_writer(python: str, writer: str) -> str | None:
    """None if `SummaryWriter` imports in a fresh interpreter, else the error's last line."""
    code = f"from {WRITER_MODULES[writer]} import SummaryWriter"
    p = subprocess.run([python, "-c", code], capture_output=True, text=True, cwd=REPO)
    if p.returncode == 0:
        return None
    lines = [ln for ln in p.stderr.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else f"exit status {p.returncode}"


def check_module(python: str, module: str) -> bool:
    """True if `module` imports in a fresh interpreter."""
    p = subprocess.run([python, "-c", f"import {module}"], capture_output=True, text=True, cwd=REPO)
    return p.returncode == 0


def run_child(python: str, writer: str, workload: str, n: int, logdir: str, tmp: str) -> dict:
    result_path = os.path.join(tmp, f"result-{writer}-{workload}-{os.getpid()}-{time.monotonic_ns()}.json")
    cmd = [python, os.path.join(HERE, "_child.py"), writer, workload, str(n), logdir, result_path]
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"timed out after {CHILD_TIMEOUT_S}s"}
    try:
        with open(result_path, encoding="utf-8") as f:
            res = json.load(f)
        os.remove(result_path)
    except (OSError, ValueError):
        tail = (p.stderr or "").strip().splitlines()[-3:]
        return {"ok": False, "error": f"child exit {p.returncode}, no result: {' | '.join(tail)}"}
    if p.returncode != 0 and res.get("ok"):
        res["ok"] = False
        res["error"] = f"child exit status {p.returncode}"
    return res


def derive(run: dict) -> dict:
    """Per-run metrics from raw child timings and file stats."""
    wl = WORKLOADS[run["workload"]]
    n_ops = run["n"] * wl.ops_per_iter
    loop_s = run["loop_ns"] / 1e9
    close_s = run["close_ns"] / 1e9
    d = {
        "ops": n_ops,
        "caller_ops_s": n_ops / loop_s,
        "e2e_ops_s": n_ops / (loop_s + close_s),
        "close_s": close_s,
        "import_s": run["import_ns"] / 1e9,
        "rss_peak_mib": run["rss_peak_mib"],
        "rss_after_import_mib": run["rss_after_import_mib"],
    }
    files = run.get("files") or {}
    if files.get("records"):
        d["bytes"] = files["bytes"]
        d["records"] = files["records"]
        d["bytes_per_event"] = files["bytes"] / files["records"]
        d["bytes_per_op"] = files["bytes"] / n_ops
    if "round_ns" in run:
        per_call = sorted(r / wl.ops_per_iter for r in run["round_ns"])
        d["call_p50_us"] = statistics.median(per_call) / 1e3
        d["call_p99_us"] = per_call[min(len(per_call) - 1, int(0.99 * len(per_call)))] / 1e3
        d["call_max_us"] = per_call[-1] / 1e3
        d["train_wall_s"] = run["wall_ns"] / 1e9
    return d


def aggregate(runs: list[dict], writers: list[str], workloads: list[str]) -> dict:
    summary: dict = {}
    for wl in workloads:
        summary[wl] = {}
        for w in writers:
            rs = [r for r in runs if r["writer"] == w and r["workload"] == wl]
            bad = [r for r in rs if not r.get("ok")]
            cell: dict = {"repeats": len(rs), "passed": len(rs) - len(bad)}
            if rs and all(r.get("na") for r in rs):
                cell["status"] = "n/a"
                cell["reasons"] = sorted({r["na"] for r in rs})
            elif bad or not rs:
                cell["status"] = "FAILED"
                cell["reasons"] = sorted({r.get("error", "no run") for r in bad}) or ["no run"]
            else:
                cell["status"] = "ok"
                keys = rs[0]["metrics"].keys()
                for k in keys:
                    cell[k] = _median([r["metrics"][k] for r in rs if k in r["metrics"]])
                e2e = [r["metrics"]["e2e_ops_s"] for r in rs]
                cell["e2e_spread"] = (max(e2e) - min(e2e)) / statistics.median(e2e)
            summary[wl][w] = cell
        ref = summary[wl].get("tensorboardX")
        for cell in summary[wl].values():
            if cell["status"] == "ok" and ref and ref["status"] == "ok":
                cell["caller_vs_tbx"] = cell["caller_ops_s"] / ref["caller_ops_s"]
                cell["e2e_vs_tbx"] = cell["e2e_ops_s"] / ref["e2e_ops_s"]
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 repeat, 1/10 sizes (smoke test)")
    ap.add_argument("--writers", default=",".join(ALL_WRITERS), help="comma list of tblog,tensorboardX,torch")
    ap.add_argument("--workloads", default=",".join(WORKLOADS), help="comma list of " + ",".join(WORKLOADS))
    ap.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="runs per cell, median reported (default 3; 1 with --quick)",
    )
    ap.add_argument("--out", default=os.path.join(HERE, "results"), help="where results.md/json/png go")
    ap.add_argument("--workdir", default=None, help="where log dirs are written (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the log dirs")
    ap.add_argument("--python", default=sys.executable, help="interpreter for the child runs")
    args = ap.parse_args(argv)

    writers = [w.strip() for w in args.writers.split(",") if w.strip()]
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    for w in writers:
        if w not in WRITER_MODULES:
            ap.error(f"unknown writer {w!r}; choose from {', '.join(ALL_WRITERS)}")
    for w in workloads:
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w!r}; choose from {', '.join(WORKLOADS)}")
    repeats = args.repeats or (1 if args.quick else 3)
    python = args.python
    t_start = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t_start:6.1f}s] {msg}", file=sys.stderr, flush=True)

    info = machine_info(PACKAGES, python_executable=python)
    log(f"{info['cpu']}, {info['cores']} cores, Python {info['python']}, load {info['loadavg_start']}")

    unavailable = {}
    for w in writers:
        err = check_writer(python, w)
        if err:
            unavailable[w] = err
            log(f"writer {w} unavailable: {err}")
    # A writer that needs an optional package for one workload: n/a there if it is missing.
    not_applicable = {}
    for (w, wl), module in EXTRA_MODULES.items():
        if w in writers and wl in workloads and w not in unavailable and not check_module(python, module):
            not_applicable[(w, wl)] = (
                f"{w}'s add_{wl} imports `{module}`, which is not installed (pip install {module})"
            )
            log(f"{wl}/{w}: n/a ({not_applicable[(w, wl)]})")

    log("timing `python -c import ...`")
    imports = import_times(python, writers, repeats=2 if args.quick else 3)

    workdir = args.workdir or tempfile.mkdtemp(prefix="tblog-bench-")
    os.makedirs(workdir, exist_ok=True)
    runs: list[dict] = []
    total = repeats * len(workloads) * len(writers)
    k = 0
    for rep in range(repeats):
        for wl in workloads:
            n = WORKLOADS[wl].size(args.quick)
            for w in writers:
                k += 1
                logdir = os.path.join(workdir, f"{wl}-{w}-r{rep}")
                shutil.rmtree(logdir, ignore_errors=True)
                if w in unavailable:
                    res = {"ok": False, "error": f"writer unavailable: {unavailable[w]}"}
                elif (w, wl) in not_applicable:
                    res = {"ok": False, "na": not_applicable[(w, wl)]}
                else:
                    res = run_child(python, w, wl, n, logdir, workdir)
                res.update(writer=w, workload=wl, repeat=rep, n=n, logdir=logdir)
                runs.append(res)
                if res.get("ok"):
                    s = (res["loop_ns"] + res["close_ns"]) / 1e9
                    ops = n * WORKLOADS[wl].ops_per_iter
                    log(
                        f"[{k}/{total}] {wl:9} {w:12} rep {rep}: loop+close {s:7.2f}s  {ops / s:12,.0f} ops/s"
                    )
                elif res.get("na"):
                    log(f"[{k}/{total}] {wl:9} {w:12} rep {rep}: n/a")
                else:
                    log(f"[{k}/{total}] {wl:9} {w:12} rep {rep}: ERROR {res.get('error')}")

    info["loadavg_end_of_timing"] = os.getloadavg()
    # Nothing is timed any more, so the reads may use every core.
    to_check = [res for res in runs if res.get("ok")]
    n_workers = max(1, min(len(to_check), os.cpu_count() or 1))
    log(f"verifying {len(to_check)} log dirs with EventAccumulator ({n_workers} processes)")
    with ProcessPoolExecutor(max_workers=n_workers) as pool:
        futures = [pool.submit(verify, r["logdir"], r["workload"], r["n"]) for r in to_check]
        checks = [f.result() for f in futures]
    for res, (ok, msg, counts) in zip(to_check, checks, strict=True):
        res["verify"] = {"ok": ok, "message": msg}
        res["files"] = counts
        if not ok:
            res["ok"] = False
            res["error"] = f"verification: {msg}"
            log(f"FAILED verification {res['workload']} {res['writer']} rep {res['repeat']}: {msg}")
        res["metrics"] = derive(res)
        if not args.keep:
            shutil.rmtree(res["logdir"], ignore_errors=True)
    if not args.keep and not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)

    summary = aggregate(runs, writers, workloads)
    elapsed = time.perf_counter() - t_start
    config = {
        "quick": args.quick,
        "repeats": repeats,
        "writers": writers,
        "workloads": {
            wl: {**WORKLOADS[wl].__dict__, "size": WORKLOADS[wl].size(args.quick)} for wl in workloads
        },
        "elapsed_s": elapsed,
    }
    for res in runs:  # keep results.json readable: per-round timings summarized in metrics
        res.pop("round_ns", None)
        if res.get("ok"):
            res.pop("traceback", None)
    paths = write_reports(args.out, info=info, config=config, imports=imports, summary=summary, runs=runs)
    log(f"done in {elapsed:.0f}s: " + ", ".join(paths))
    failed = [(wl, w) for wl in summary for w, c in summary[wl].items() if c["status"] == "FAILED"]
    if failed:
        log("FAILED cells: " + ", ".join(f"{wl}/{w}" for wl, w in failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
