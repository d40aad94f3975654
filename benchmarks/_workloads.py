"""Workload definitions shared by the benchmark child (which runs them) and the
parent (which recomputes what each one must have written, to verify it).

Every value, text and array is a pure function of the loop index, so the expected
output never has to be passed between processes.
"""

from __future__ import annotations

import functools
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
HISTOGRAM_TAGS = [f"histogram/{k}" for k in range(N_TAGS)]
IMAGE_TAGS = [f"image/{k}" for k in range(N_TAGS)]
AUDIO_TAGS = [f"audio/{k}" for k in range(N_TAGS)]

# Array workloads: sizes of one call's data.
HIST_SIZE = 10_000  # float32 values per add_histogram call
IMAGE_H, IMAGE_W, IMAGE_C = 128, 128, 3  # uint8 HWC image per add_image call
IMAGE_BOX = 16  # side of the white square that moves with the call index
SAMPLE_RATE = 16_000  # Hz; one add_audio call logs one second, mono
AUDIO_BASES = 8  # distinct tones, cycled by call index


def value_of(j: int) -> float:
    """The scalar logged for flat index j (not representable in float32 on purpose)."""
    return (j % 1009) * 0.37


def text_of(i: int) -> str:
    """The markdown text logged by add_text call i (~90 characters)."""
    return f"row {i} | **loss** = {(i % 1009) * 0.37:.4f} | `note`: lorem ipsum dolor sit amet"


# Arrays: a fixed base built once per process (outside the timed loop), and a cheap
# per-call transform of it that runs inline in the loop for every writer alike. The
# functions below are the single definition of that transform; the loops spell the same
# expressions out (as the scalar/text loops do) and the verifier calls these.


@functools.cache
def hist_base() -> Any:
    """10,000 standard-normal float32 values (seeded)."""
    import numpy as np

    return np.random.default_rng(20240501).standard_normal(HIST_SIZE).astype(np.float32)


def hist_offset(i: int) -> float:
    return i * 0.001


def hist_values(i: int) -> Any:
    """The float32 array logged by add_histogram call i: the base shifted by i * 0.001."""
    import numpy as np

    return hist_base() + np.float32(hist_offset(i))


@functools.cache
def image_base() -> Any:
    """128x128x3 uint8: a diagonal gradient per channel plus seeded noise in [0, 16)."""
    import numpy as np

    y, x, c = np.mgrid[0:IMAGE_H, 0:IMAGE_W, 0:IMAGE_C]
    noise = np.random.default_rng(20240502).integers(0, 16, size=(IMAGE_H, IMAGE_W, IMAGE_C))
    return ((2 * x + y + 85 * c + noise) % 256).astype(np.uint8)


def image_box(i: int) -> tuple[int, int]:
    """Top-left corner (row, column) of call i's white square."""
    return (i * 7) % (IMAGE_H - IMAGE_BOX), (i * 13) % (IMAGE_W - IMAGE_BOX)


def image_of(i: int) -> Any:
    """The HWC uint8 image logged by add_image call i: base + i (mod 256), a white square."""
    import numpy as np

    img = image_base() + np.uint8(i % 256)  # uint8 + uint8 wraps around
    r, c = image_box(i)
    img[r : r + IMAGE_BOX, c : c + IMAGE_BOX] = 255
    return img


@functools.cache
def audio_bases() -> tuple[Any, ...]:
    """8 one-second float32 sine tones (220 Hz up a semitone each), amplitude 1."""
    import numpy as np

    t = np.arange(SAMPLE_RATE, dtype=np.float64) / SAMPLE_RATE
    return tuple(
        np.sin(2 * np.pi * (220.0 * 2 ** (k / 12)) * t).astype(np.float32) for k in range(AUDIO_BASES)
    )


def audio_gain(i: int) -> float:
    """Amplitude of call i's clip: 0.5 .. 0.95 (inside [-1, 1], so no writer clips)."""
    return 0.5 + 0.0045 * ((i * 37) % 101)


