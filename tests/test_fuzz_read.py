"""Fuzzing the reader: corrupted, truncated and malicious event files never crash it, hang it or
make it allocate what the file merely claims, and every record before the first damage is read.

The big test writes real event files (tblog: scalars, log(), histograms, images, text, audio,
PR curves; tensorboardX and torch.utils.tensorboard when installed; plus hand-made Events with
hostile tensors), then runs this module as a script in a subprocess that has an address-space
limit (RLIMIT_AS) and a per-file alarm. The script derives ``FILES_TO_FEED`` damaged files
from the seeds with a seeded generator, reads each with the three ``on_corrupt`` policies in
turn, from in-memory, unseekable and trickling streams and from real files on disk, and
reports every input that broke a rule (with the bytes to reproduce it).
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import math
import os
import random
import signal
import struct
import subprocess
import sys
import threading
import tracemalloc
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pytest

import tblog
from tblog import read
from tblog.events.record import (
    HEADER_SIZE,
    CorruptRecordError,
    CorruptRecordWarning,
    frame,
    masked_crc32c,
    read_records,
)
from tblog.proto import event_pb2, summary_pb2, tensor_pb2, types_pb2

FILES_TO_FEED = 12_000
FUZZ_SEED = 20261126
PER_FILE_ALARM_S = 20  # a hang guard, far above the milliseconds a file takes
ADDRESS_SPACE_HEADROOM = 1 << 30  # the worker may map at most this much beyond its start
WORKER_TIMEOUT_S = 600
POLICIES = ("skip", "warn", "raise")
TABLES = ("scalars", "histograms", "texts", "images", "hparams")  # tblog.read's table functions

# ---------------------------------------------------------------------------------------------
# Seeds: real event files, and Events whose tensors claim far more than they hold.


def _scalar_metadata() -> summary_pb2.SummaryMetadata:
    return summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
    )


def _tensor_event(step: int, tag: str, **tensor: Any) -> bytes:
    shape = tensor.pop("shape", [])
    proto = tensor_pb2.TensorProto(**tensor)
    for size in shape:
        proto.tensor_shape.dim.add(size=size)
    value = summary_pb2.Summary.Value(tag=tag, metadata=_scalar_metadata(), tensor=proto)
    return event_pb2.Event(
        step=step, wall_time=1.0, summary=summary_pb2.Summary(value=[value])
    ).SerializeToString()


HOSTILE_TENSORS: list[dict[str, Any]] = [
    {"dtype": 1, "shape": [2**40]},  # empty content, 4 TiB claimed
    {"dtype": 1, "shape": [2**33], "float_val": [1.0]},  # one value "fills" 32 GiB
    {"dtype": 2, "shape": [2**32, 2**32], "double_val": [2.0]},  # np.prod wraps to 0
    {"dtype": 1, "shape": [2**62, 4]},
    {"dtype": 1, "shape": [-1], "tensor_content": b"\0\0\x80?"},  # "unknown" dimension
    {"dtype": 1, "shape": [-1, -1], "float_val": [3.0]},  # product of -1s is 1
    {"dtype": 99, "shape": []},  # no such DataType
    {"dtype": 1, "shape": [], "tensor_content": b"\0\0\x80"},  # 3 bytes for a float32
    {"dtype": 4, "shape": [], "int_val": [300]},  # uint8 from an out-of-range int32
    {"dtype": 19, "shape": [], "half_val": [70000]},  # half from a 17-bit pattern
    {"dtype": 7, "shape": [2**40], "string_val": [b"x"]},
    {"dtype": 7, "shape": [], "string_val": [b"1.5"]},  # a string is not a scalar
    {"dtype": 1, "shape": [3], "float_val": [1.0, 2.0]},  # 2 values for 3 elements
    {"dtype": 1, "shape": [1, 1], "float_val": [1.0, 2.0]},  # 2 values for 1 element
    {"dtype": 2, "shape": [], "tensor_content": bytes(9)},  # 9 bytes for a float64
]


def hostile_events() -> list[bytes]:
    """Events of the scalars plugin with hostile tensors, between good scalars."""
    payloads = [event_pb2.Event(wall_time=1.0, file_version="brain.Event:2").SerializeToString()]
    for step, tensor in enumerate(HOSTILE_TENSORS):
        payloads.append(_tensor_event(step, "good", dtype=1, float_val=[float(step)]))
        payloads.append(_tensor_event(step, f"evil/{step}", **dict(tensor)))
    return payloads


def write_seeds(root: Path) -> list[str]:
    """Real event files from every writer available here; returns the writers used."""
    rng = np.random.default_rng(0)
    with tblog.SummaryWriter(root / "tblog_scalars") as writer:
        for step in range(60):
            writer.add_scalar("loss", 1.0 / (step + 1), step)
            writer.add_scalar("acc", step / 60, step, new_style=True)
            writer.add_scalar("lr", 0.1 * 0.9**step, step, new_style=True, double_precision=True)
            writer.log({"a": float(step), "b": -float(step)}, step)
    with tblog.SummaryWriter(root / "tblog_mixed") as writer:
        for step in range(3):
            writer.add_scalar("loss", 0.5 / (step + 1), step)
            writer.add_histogram("weights", rng.normal(size=500), step)
            writer.add_image("image", rng.integers(0, 255, (3, 12, 12), dtype=np.uint8), step)
            writer.add_text("notes", f"**step** {step}\n\n| a | b |\n|---|---|\n| 1 | 2 |", step)
        writer.add_audio("tone", np.sin(np.linspace(0, 60, 800)).astype(np.float32), 0, sample_rate=8000)
        writer.add_pr_curve("pr", rng.integers(0, 2, 100), rng.random(100), 0, num_thresholds=9)
    (root / "hostile").mkdir()
    (root / "hostile" / "events.out.tfevents.0.hostile").write_bytes(b"".join(map(frame, hostile_events())))
    used = ["tblog", "hostile"]
    try:
        import tensorboardX
    except ImportError:
        pass
    else:
        tbx = tensorboardX.SummaryWriter(os.fspath(root / "tensorboardX"))
        for step in range(10):
            tbx.add_scalar("loss", 1.0 / (step + 1), step)
        tbx.add_histogram("weights", rng.normal(size=300), 0)
        tbx.add_image("image", rng.integers(0, 255, (3, 8, 8), dtype=np.uint8), 0)
        tbx.add_text("notes", "hello", 0)
        tbx.close()
        used.append("tensorboardX")
    try:
        from torch.utils.tensorboard import SummaryWriter as TorchWriter
    except ImportError:
        pass
    else:
        torch_writer = TorchWriter(os.fspath(root / "torch"))
        for step in range(10):
            torch_writer.add_scalar("loss", 1.0 / (step + 1), step, new_style=step % 2 == 0)
        torch_writer.add_histogram("weights", rng.normal(size=300), 0)
        torch_writer.add_text("notes", "hello", 0)
        torch_writer.close()
        used.append("torch")
    return used


# ---------------------------------------------------------------------------------------------
# Mutations. Each returns the damaged bytes and what a correct reader must yield from them.


@dataclass
class Seed:
    data: bytes
    spans: list[tuple[int, int]]  # (start, end) of each record
    payloads: list[bytes]


@dataclass
class Case:
    kind: str
    data: bytes
    prefix: list[bytes]  # intact records before the first damaged byte: always yielded first
    exact: list[bytes] | None = None  # everything the reader must yield, where known
    corrupt: bool | None = None  # must a corruption be reported (True), may it not (False)?


def _walk(data: bytes) -> Seed:
    spans: list[tuple[int, int]] = []
    payloads: list[bytes] = []
    offset = 0
    while offset < len(data):
        (length,) = struct.unpack_from("<Q", data, offset)
        end = offset + HEADER_SIZE + length + 4
        spans.append((offset, end))
        payloads.append(data[offset + HEADER_SIZE : offset + HEADER_SIZE + length])
        offset = end
    return Seed(data, spans, payloads)


def _intact_before(seed: Seed, position: int) -> list[bytes]:
    return [p for (_, end), p in zip(seed.spans, seed.payloads, strict=True) if end <= position]


def _record_of(seed: Seed, position: int) -> int:
    return next(i for i, (start, end) in enumerate(seed.spans) if start <= position < end)


def _reframed(seed: Seed, index: int, payload: bytes) -> bytes:
    start, end = seed.spans[index]
    return seed.data[:start] + frame(payload) + seed.data[end:]


def _single_site(seed: Seed, position: int, data: bytes, kind: str) -> Case:
    # CRC-32C catches every error burst of up to 32 bits: one changed byte is always found.
    index = _record_of(seed, position)
    start, _ = seed.spans[index]
    if position < start + HEADER_SIZE:  # the length or its CRC: nothing after it is trusted
        exact = seed.payloads[:index]
    else:
        exact = seed.payloads[:index] + seed.payloads[index + 1 :]
    return Case(kind, data, seed.payloads[:index], exact, corrupt=True)


def bit_flip(rng: random.Random, seed: Seed) -> Case:
    position = rng.randrange(len(seed.data))
    data = bytearray(seed.data)
    data[position] ^= 1 << rng.randrange(8)
    return _single_site(seed, position, bytes(data), "bit_flip")


def byte_overwrite(rng: random.Random, seed: Seed) -> Case:
    position = rng.randrange(len(seed.data))
    data = bytearray(seed.data)
    data[position] = (data[position] + rng.randrange(1, 256)) % 256
    return _single_site(seed, position, bytes(data), "byte_overwrite")


def many_flips(rng: random.Random, seed: Seed) -> Case:
    data = bytearray(seed.data)
    positions = [rng.randrange(len(data)) for _ in range(rng.randrange(2, 40))]
    for position in positions:
        data[position] ^= 1 << rng.randrange(8)
    return Case("many_flips", bytes(data), _intact_before(seed, min(positions)))


def truncate(rng: random.Random, seed: Seed) -> Case:
    start, end = rng.choice(seed.spans)
    cut = rng.choice(
        [
            rng.randrange(len(seed.data) + 1),
            start,
            start + 1,
            end - 1,
            start + rng.randrange(1, HEADER_SIZE),  # inside the header
            start + HEADER_SIZE,  # header only
            end - rng.randrange(1, 5),  # inside the payload CRC
        ]
    )
    prefix = _intact_before(seed, cut)
    return Case("truncate", seed.data[:cut], prefix, prefix, corrupt=False)


def insert_bytes(rng: random.Random, seed: Seed) -> Case:
    position = rng.choice([rng.randrange(len(seed.data) + 1), rng.choice(seed.spans)[0]])
    junk = rng.randbytes(rng.randrange(1, 64))
    data = seed.data[:position] + junk + seed.data[position:]
    return Case("insert", data, _intact_before(seed, position))


def delete_bytes(rng: random.Random, seed: Seed) -> Case:
    position = rng.randrange(len(seed.data))
    data = seed.data[:position] + seed.data[position + rng.randrange(1, 64) :]
    return Case("delete", data, _intact_before(seed, position))


def huge_length(rng: random.Random, seed: Seed) -> Case:
    # A malicious length with a valid CRC, beyond the end of the file: reads as a torn tail.
    index = rng.randrange(len(seed.spans))
    start, _ = seed.spans[index]
    left = len(seed.data) - start - HEADER_SIZE
    length = rng.choice(
        [2**64 - 1, 2**63, 2**62, 2**40, 2**32, left - 3, left + 1, rng.randrange(left, 2**64)]
    )
    size = struct.pack("<Q", length)
    header = size + struct.pack("<I", masked_crc32c(size))
    data = seed.data[:start] + header + seed.data[start + HEADER_SIZE :]
    return Case("huge_length", data, seed.payloads[:index], seed.payloads[:index], corrupt=False)


def wrong_length(rng: random.Random, seed: Seed) -> Case:
    # A valid-CRC length that is near the true one: the payload CRC then fails.
    index = rng.randrange(len(seed.spans))
    start, end = seed.spans[index]
    length = max(0, end - start - HEADER_SIZE - 4 + rng.choice([-9, -4, -1, 1, 4, 9]))
    size = struct.pack("<Q", length)
    data = (
        seed.data[:start] + size + struct.pack("<I", masked_crc32c(size)) + seed.data[start + HEADER_SIZE :]
    )
    return Case("wrong_length", data, seed.payloads[:index])


def garbage_payload(rng: random.Random, seed: Seed) -> Case:
    # Random bytes framed with valid CRCs: the record layer must return them as they are.
    index = rng.randrange(len(seed.spans))
    payload = rng.randbytes(rng.randrange(0, 2 * len(seed.payloads[index]) + 8))
    exact = seed.payloads[:index] + [payload] + seed.payloads[index + 1 :]
    return Case(
        "garbage_payload", _reframed(seed, index, payload), seed.payloads[:index], exact, corrupt=False
    )


def mutated_event(rng: random.Random, seed: Seed) -> Case:
    # A nearly valid Event (a few bytes changed, cut or repeated) framed with valid CRCs: this
    # is what reaches the protobuf parser and tensor_to_numpy with odd fields.
    index = rng.randrange(len(seed.spans))
    payload = bytearray(seed.payloads[index])
    for _ in range(rng.randrange(1, 4)):
        if not payload:
            break
        position = rng.randrange(len(payload))
        action = rng.randrange(4)
        if action == 0:
            payload[position] ^= 1 << rng.randrange(8)
        elif action == 1:
            payload[position] = rng.choice([0x00, 0x7F, 0x80, 0xFF, 0x08, 0x12, 0x2A])
        elif action == 2:
            del payload[position:]
        else:
            payload[position:position] = payload[position : position + rng.randrange(1, 16)]
    mutated = bytes(payload)
    exact = seed.payloads[:index] + [mutated] + seed.payloads[index + 1 :]
    return Case("mutated_event", _reframed(seed, index, mutated), seed.payloads[:index], exact, corrupt=False)


def concatenation(rng: random.Random, seed: Seed, other: Seed) -> Case:
    if rng.random() < 0.5:
        exact = seed.payloads + other.payloads
        return Case("concat", seed.data + other.data, exact, exact, corrupt=False)
    cut = rng.randrange(len(seed.data))  # a torn file with another one after it
    return Case("concat_torn", seed.data[:cut] + other.data, _intact_before(seed, cut))


def random_bytes(rng: random.Random, seed: Seed) -> Case:
    size = rng.choice([0, 1, 11, 12, 13, 16, rng.randrange(4096)])
    return Case("random", rng.randbytes(size), [], [] if size < HEADER_SIZE else None)


def empty(rng: random.Random, seed: Seed) -> Case:
    return Case("empty", b"", [], [], corrupt=False)


def untouched(rng: random.Random, seed: Seed) -> Case:
    return Case("untouched", seed.data, seed.payloads, seed.payloads, corrupt=False)


MUTATIONS: list[tuple[Callable[[random.Random, Seed], Case], int]] = [
    (bit_flip, 14),
    (byte_overwrite, 10),
    (many_flips, 6),
    (truncate, 14),
    (insert_bytes, 8),
    (delete_bytes, 8),
    (huge_length, 10),
    (wrong_length, 6),
    (garbage_payload, 8),
    (mutated_event, 12),
    (random_bytes, 3),
    (empty, 1),
    (untouched, 1),
]


def generate(seeds: list[Seed], count: int, rng: random.Random) -> Iterator[Case]:
    """``count`` damaged files, each derived from one (or two) random seeds."""
    functions = [f for f, _ in MUTATIONS]
    weights = [w for _, w in MUTATIONS]
    for number in range(count):
        seed = rng.choice(seeds)
        if number % 50 == 0:
            yield concatenation(rng, seed, rng.choice(seeds))
        else:
            yield rng.choices(functions, weights)[0](rng, seed)


# ---------------------------------------------------------------------------------------------
# Streams the reader must handle: in memory, unseekable (a pipe), and trickling short reads.


class _Unseekable(io.RawIOBase):
    """A raw stream over bytes that cannot seek or tell, like a pipe; ``step`` caps each read."""

    def __init__(self, data: bytes, step: int | None = None) -> None:
        self._data = io.BytesIO(data)
        self._step = step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        if self._step is not None:
            view = view[: self._step]
        return self._data.readinto(view)


def open_stream(data: bytes, how: str) -> BinaryIO:
    if how == "memory":
        return io.BytesIO(data)
    if how == "unseekable":
        return io.BufferedReader(_Unseekable(data))
    return _Unseekable(data, step=7)  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# The rules every case is checked against.


class Broken(AssertionError):
    """A rule of the reader was broken by one input."""


class _Hang(BaseException):
    pass


def _collect(items: Iterator[Any], policy: str) -> tuple[list[Any], list[warnings.WarningMessage], bool]:
    """Everything ``items`` yields, the warnings it gave, and whether it raised CorruptRecordError."""
    out: list[Any] = []
    raised = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            for item in items:
                out.append(item)
        except CorruptRecordError:
            if policy != "raise":
                raise
            raised = True
    for warning in caught:
        if policy != "warn" or not issubclass(warning.category, CorruptRecordWarning):
            name = warning.category.__name__
            raise Broken(f"unexpected warning under on_corrupt={policy!r}: {name}: {warning.message}")
    return out, caught, raised


def check_records(case: Case, policy: str, how: str) -> list[bytes]:
    stream = open_stream(case.data, how)
    out, caught, raised = _collect(read_records(stream, "fuzz", policy), policy)  # type: ignore[arg-type]
    if out[: len(case.prefix)] != case.prefix:
        raise Broken(f"the {len(case.prefix)} intact records before the damage were not all returned first")
    if case.exact is not None and (out != case.exact if not raised else out != case.exact[: len(out)]):
        raise Broken(f"returned {len(out)} records, expected {len(case.exact)}")
    reported = bool(caught) or raised
    if case.corrupt is False and reported:
        raise Broken("corruption reported in a file that only has a torn tail or framed garbage")
    if case.corrupt and policy != "skip" and not reported:
        raise Broken("a corrupted record went unreported")
    return out


def check_events(case: Case, policy: str, seed_events: dict[bytes, Any]) -> Counter[str]:
    events, _, _ = _collect(read.read_events(io.BytesIO(case.data), "fuzz", policy), policy)  # type: ignore[arg-type]
    for expected, event in zip(case.prefix, events, strict=False):
        if event != seed_events[expected]:
            raise Broken("an intact Event before the damage was read back differently")
    seen: Counter[str] = Counter()
    for event in events:
        for value in event.summary.value:
            if value.WhichOneof("value") == "tensor":
                try:
                    read.tensor_to_numpy(value.tensor)
                    seen["tensor_ok"] += 1
                except ValueError:  # the documented answer to a tensor that lies about its shape
                    seen["tensor_rejected"] += 1
    return seen


def check_on_disk(case: Case, policy: str, directory: Path) -> None:
    path = directory / "events.out.tfevents.1700000000.fuzz.1.0"
    path.write_bytes(case.data)
    events, _, raised = _collect(read.events(path, on_corrupt=policy), policy)  # type: ignore[arg-type]
    if len(events) < len(case.prefix):
        raise Broken(
            f"tblog.read.events returned {len(events)} events, fewer than the {len(case.prefix)} intact"
        )
    for table in TABLES:  # the bulk scalar scanner and the other tables read the same bytes
        _collect(_lazy(getattr(read, table), directory, dataframe=False, on_corrupt=policy), policy)


def _lazy(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Iterator[Any]:
    yield function(*args, **kwargs)


def _vm_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


def fuzz(seed_dir: Path, count: int, fuzz_seed: int, work_dir: Path) -> dict[str, Any]:
    """Feed ``count`` damaged files to the reader; returns counts, failures and memory."""
    import resource

    seeds = [_walk(Path(f).read_bytes()) for f in read.event_files(seed_dir)]
    seed_events = {p: event_pb2.Event.FromString(p) for seed in seeds for p in seed.payloads}
    for seed in seeds:  # the seeds themselves must read back exactly
        assert list(read_records(io.BytesIO(seed.data), on_corrupt="raise")) == seed.payloads
    resource.setrlimit(resource.RLIMIT_AS, (_vm_kib("VmSize") * 1024 + ADDRESS_SPACE_HEADROOM,) * 2)

    def on_alarm(signum: int, frame_: Any) -> None:
        raise _Hang()

    signal.signal(signal.SIGALRM, on_alarm)
    rss_start = _vm_kib("VmRSS")
    rng = random.Random(fuzz_seed)
    fed = 0
    kinds: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    failures: list[dict[str, Any]] = []
    for number, case in enumerate(generate(seeds, count, rng)):
        policy = POLICIES[number % len(POLICIES)]
        how = ("memory", "memory", "unseekable", "memory", "trickle")[number % 5]
        signal.alarm(PER_FILE_ALARM_S)
        try:
            check_records(case, policy, how)
            outcomes.update(check_events(case, policy, seed_events))
            if number % 10 == 0:
                check_on_disk(case, policy, work_dir)
                outcomes["on_disk"] += 1
        except _Hang:
            failures.append(_failure(number, case, policy, how, "no answer within the per-file alarm"))
        except Exception as error:  # noqa: BLE001 -- anything escaping is what the fuzz looks for
            failures.append(_failure(number, case, policy, how, f"{type(error).__name__}: {error}"))
        finally:
            signal.alarm(0)
        fed += 1
        kinds[case.kind] += 1
    return {
        "files_fed": fed,
        "kinds": dict(kinds),
        "outcomes": dict(outcomes),
        "seeds": len(seeds),
        "rss_start_kib": rss_start,
        "rss_peak_kib": _vm_kib("VmHWM"),
        "address_space_limit_mib": resource.getrlimit(resource.RLIMIT_AS)[0] >> 20,
        "failures": failures[:20],
        "failure_count": len(failures),
    }


def _failure(number: int, case: Case, policy: str, how: str, error: str) -> dict[str, Any]:
    return {
        "case": number,
        "kind": case.kind,
        "on_corrupt": policy,
        "stream": how,
        "error": error[:500],
        "data_b64": base64.b64encode(case.data[:4096]).decode(),
        "size": len(case.data),
    }


# ---------------------------------------------------------------------------------------------
# Tests


@pytest.mark.slow
def test_fuzz_reader_with_damaged_files(tmp_path: Path) -> None:
    """12,000 damaged files in a memory-capped subprocess: no crash, hang or big allocation; intact kept."""
    seed_dir = tmp_path / "seeds"
    writers = write_seeds(seed_dir)
    work_dir = tmp_path / "work"
    work_dir.mkdir()
    result = subprocess.run(
        [
            sys.executable,
            __file__,
            os.fspath(seed_dir),
            str(FILES_TO_FEED),
            str(FUZZ_SEED),
            os.fspath(work_dir),
        ],
        capture_output=True,
        text=True,
        timeout=WORKER_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.splitlines()[-1])
    print(f"fuzz seeds from {writers}:", json.dumps({k: v for k, v in report.items() if k != "failures"}))
    assert report["failure_count"] == 0, json.dumps(report["failures"][:5], indent=1)
    assert report["files_fed"] == FILES_TO_FEED >= 10_000
    assert len(report["kinds"]) == len(MUTATIONS) + 2  # and the two kinds of concatenation
    assert min(report["kinds"].values()) >= 50
    assert report["outcomes"]["tensor_rejected"] > 0  # the hostile tensors were reached
    assert report["outcomes"]["on_disk"] >= FILES_TO_FEED // 10


def test_huge_valid_length_on_an_unseekable_stream_allocates_nothing() -> None:
    """A valid-CRC length of 2^62 on a pipe-like stream ends the file like a torn tail; nothing allocated."""
    size = struct.pack("<Q", 2**62)
    data = frame(b"ok") + size + struct.pack("<I", masked_crc32c(size)) + b"x" * 100
    tracemalloc.start()
    try:
        assert list(read_records(io.BufferedReader(_Unseekable(data)), on_corrupt="raise")) == [b"ok"]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20


def test_pipes_and_gzip_streams_read_every_record(tmp_path: Path) -> None:
    """Through a real OS pipe or a GzipFile (whose fstat size is not theirs) every record is read."""
    payloads = [b"a" * n for n in (0, 1, 100, 70_000, 5)]
    data = b"".join(map(frame, payloads))
    read_fd, write_fd = os.pipe()

    def feed() -> None:  # in pieces, as a process writing into a pipe would
        for start in range(0, len(data), 9_000):
            os.write(write_fd, data[start : start + 9_000])
        os.close(write_fd)

    feeder = threading.Thread(target=feed)
    feeder.start()
    with os.fdopen(read_fd, "rb") as pipe:
        assert list(read_records(pipe, on_corrupt="raise")) == payloads
    feeder.join(timeout=30)
    with gzip.open(tmp_path / "events.gz", "wb") as out:
        out.write(data)
    with gzip.open(tmp_path / "events.gz", "rb") as stream:
        assert list(read_records(stream, on_corrupt="raise")) == payloads  # type: ignore[arg-type]


def test_record_that_is_no_event_is_reported_per_policy(tmp_path: Path) -> None:
    """Valid-CRC bytes that are no Event: warned, raised or skipped per on_corrupt; neighbours read."""
    good = event_pb2.Event(step=5, wall_time=1.0).SerializeToString()
    path = tmp_path / "events.out.tfevents.1.x"
    path.write_bytes(frame(good) + frame(b"\xff\xff\xff") + frame(good))
    with pytest.warns(CorruptRecordWarning, match=r"record 1 \(3 bytes\) is not an Event"):
        assert [e.step for e in read.events(path)] == [5, 5]
    with pytest.raises(CorruptRecordError, match="is not an Event"):
        list(read.events(path, on_corrupt="raise"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [e.step for e in read.events(path, on_corrupt="skip")] == [5, 5]


def test_hostile_tensors_raise_value_error_without_allocating() -> None:
    """Huge, overflowing, negative or mismatched tensor shapes, bad dtypes: ValueError, no big allocation."""
    tracemalloc.start()
    try:
        for number, spec in enumerate(HOSTILE_TENSORS):
            spec = dict(spec)
            shape = spec.pop("shape")
            tensor = tensor_pb2.TensorProto(**spec)
            for size in shape:
                tensor.tensor_shape.dim.add(size=size)
            claimed = math.prod(shape)
            if spec["dtype"] == 7 and claimed == 1 or spec["dtype"] in (4, 19):
                read.tensor_to_numpy(tensor)  # cast like TensorFlow, no OverflowError
                continue
            with pytest.raises(ValueError, match=r"shape|dtype|bytes|values") as error:
                read.tensor_to_numpy(tensor)
            assert str(error.value), number
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20
    uint8 = tensor_pb2.TensorProto(dtype=types_pb2.DT_UINT8, int_val=[300])
    assert read.tensor_to_numpy(uint8).tolist() == 300 % 256


@pytest.mark.parametrize("policy", POLICIES)
def test_scalars_of_a_hostile_file_per_policy(tmp_path: Path, policy: str) -> None:
    """scalars() over hostile tensors keeps good scalars, allocates little, reports per on_corrupt."""
    path = tmp_path / "events.out.tfevents.1.hostile"
    path.write_bytes(b"".join(map(frame, hostile_events())))
    tracemalloc.start()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if policy == "raise":
                with pytest.raises(CorruptRecordError, match="evil/"):
                    read.scalars(tmp_path, dataframe=False, on_corrupt="raise")
                return
            table = read.scalars(tmp_path, dataframe=False, on_corrupt=policy)  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 128 << 20  # the bulk scanner reads 64 MiB pieces; a 2^33 np.full would be 32 GiB
    good = table["tag"] == "good"
    assert table["value"][good].tolist() == [float(s) for s in range(len(HOSTILE_TENSORS))]
    evil = sorted(tag for tag in table["tag"] if tag.startswith("evil/"))
    assert evil == ["evil/8", "evil/9"]  # uint8 and half scalars are real numbers, cast as TF does
    messages = [str(w.message) for w in caught]
    assert all(issubclass(w.category, CorruptRecordWarning) for w in caught)
    assert len(messages) == (3 if policy == "warn" else 0), messages  # the three 1-element lies


if __name__ == "__main__":
    seed_dir_arg, count_arg, seed_arg, work_arg = sys.argv[1:5]
    summary = fuzz(Path(seed_dir_arg), int(count_arg), int(seed_arg), Path(work_arg))
    print(json.dumps(summary))
