"""``tblog tail``: print the scalars of a log directory as they are written, like ``tail -f``.

Every ``interval`` seconds the log directory is scanned again (new runs and files appear
while training runs) and each event file is read from where the last look stopped.
"""

from __future__ import annotations

import heapq
import json
import math
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TextIO

from tblog.cli.dashboards import TagKinds
from tblog.cli.growing_file import GrowingFile
from tblog.read import runs as find_runs


@dataclass(frozen=True, order=True)
class Point:
    wall_time: float
    run: str
    tag: str
    step: int
    value: float


class Follower:
    """The scalar points of a log directory, read incrementally."""

    def __init__(self, logdir: str, keep: Callable[[str, str], bool]) -> None:
        self.logdir = logdir
        self.keep = keep  # (run, tag) -> wanted?
        self.files: dict[str, GrowingFile] = {}
        self.kinds: dict[str, TagKinds] = {}
        self.reported = 0  # corrupt-record messages already shown
        self.listing_problems: dict[str, bool] = {}  # what could not be listed -> shown yet?
        self.seen = 0  # points found by the last poll

    def poll(self, last: int | None = None) -> list[Point]:
        """The points added since the last poll, by wall time (file order within a file); only
        the ``last`` latest when given (memory stays bounded on a first look at a long run).
        ``self.seen`` counts all of them."""
        batches: list[Iterable[Point]] = []
        self.seen = 0
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                found = find_runs(self.logdir)  # warns about what cannot be read
        except FileNotFoundError:  # removed while we follow it: wait for it to come back
            found = {}
        for warning in caught:
            message = str(warning.message)
            if message not in self.listing_problems:  # each poll lists the directory again
                self.listing_problems[message] = False
        for run, paths in found.items():
            kinds = self.kinds.setdefault(run, TagKinds())
            for path in paths:
                source = self.files.setdefault(path, GrowingFile(path))
                try:
                    batches.append(deque(self._points(run, source, kinds), maxlen=last))
                except FileNotFoundError:
                    self.files.pop(path, None)
        merged = deque(heapq.merge(*batches, key=lambda p: p.wall_time), maxlen=last)
        return list(merged)

    def _points(self, run: str, source: GrowingFile, kinds: TagKinds) -> Iterable[Point]:
        for event in source.events():
            if event.WhichOneof("what") != "summary":
                continue
            for value in event.summary.value:
                number = kinds.scalar(value)
                if number is not None and self.keep(run, value.tag):
                    self.seen += 1
                    yield Point(event.wall_time, run, value.tag, event.step, number)

    def new_problems(self) -> list[str]:
        """Messages not shown yet: what could not be listed or read, corrupted records."""
        fresh = [message for message, shown in self.listing_problems.items() if not shown]
        self.listing_problems.update(dict.fromkeys(fresh, True))
        messages = [m for source in self.files.values() for m in source.corrupt]
        fresh += messages[self.reported :]
        self.reported = len(messages)
        return fresh


def format_point(point: Point, as_json: bool) -> str:
    if as_json:
        value: float | str | None = point.value
        if not math.isfinite(point.value):
            value = str(point.value)  # "nan", "inf", "-inf": JSON has no non-finite numbers
        return json.dumps(
            {
                "run": point.run,
                "tag": point.tag,
                "step": point.step,
                "wall_time": point.wall_time,
                "value": value,
            }
        )
    clock = time.strftime("%H:%M:%S", time.localtime(point.wall_time))
    return f"{clock}  {point.run}  {point.tag}  step {point.step}  {point.value:.6g}"


def follow(
    logdir: str,
    keep: Callable[[str, str], bool],
    *,
    out: TextIO,
    err: TextIO,
    last: int,
    interval: float,
    timeout: float | None,
    once: bool,
    as_json: bool,
    quiet: bool,
) -> int:
    """Print the last ``last`` points, then (unless ``once``) new ones until ``timeout``.

    Returns the exit status: 0, or 1 when ``once`` finds no scalar at all.
    """
    follower = Follower(logdir, keep)
    for point in follower.poll(last):
        out.write(format_point(point, as_json) + "\n")
    out.flush()
    _report(follower, err)
    if once:
        if not follower.seen:
            err.write(f"tblog tail: error: no scalars (matching the filters) in {logdir!r}\n")
            return 1
        return 0
    if not quiet:
        stop = f"stops after {timeout:g} s" if timeout is not None else "Ctrl-C to stop"
        err.write(f"tblog tail: following {logdir} every {interval:g} s ({stop})\n")
        err.flush()
    deadline = None if timeout is None else time.monotonic() + timeout
    while deadline is None or time.monotonic() < deadline:
        pause = interval if deadline is None else max(0.0, min(interval, deadline - time.monotonic()))
        time.sleep(pause)
        for point in follower.poll():
            out.write(format_point(point, as_json) + "\n")
        out.flush()
        _report(follower, err)
    return 0


def _report(follower: Follower, err: TextIO) -> None:
    for message in follower.new_problems():
        err.write(f"tblog tail: warning: {message}\n")
    err.flush()
