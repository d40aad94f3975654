"""Write results.md, results.json and throughput.png from aggregated benchmark results."""

from __future__ import annotations

import json
import math
import os

from _workloads import NATIVE_LOG, WORKLOADS

EMULATED = "†"

# Performance targets from the issue: (workload, metric key, min ratio to tensorboardX, label).
TARGETS = [
    ("histogram", "e2e_vs_tbx", 5.0, "`add_histogram` end-to-end"),
    ("image", "caller_vs_tbx", 10.0, "`add_image` caller-side"),
    ("image", "e2e_vs_tbx", 1.5, "`add_image` end-to-end"),
]


def _num(x: float | None, fmt: str = ",.0f") -> str:
    return "—" if x is None else format(x, fmt)


def _ratio(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}×"


def _load(xs: list[float] | None) -> str:
    return "—" if not xs else " / ".join(f"{x:.2f}" for x in xs)


def _spread(cell: dict) -> str:
    if cell["repeats"] < 2:
        return "—"
    return f"±{cell['e2e_spread'] * 50:.0f}%"


def _writer_label(workload: str, writer: str) -> str:
    if workload == "log" and writer not in NATIVE_LOG:
        return writer + EMULATED
    return writer


def render_targets(summary: dict) -> list[str]:
    """Rows of the targets table for the workloads in this run."""
    rows = []
    for wl, key, want, label in TARGETS:
        cell = summary.get(wl, {}).get("tblog")
        ref = summary.get(wl, {}).get("tensorboardX")
        if cell is None or ref is None:
            continue
        got = cell.get(key)
        if got is None:
            why = "tblog " + cell["status"] if cell["status"] != "ok" else "tensorboardX " + ref["status"]
            rows.append(f"| {label} ≥ {want:g}× tensorboardX | — | not measured ({why}) |")
        else:
            met = "**yes**" if got >= want else "**no**"
            rows.append(f"| {label} ≥ {want:g}× tensorboardX | {got:.2f}× | {met} |")
    return rows


