"""The arguments of ``tblog.read``'s tables: run and tag globs, step selections, options.

``name_filter`` is also the ``tblog`` command's one glob matcher for ``--run`` and ``--tag``.
"""

from __future__ import annotations

import fnmatch
import numbers
import re
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_ON_CORRUPT = ("warn", "raise", "skip")


def name_filter(patterns: Any, argument: str) -> Callable[[str], bool]:
    """A test for names from ``None`` (all), a glob, or a list of globs (fnmatch, case-sensitive)."""
    if patterns is None:
        return lambda name: True
    if isinstance(patterns, str):
        patterns = [patterns]
    elif not isinstance(patterns, Iterable) or isinstance(patterns, bytes):
        raise TypeError(
            f"{argument} must be None, a glob string or a list of glob strings; got {type(patterns).__name__}"
        )
    patterns = list(patterns)
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise TypeError(f"{argument} must hold glob strings; got {type(pattern).__name__} {pattern!r}")
    compiled = [fnmatch.translate(pattern) for pattern in patterns]
    regex = re.compile("|".join(f"(?:{c})" for c in compiled)) if compiled else None
    cache: dict[str, bool] = {}

    def matches(name: str) -> bool:
        hit = cache.get(name)
        if hit is None:
            hit = cache[name] = regex is not None and regex.match(name) is not None
        return hit

    return matches


def _step_bound(bound: Any, what: str) -> int | None:
    if bound is None:
        return None
    if isinstance(bound, bool) or not isinstance(bound, numbers.Integral):
        raise TypeError(f"steps {what} must be an int or None; got {type(bound).__name__} {bound!r}")
    return int(bound)


def step_filter(steps: Any) -> Callable[[np.ndarray], np.ndarray]:
    """A vectorized test for steps from ``None`` (all), ``(min, max)`` (inclusive; either may
    be None), a ``range`` (membership) or a ``slice`` (``start <= step < stop``, every
    ``step``-th from ``start``)."""
    if steps is None:
        return lambda s: np.ones(len(s), dtype=bool)
    every = 1
    origin = 0
    if isinstance(steps, range):
        if steps.step < 0:
            steps = steps[::-1]
        low, high, every, origin = steps.start, steps.stop - 1, steps.step, steps.start
    elif isinstance(steps, slice):
        start, stop = _step_bound(steps.start, "slice start"), _step_bound(steps.stop, "slice stop")
        stride = _step_bound(steps.step, "slice step")
        if stride is not None and stride <= 0:
            raise ValueError(f"steps slice step must be positive; got {stride}")
        low = _INT64_MIN if start is None else start
        high = _INT64_MAX if stop is None else stop - 1
        every, origin = stride or 1, start or 0
    elif isinstance(steps, (tuple, list)) and len(steps) == 2:
        low_bound, high_bound = _step_bound(steps[0], "minimum"), _step_bound(steps[1], "maximum")
        if low_bound is not None and high_bound is not None and low_bound > high_bound:
            raise ValueError(f"steps (min, max) has min {low_bound} > max {high_bound}")
        low = _INT64_MIN if low_bound is None else low_bound
        high = _INT64_MAX if high_bound is None else high_bound
    else:
        raise TypeError(
            "steps must be None, a (min, max) tuple (inclusive), a range or a slice; "
            f"got {type(steps).__name__} {steps!r}"
        )
    # Bounds beyond int64 select the same steps as int64's extremes (steps are int64).
    low, high = max(low, _INT64_MIN), min(high, _INT64_MAX)
    if every == 1:
        return lambda s: (s >= low) & (s <= high)
    origin %= every  # NumPy's % takes the divisor's sign, like Python's: no overflow, no negatives
    return lambda s: (s >= low) & (s <= high) & (s % every == origin)


def check_on_corrupt(on_corrupt: Any) -> None:
    if on_corrupt not in _ON_CORRUPT:
        raise ValueError(f"on_corrupt must be one of {', '.join(map(repr, _ON_CORRUPT))}; got {on_corrupt!r}")


def check_dataframe(dataframe: Any) -> None:
    if dataframe not in (None, True, False):
        raise TypeError(f"dataframe must be None, True or False; got {dataframe!r}")
