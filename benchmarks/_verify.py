"""Check a benchmark run's log dir with TensorBoard's own reader.

The judge is `tensorboard.backend.event_processing.event_accumulator.EventAccumulator`
with size guidance 0 (keep everything) for scalars and tensors. Every tag, point count,
step and value (scalars: within float32 rounding; text: exact string) is compared with
what the workload logged. Scalars are accepted as legacy `simple_value` or as rank-0
tensors with `scalars` plugin metadata; text must be a string tensor with `text`
plugin metadata.
"""

from __future__ import annotations

import math
import os
import struct
from typing import Any

from _workloads import expected


def event_files(logdir: str) -> list[str]:
    found = []
    for root, _dirs, files in os.walk(logdir):
        for name in files:
            if "tfevents" in name:
                found.append(os.path.join(root, name))
    return sorted(found)


def count_records(path: str) -> int:
    """Count framed records (uint64 len, uint32 crc, payload, uint32 crc); raise if torn."""
    n = 0
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        pos = 0
        while pos < size:
            header = f.read(8)
            if len(header) < 8:
                raise ValueError(f"{os.path.basename(path)}: torn record header at byte {pos}")
            (length,) = struct.unpack("<Q", header)
            pos += 8 + 4 + length + 4
            if pos > size:
                raise ValueError(f"{os.path.basename(path)}: truncated record ending at {pos} > {size}")
            f.seek(pos)
            n += 1
    return n


def file_stats(logdir: str) -> dict[str, int]:
    files = event_files(logdir)
    return {
        "files": len(files),
        "bytes": sum(os.path.getsize(p) for p in files),
        "records": sum(count_records(p) for p in files),
    }


def _f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def _plugin(acc: Any, tag: str) -> str | None:
    try:
        return acc.SummaryMetadata(tag).plugin_data.plugin_name
    except (KeyError, AttributeError):
        return None


def _scalar_points(acc: Any, tag: str, tags: dict) -> tuple[list[int], list[float]] | None:
    from tensorboard.util import tensor_util

    if tag in tags.get("scalars", ()):
        events = acc.Scalars(tag)
        return [e.step for e in events], [e.value for e in events]
    if tag in tags.get("tensors", ()):
        plugin = _plugin(acc, tag)
        if plugin != "scalars":
            raise ValueError(f"tag {tag!r}: tensor with plugin {plugin!r}, expected 'scalars'")
        steps, values = [], []
        for e in acc.Tensors(tag):
            arr = tensor_util.make_ndarray(e.tensor_proto)
            if arr.size != 1:
                raise ValueError(f"tag {tag!r} step {e.step}: scalar tensor of shape {arr.shape}")
            steps.append(e.step)
            values.append(float(arr.reshape(())))
        return steps, values
    return None


# tensorboardX and torch store add_text(tag, ...) under "<tag>/text_summary".
TEXT_SUFFIX = "/text_summary"


def _text_points(acc: Any, tag: str, tags: dict) -> tuple[list[int], list[str]] | None:
    from tensorboard.util import tensor_util

    if tag not in tags.get("tensors", ()):
        if tag + TEXT_SUFFIX not in tags.get("tensors", ()):
            return None
        tag += TEXT_SUFFIX
    plugin = _plugin(acc, tag)
    if plugin != "text":
        raise ValueError(f"tag {tag!r}: plugin {plugin!r}, expected 'text'")
    steps, texts = [], []
    for e in acc.Tensors(tag):
        arr = tensor_util.make_ndarray(e.tensor_proto)
        if arr.size < 1:
            raise ValueError(f"tag {tag!r} step {e.step}: empty text tensor")
        item = arr.reshape(-1)[0]
        steps.append(e.step)
        texts.append(item.decode("utf-8") if isinstance(item, bytes) else str(item))
    return steps, texts


def verify(logdir: str, workload: str, n: int) -> tuple[bool, str, dict[str, int]]:
    """Return (ok, message, counts) for the run in `logdir`."""
    from tensorboard.backend.event_processing import event_accumulator as ea

    counts = {"points": 0}
    try:
        stats = file_stats(logdir)
        counts.update(stats)
        if stats["files"] == 0:
            return False, "no event file written", counts
        acc = ea.EventAccumulator(
            logdir,
            size_guidance={ea.SCALARS: 0, ea.TENSORS: 0},
            purge_orphaned_data=True,
        )
        acc.Reload()
        tags = acc.Tags()
        for kind, per_tag in expected(workload, n).items():
            reader = _text_points if kind == "text" else _scalar_points
            for tag, (want_steps, want_values) in per_tag.items():
                got = reader(acc, tag, tags)
                if got is None:
                    return False, f"tag {tag!r} missing ({kind})", counts
                got_steps, got_values = got
                counts["points"] += len(got_steps)
                if len(got_steps) != len(want_steps):
                    return (
                        False,
                        f"tag {tag!r}: {len(got_steps)} points, expected {len(want_steps)}",
                        counts,
                    )
                if got_steps != want_steps:
                    i = next(i for i, (a, b) in enumerate(zip(got_steps, want_steps, strict=True)) if a != b)
                    return (
                        False,
                        f"tag {tag!r} point {i}: step {got_steps[i]}, expected {want_steps[i]}",
                        counts,
                    )
                for i, (g, w) in enumerate(zip(got_values, want_values, strict=True)):
                    if kind == "text":
                        bad = g != w
                    else:
                        bad = not math.isclose(g, _f32(w), rel_tol=1e-6, abs_tol=1e-6)
                    if bad:
                        return False, f"tag {tag!r} point {i}: value {g!r}, expected {w!r}", counts
            # No unexpected extra tags of this kind, e.g. duplicated series.
            extra = set(tags.get("scalars", ())) | set(tags.get("tensors", ()))
            extra -= set(per_tag) | {t + TEXT_SUFFIX for t in per_tag}
            if extra:
                return False, f"unexpected tags: {sorted(extra)[:5]}", counts
    except Exception as e:  # a reader crash is a verification failure, not a harness crash
        return False, f"reader error: {type(e).__name__}: {e}", counts
    return True, f"{counts['points']} points match", counts
