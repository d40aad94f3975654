"""``tblog inspect``: what a log directory holds, per run and dashboard."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tblog.cli.dashboards import DASHBOARDS, TagKinds, event_dashboards
from tblog.cli.growing_file import GrowingFile
from tblog.events.record import open_regular
from tblog.read import values as decode

PROJECTOR_CONFIG = "projector_config.pbtxt"
_TENSOR_NAME = re.compile(r'tensor_name:\s*"((?:[^"\\]|\\.)*)"')


@dataclass
class TagStats:
    """How often a tag was logged, at which steps, and (scalars) its last value."""

    count: int = 0
    first_step: int | None = None
    last_step: int | None = None
    last_value: float | None = None

    def add(self, step: int, value: float | None = None) -> None:
        self.count += 1
        self.first_step = step if self.first_step is None else min(self.first_step, step)
        self.last_step = step if self.last_step is None else max(self.last_step, step)
        if value is not None:
            self.last_value = value


@dataclass
class FileStats:
    path: str
    bytes: int
    records: int
    incomplete_bytes: int
    corrupt: list[str]


@dataclass
class RunStats:
    files: list[FileStats] = field(default_factory=list)
    dashboards: dict[str, dict[str, TagStats]] = field(default_factory=dict)
    first_wall_time: float | None = None
    last_wall_time: float | None = None
    hparams: dict[str, Any] | None = None  # the first session_start_info's, as TensorBoard shows

    def tag(self, dashboard: str, tag: str) -> TagStats:
        return self.dashboards.setdefault(dashboard, {}).setdefault(tag, TagStats())

    def saw_time(self, wall_time: float) -> None:
        if wall_time <= 0:
            return
        if self.first_wall_time is None or wall_time < self.first_wall_time:
            self.first_wall_time = wall_time
        if self.last_wall_time is None or wall_time > self.last_wall_time:
            self.last_wall_time = wall_time


def inspect_run(files: list[str], on_bytes: Callable[[int], None] = lambda n: None) -> RunStats:
    """Read every event of one run's files (in order) into a :class:`RunStats`."""
    stats = RunStats()
    kinds = TagKinds()
    for path in files:
        source = GrowingFile(path)
        for event in source.events(final=True):
            stats.saw_time(event.wall_time)
            for dashboard, tag in event_dashboards(event):
                stats.tag(dashboard, tag).add(event.step)
            if event.WhichOneof("what") != "summary":
                continue
            for value in event.summary.value:
                dashboard = kinds.dashboard(value)
                number = kinds.scalar(value) if dashboard == "scalars" else None
                stats.tag(dashboard, value.tag).add(event.step, number)
                if value.tag == decode.SESSION_START_TAG and stats.hparams is None:
                    stats.hparams = _hparams(value)
        stats.files.append(
            FileStats(path, source.size, source.records_read, source.incomplete_bytes, source.corrupt)
        )
        on_bytes(source.size)
    stats.dashboards = {
        name: dict(sorted(tags.items()))
        for name, tags in sorted(stats.dashboards.items(), key=_dashboard_order)
    }
    return stats


def _hparams(value: Any) -> dict[str, Any] | None:
    try:
        content = decode.hparams_content(value)
    except Exception:  # protobuf's DecodeError: the tag is listed, its values are not shown
        return None
    if content is None or not content.HasField("session_start_info"):
        return None
    values = content.session_start_info.hparams
    return {name: decode.struct_value(values[name]) for name in sorted(values)}


def _dashboard_order(item: tuple[str, Any]) -> tuple[int, str]:
    name = item[0]
    return (DASHBOARDS.index(name) if name in DASHBOARDS else len(DASHBOARDS), name)