def audio_of(i: int) -> Any:
    """The mono float32 clip logged by add_audio call i: tone i%8 at gain audio_gain(i)."""
    import numpy as np

    return audio_bases()[i % AUDIO_BASES] * np.float32(audio_gain(i))


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
        Workload(
            "histogram",
            "add_histogram over 10 tags of 10,000 float32 values (default bins, step i//10)",
            "add_histogram call",
            2_000,
            200,
            1,
        ),
        Workload(
            "image",
            "add_image over 10 tags of a 128x128x3 uint8 image (dataformats='HWC', step i//10)",
            "add_image call",
            1_000,
            100,
            1,
        ),
        Workload(
            "audio",
            "add_audio over 10 tags of 1 s of mono float32 at 16 kHz (step i//10)",
            "add_audio call",
            500,
            50,
            1,
        ),
    )
}

# (writer, workload) -> module that writer needs for that workload beyond its own imports.
# If it is missing the cell is reported "n/a" (with the reason), not FAILED.
EXTRA_MODULES = {("tensorboardX", "audio"): "soundfile"}


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


# The array loops build each call's input inline, as the scalar loops compute their values:
# one NumPy operation on a base array made before the timer starts (same for every writer;
# about 2-3 us per call on the reference machine, see README).


def run_histogram(w: Any, n: int, writer_name: str) -> dict[str, Any]:
    import numpy as np

    tags = HISTOGRAM_TAGS
    add = w.add_histogram
    base = hist_base()
    f32 = np.float32
    t0 = time.perf_counter_ns()
    for i in range(n):
        add(tags[i % 10], base + f32(i * 0.001), i // 10)
    t1 = time.perf_counter_ns()
    return {"loop_ns": t1 - t0, "calls": n}


def run_image(w: Any, n: int, writer_name: str) -> dict[str, Any]:
    import numpy as np

    tags = IMAGE_TAGS
    add = w.add_image
    base = image_base()
    u8 = np.uint8
    box = IMAGE_BOX
    rows, cols = IMAGE_H - box, IMAGE_W - box
    t0 = time.perf_counter_ns()
    for i in range(n):
        img = base + u8(i % 256)
        r, c = (i * 7) % rows, (i * 13) % cols
        img[r : r + box, c : c + box] = 255
        add(tags[i % 10], img, i // 10, dataformats="HWC")
    t1 = time.perf_counter_ns()
    return {"loop_ns": t1 - t0, "calls": n}


def run_audio(w: Any, n: int, writer_name: str) -> dict[str, Any]:
    import numpy as np

    tags = AUDIO_TAGS
    add = w.add_audio
    bases = audio_bases()
    f32 = np.float32
    rate = SAMPLE_RATE
    t0 = time.perf_counter_ns()
    for i in range(n):
        add(tags[i % 10], bases[i % 8] * f32(0.5 + 0.0045 * ((i * 37) % 101)), i // 10, sample_rate=rate)
    t1 = time.perf_counter_ns()
    return {"loop_ns": t1 - t0, "calls": n}


RUNNERS = {
    "scalar": run_scalar,
    "text": run_text,
    "log": run_log,
    "train": run_train,
    "histogram": run_histogram,
    "image": run_image,
    "audio": run_audio,
}

# Array workloads: expected() gives, per tag, the steps and the call index of every point;
# the verifier rebuilds call i's data with hist_values / image_of / audio_of.
ARRAY_KINDS = {
    "histogram": ("histograms", HISTOGRAM_TAGS),
    "image": ("images", IMAGE_TAGS),
    "audio": ("audio", AUDIO_TAGS),
}


# --------------------------------------------------------------------------
# Expected output (in the parent): kind -> tag -> (steps, values); for the array
# workloads the "values" are the call indices (see ARRAY_KINDS).
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
    if name in ARRAY_KINDS:
        kind, tags = ARRAY_KINDS[name]
        for k, tag in enumerate(tags):
            idx = range(k, n, N_TAGS)
            out[tag] = ([i // 10 for i in idx], list(idx))
        return {kind: out}
    raise KeyError(name)