def render_markdown(info: dict, config: dict, imports: dict, summary: dict) -> str:
    out: list[str] = []
    add = out.append
    add("# Write-throughput benchmark: tblog vs tensorboardX vs torch.utils.tensorboard")
    add("")
    add(
        f"- Date: {info['date_utc']}; total harness time {config['elapsed_s']:.0f} s"
        f" ({'--quick, ' if config['quick'] else ''}{config['repeats']} repeat(s) per cell,"
        " median shown)"
    )
    add(
        f"- CPU: {info['cpu']}; {info['cores']} cores ({info['cores_usable']} usable);"
        f" load average (1/5/15 min) at start {_load(info.get('loadavg_start'))},"
        f" after the timed runs {_load(info.get('loadavg_end_of_timing'))}"
    )
    add(f"- OS: {info['os']}; Python {info['python']}")
    add("- Packages: " + ", ".join(f"{k} {v or 'not installed'}" for k, v in info["packages"].items()))
    if info.get("git_commit"):
        add(f"- git HEAD: {info['git_commit']}")
    add("")
    add("## Throughput")
    add("")
    add(
        "Every run was read back with TensorBoard's `EventAccumulator` and checked point by point;"
        " a cell whose runs did not all pass shows FAILED."
        " Ratios are to tensorboardX (higher is better)."
    )
    add("")
    add(
        "| workload | writer | status | caller ops/s | vs tbX | end-to-end ops/s | vs tbX"
        " | e2e spread"
        " | bytes/event | bytes/op | peak RSS MiB | import s |"
    )
    add("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    failures = []
    not_applicable = []
    for wl, cells in summary.items():
        for w, c in cells.items():
            label = _writer_label(wl, w)
            if c["status"] == "n/a":
                add(f"| {wl} | {label} | n/a ‡" + " | —" * 9 + " |")
                not_applicable.append((wl, w, c.get("reasons", [])))
                continue
            if c["status"] != "ok":
                add(
                    f"| {wl} | {label} | **FAILED** ({c['passed']}/{c['repeats']} passed)" + " | —" * 9 + " |"
                )
                failures.append((wl, w, c.get("reasons", [])))
                continue
            add(
                f"| {wl} | {label} | ok | {_num(c['caller_ops_s'])}"
                f" | {_ratio(c.get('caller_vs_tbx'))}"
                f" | {_num(c['e2e_ops_s'])} | {_ratio(c.get('e2e_vs_tbx'))} | {_spread(c)}"
                f" | {_num(c.get('bytes_per_event'), '.1f')} | {_num(c.get('bytes_per_op'), '.1f')}"
                f" | {_num(c['rss_peak_mib'], '.0f')} | {_num(c['import_s'], '.2f')} |"
            )
    if "log" in summary:
        add("")
        add(
            f"{EMULATED} tensorboardX and torch have no `log(dict, step)`:"
            " the log workload calls `add_scalar`"
            " once per metric (10 calls, 10 events per step); tblog writes one event per `log()` call."
        )
    if not_applicable:
        add("")
        for wl, w, reasons in not_applicable:
            add(f"‡ {wl} / {w} not run: {'; '.join(reasons)}.")
    targets = render_targets(summary)
    if targets:
        add("")
        add("### Targets (tblog vs tensorboardX)")
        add("")
        add("| target | measured | met? |")
        add("|---|--:|---|")
        out.extend(targets)
    add("")
    add("Workloads (ops = the unit of the ops/s columns):")
    add("")
    add("| workload | size | what is logged | one op |")
    add("|---|--:|---|---|")
    for wl in summary:
        spec = config["workloads"][wl]
        add(f"| {wl} | {spec['size']:,} | {spec['description']} | {spec['unit']} |")
    if "train" in summary:
        add("")
        add("## Training-like loop: caller-side cost per add_scalar call")
        add("")
        add(
            "Per round, `time.perf_counter_ns()` brackets the 10 `add_scalar` calls only"
            " (the 1 ms sleep"
            " that follows releases the GIL for background writers); per-call = round time / 10."
            " Median over repeats of each run's statistic."
        )
        add("")
        add("| writer | status | median µs/call | p99 µs/call | max µs/call | close() ms | loop wall s |")
        add("|---|---|--:|--:|--:|--:|--:|")
        for w, c in summary["train"].items():
            if c["status"] != "ok":
                add(f"| {w} | **FAILED** |" + " — |" * 5)
                continue
            add(
                f"| {w} | ok | {c['call_p50_us']:.2f} | {c['call_p99_us']:.2f}"
                f" | {c['call_max_us']:.0f}"
                f" | {c['close_s'] * 1e3:.1f} | {c['train_wall_s']:.2f} |"
            )
    add("")
    add("## Import time")
    add("")
    add(
        "Wall time of a fresh interpreter running the command (warm .pyc and page cache), median;"
        " net = minus the bare interpreter. The `import s` column above is measured inside each run"
        " around `from <module> import SummaryWriter`."
    )
    add("")
    add("| command | wall s | net s |")
    add("|---|--:|--:|")
    for v in imports.values():
        if "median_s" in v:
            add(f"| `{v['cmd']}` | {v['median_s']:.3f} | {_num(v.get('net_s'), '.3f')} |")
        else:
            add(f"| `{v['cmd']}` | FAILED: {v.get('error')} | — |")
    if failures:
        add("")
        add("## Failures")
        add("")
        for wl, w, reasons in failures:
            for r in reasons:
                add(f"- {wl} / {w}: {r}")
    add("")
    return "\n".join(out)


def plot(path: str, summary: dict, writers: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = list(summary)
    width = 0.8 / max(1, len(writers))
    fig, ax = plt.subplots(figsize=(2.2 + 2.0 * len(workloads), 4.5))
    ok_vals = [
        summary[wl][w]["e2e_ops_s"] for wl in workloads for w in writers if summary[wl][w]["status"] == "ok"
    ]
    ymin = 10.0 ** math.floor(math.log10(min(ok_vals))) if ok_vals else 1.0
    ymax = max(ok_vals, default=10.0)
    for j, w in enumerate(writers):
        xs, ys = [], []
        for i, wl in enumerate(workloads):
            c = summary[wl][w]
            x = i + (j - (len(writers) - 1) / 2) * width
            if c["status"] == "ok":
                xs.append(x)
                ys.append(c["e2e_ops_s"])
            else:
                ax.text(
                    x,
                    ymin * 1.2,
                    c["status"].upper() if c["status"] == "FAILED" else c["status"],
                    rotation=90,
                    ha="center",
                    va="bottom",
                    fontsize=8,
                    color="red" if c["status"] == "FAILED" else "gray",
                )
        bars = ax.bar(xs, ys, width, label=w)
        for b, y in zip(bars, ys, strict=True):
            ax.text(
                b.get_x() + b.get_width() / 2,
                y * 1.08,
                f"{y:,.0f}",
                ha="center",
                va="bottom",
                fontsize=7,
                rotation=90,
            )
    ax.set_yscale("log")
    ax.set_ylim(ymin, ymax * 8)
    ax.set_xticks(range(len(workloads)))
    ax.set_xticklabels([f"{wl}\n({WORKLOADS[wl].unit.split(' (')[0]}s)" for wl in workloads], fontsize=8)
    ax.set_ylabel("end-to-end ops/s (loop + close), log scale")
    ax.set_title("Write throughput, higher is better (log workload: peers emulate with add_scalar)")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=8)
    ax.grid(axis="y", which="major", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_reports(
    out_dir: str, *, info: dict, config: dict, imports: dict, summary: dict, runs: list[dict]
) -> list[str]:
    os.makedirs(out_dir, exist_ok=True)
    md_path = os.path.join(out_dir, "results.md")
    json_path = os.path.join(out_dir, "results.json")
    png_path = os.path.join(out_dir, "throughput.png")
    with open(md_path, "w", encoding="utf-8") as f:
        f.write(render_markdown(info, config, imports, summary))
    with open(json_path, "w", encoding="utf-8") as f:
        json.dump(
            {
                "machine": info,
                "config": config,
                "imports": imports,
                "summary": summary,
                "runs": runs,
            },
            f,
            indent=1,
            sort_keys=False,
        )
        f.write("\n")
    plot(png_path, summary, config["writers"])
    return [md_path, json_path, png_path]