def side_files(logdir: str) -> dict[str, dict[str, list[str]]]:
    """Files that are no events: projector configs (their tensor names) and profile traces,
    by directory relative to ``logdir``."""
    found: dict[str, dict[str, list[str]]] = {"projector": {}, "profile": {}}
    if not os.path.isdir(logdir):
        return found
    for directory, _, names in os.walk(logdir):
        where = os.path.relpath(directory, logdir).replace(os.sep, "/")
        if PROJECTOR_CONFIG in names:
            try:  # opened without blocking: a FIFO of that name is "unreadable", not a hang
                with open_regular(os.path.join(directory, PROJECTOR_CONFIG)) as config:
                    tensors = _TENSOR_NAME.findall(config.read().decode("utf-8"))
            except (OSError, UnicodeDecodeError):
                tensors = ["(unreadable)"]
            found["projector"][where] = tensors
        traces = sorted(n for n in names if n.endswith((".trace.json.gz", ".xplane.pb")))
        if traces:
            found["profile"][where] = traces
    return found


def to_json(logdir: str, runs: dict[str, RunStats], side: dict[str, dict[str, list[str]]]) -> dict[str, Any]:
    """A JSON-ready dict of everything ``inspect`` found."""
    corrupt = [m for run in runs.values() for f in run.files for m in f.corrupt]
    return {
        "logdir": logdir,
        "runs": {
            name: {
                "files": [vars(f) for f in run.files],
                "wall_time": [run.first_wall_time, run.last_wall_time],
                "hparams": run.hparams,
                "dashboards": {
                    dash: {tag: vars(stats) for tag, stats in tags.items()}
                    for dash, tags in run.dashboards.items()
                },
            }
            for name, run in runs.items()
        },
        "projector": side["projector"],
        "profile": side["profile"],
        "totals": {
            "runs": len(runs),
            "files": sum(len(run.files) for run in runs.values()),
            "bytes": sum(f.bytes for run in runs.values() for f in run.files),
            "corrupt_records": len(corrupt),
        },
        "first_corrupt": corrupt[0] if corrupt else None,
    }


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def _clock(wall_time: float | None) -> str:
    return "-" if wall_time is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(wall_time))


def _steps(stats: TagStats) -> str:
    if stats.first_step == stats.last_step:
        return f"step {stats.first_step}"
    return f"steps {stats.first_step}..{stats.last_step}"


def to_text(report: dict[str, Any]) -> str:
    """The human-readable listing of a :func:`to_json` report."""
    totals = report["totals"]
    lines = [
        f"{report['logdir']}: {totals['runs']} run{'s' * (totals['runs'] != 1)}, "
        f"{totals['files']} event file{'s' * (totals['files'] != 1)}, {human_bytes(totals['bytes'])}"
    ]
    for name, run in report["runs"].items():
        size = sum(f["bytes"] for f in run["files"])
        first, last = run["wall_time"]
        lines.append("")
        lines.append(
            f"run {name}  ({len(run['files'])} file{'s' * (len(run['files']) != 1)}, {human_bytes(size)}; "
            f"{_clock(first)} .. {_clock(last)})"
        )
        if not run["dashboards"]:
            lines.append("  (no summaries)")
        width = min(40, max((len(tag) for tags in run["dashboards"].values() for tag in tags), default=0))
        for dashboard, tags in run["dashboards"].items():
            lines.append(f"  {dashboard} ({len(tags)} tag{'s' * (len(tags) != 1)})")
            if dashboard == "hparams" and run["hparams"]:
                shown = ", ".join(
                    f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in run["hparams"].items()
                )
                lines.append(f"    values: {shown}")
            for tag, stats in tags.items():
                stats_ = TagStats(**stats)
                line = f"    {tag:<{width}}  {stats_.count:>7,} × {_steps(stats_)}"
                if stats_.last_value is not None:
                    line += f"  last {stats_.last_value:.6g}"
                lines.append(line)
        for f in run["files"]:
            if f["incomplete_bytes"]:
                lines.append(
                    f"  note: {f['path']} ends with {f['incomplete_bytes']} bytes of an incomplete "
                    "record (still being written, or cut off)"
                )
    for kind, label in (("projector", "projector"), ("profile", "profile traces")):
        for where, names in report[kind].items():
            lines.append("")
            lines.append(f"{label} in {where}: {', '.join(names) or '(none listed)'}")
    count = totals["corrupt_records"]
    lines.append("")
    if count:
        lines.append(f"corrupt records: {count}; first: {report['first_corrupt']}")
    else:
        lines.append("corrupt records: none")
    return "\n".join(lines)
