"""Check a benchmark run's log dir with TensorBoard's own reader.

The judge is `tensorboard.backend.event_processing.event_accumulator.EventAccumulator`
with size guidance 0 (keep everything) for scalars, tensors, histograms, images and audio.
Every tag, point count, step and value (scalars: within float32 rounding; text: exact
string) is compared with what the workload logged. Scalars are accepted as legacy
`simple_value` or as rank-0 tensors with `scalars` plugin metadata; text must be a string
tensor with `text` plugin metadata. Histograms, images and audio are read through
`Histograms()`, `Images()` and `Audio()`; the data of every point is checked against a
rebuild of the array that call logged (see `_check_histogram`, `_check_image`,
`_check_audio`).
"""

from __future__ import annotations

import math
import os
import struct
from typing import Any

from _workloads import (
    HIST_SIZE,
    IMAGE_C,
    IMAGE_H,
    IMAGE_W,
    SAMPLE_RATE,
    audio_of,
    expected,
    hist_values,
    image_of,
)

# Tag collections of EventAccumulator.Tags() that hold one series per tag
# ("distributions" is derived from "histograms" and not counted separately).
SERIES_COLLECTIONS = ("scalars", "tensors", "histograms", "images", "audio")


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


def _check_histogram(value: Any, i: int) -> str | None:
    """None if a HistogramValue holds call i's data: num, bucket total, min, max, sum."""
    import numpy as np

    x = hist_values(i).astype(np.float64)
    if value.num != HIST_SIZE:
        return f"num {value.num}, expected {HIST_SIZE}"
    total = sum(value.bucket)
    if total != HIST_SIZE:
        return f"bucket counts sum to {total}, expected {HIST_SIZE}"
    if len(value.bucket) != len(value.bucket_limit):
        return f"{len(value.bucket)} buckets but {len(value.bucket_limit)} limits"
    if value.min != x.min() or value.max != x.max():
        return f"min/max {value.min!r}/{value.max!r}, expected {x.min()!r}/{x.max()!r}"
    # A float32 accumulation of the sum is fine; anything else (other data) is far off.
    want, tol = float(x.sum()), 1e-6 * float(np.abs(x).sum())
    if abs(value.sum - want) > tol:
        return f"sum {value.sum!r}, expected {want!r} (+-{tol:.2g})"
    return None


def _check_image(event: Any, i: int) -> str | None:
    """None if an ImageEvent is call i's image: PNG of the right size, identical pixels."""
    import io

    import numpy as np
    from PIL import Image

    if (event.width, event.height) != (IMAGE_W, IMAGE_H):
        return f"width x height {event.width} x {event.height}, expected {IMAGE_W} x {IMAGE_H}"
    with Image.open(io.BytesIO(event.encoded_image_string)) as im:
        if im.format != "PNG":
            return f"encoded as {im.format}, expected PNG"
        if im.size != (IMAGE_W, IMAGE_H) or im.mode != "RGB":
            return f"PNG is {im.mode} {im.size[0]} x {im.size[1]}, expected RGB {IMAGE_W} x {IMAGE_H}"
        got = np.asarray(im)
    want = image_of(i)
    if got.shape != (IMAGE_H, IMAGE_W, IMAGE_C) or not np.array_equal(got, want):
        bad = int(np.count_nonzero(got != want)) if got.shape == want.shape else got.size
        return f"{bad} of {want.size} pixel values differ from the input"
    return None


def _check_audio(event: Any, i: int) -> str | None:
    """None if an AudioEvent is call i's clip: 16-bit mono WAV, same rate, length, samples.

    Writers convert float samples to int16 differently: torch truncates x * 32767,
    libsndfile (tensorboardX) rounds x * 32768. A clip passes if every sample is within
    1 LSB of x * 32767, or every sample is within 1 LSB of x * 32768.
    """
    import io
    import wave

    import numpy as np

    if event.content_type != "audio/wav":
        return f"content type {event.content_type!r}, expected 'audio/wav'"
    if event.sample_rate != SAMPLE_RATE or event.length_frames != SAMPLE_RATE:
        return (
            f"sample_rate/length_frames {event.sample_rate}/{event.length_frames}, "
            f"expected {SAMPLE_RATE}/{SAMPLE_RATE}"
        )
    with wave.open(io.BytesIO(event.encoded_audio_string), "rb") as wav:
        params = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth(), wav.getnframes())
        if params != (SAMPLE_RATE, 1, 2, SAMPLE_RATE):
            return (
                f"WAV rate/channels/sample width/frames {params}, expected {(SAMPLE_RATE, 1, 2, SAMPLE_RATE)}"
            )
        got = np.frombuffer(wav.readframes(SAMPLE_RATE), dtype="<i2").astype(np.float64)
    if got.size != SAMPLE_RATE:
        return f"WAV data holds {got.size} samples, expected {SAMPLE_RATE}"
    x = audio_of(i).astype(np.float64)
    err = min(float(np.abs(got - x * scale).max()) for scale in (32767.0, 32768.0))
    if err > 1.0:
        return f"samples differ from the input by up to {err:.1f} LSB (allowed: 1)"
    return None


ARRAY_READERS = {
    "histograms": (lambda acc, tag: acc.Histograms(tag), lambda e, i: _check_histogram(e.histogram_value, i)),
    "images": (lambda acc, tag: acc.Images(tag), _check_image),
    "audio": (lambda acc, tag: acc.Audio(tag), _check_audio),
}


def _array_points(acc: Any, tag: str, tags: dict, kind: str) -> list[Any] | None:
    if tag not in tags.get(kind, ()):
        return None
    return ARRAY_READERS[kind][0](acc, tag)


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
            size_guidance={ea.SCALARS: 0, ea.TENSORS: 0, ea.HISTOGRAMS: 0, ea.IMAGES: 0, ea.AUDIO: 0},
            purge_orphaned_data=True,
        )
        acc.Reload()
        tags = acc.Tags()
        want_tags: set[str] = set()
        for kind, per_tag in expected(workload, n).items():
            want_tags |= set(per_tag) | {t + TEXT_SUFFIX for t in per_tag}
            reader = _text_points if kind == "text" else _scalar_points
            for tag, (want_steps, want_values) in per_tag.items():
                if kind in ARRAY_READERS:
                    events = _array_points(acc, tag, tags, kind)
                    got = None if events is None else ([e.step for e in events], events)
                else:
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
                if kind in ARRAY_READERS:
                    check = ARRAY_READERS[kind][1]
                    for i, (event, call) in enumerate(zip(got_values, want_values, strict=True)):
                        why = check(event, call)
                        if why:
                            return False, f"tag {tag!r} point {i} (call {call}): {why}", counts
                    continue
                for i, (g, w) in enumerate(zip(got_values, want_values, strict=True)):
                    if kind == "text":
                        bad = g != w
                    else:
                        bad = not math.isclose(g, _f32(w), rel_tol=1e-6, abs_tol=1e-6)
                    if bad:
                        return False, f"tag {tag!r} point {i}: value {g!r}, expected {w!r}", counts
        # No unexpected extra series of any kind, e.g. duplicated ones.
        extra = set().union(*(tags.get(c, ()) for c in SERIES_COLLECTIONS)) - want_tags
        if extra:
            return False, f"unexpected tags: {sorted(extra)[:5]}", counts
    except Exception as e:  # a reader crash is a verification failure, not a harness crash
        return False, f"reader error: {type(e).__name__}: {e}", counts
    return True, f"{counts['points']} points match", counts
