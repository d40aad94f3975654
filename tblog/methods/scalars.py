"""Scalars dashboard: ``add_scalar``, ``add_scalars`` and ``log``."""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from typing import Any

from tblog import _convert
from tblog.events.async_writer import MULTI_SCALAR, SCALAR
from tblog.methods._base import WriterBase

_time = time.time
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_FLOAT_ONLY, _STR_ONLY = frozenset([float]), frozenset([str])


class ScalarMethods(WriterBase):
    """Numbers over steps."""

    _next_log_step: int = 0

    def add_scalar(
        self,
        tag: str,
        scalar_value: Any,
        global_step: Any = None,
        walltime: float | None = None,
        new_style: bool = False,
        double_precision: bool = False,
    ) -> None:
        """Log one number (Scalars dashboard).

        ``scalar_value`` may be a Python number or bool, a NumPy scalar or one-element array,
        a torch tensor (any device) or a JAX array. Device values are read on the background
        thread, never in the caller's. NaN and ±inf are logged as they are.
        ``new_style`` writes a tensor summary instead of ``simple_value`` (float64 with
        ``double_precision``), as torch does.
        """
        if type(tag) is not str or not tag or not tag.isascii():  # isascii: O(1), a flag
            _convert.tag(tag)
        if type(scalar_value) is not float:
            scalar_value = _convert.scalar(scalar_value)
        if type(global_step) is int and _INT64_MIN <= global_step <= _INT64_MAX:
            step = global_step
        else:
            step = _convert.step(global_step)
        wall = _time() if walltime is None else _convert.walltime(walltime)
        if new_style:
            payload = (tag, scalar_value, step, wall, True, bool(double_precision))
            self._events.put(SCALAR, "", payload)
        else:
            self._events.put_scalar(tag, scalar_value, step, wall)

    def add_scalars(
        self,
        main_tag: str,
        tag_scalar_dict: Mapping[str, Any],
        global_step: Any = None,
        walltime: float | None = None,
    ) -> None:
        """Log several numbers on one chart: one sub-run per key, as torch lays them out.

        The value for key ``k`` goes to ``<log_dir>/<main_tag with / as _>_<k>/`` under the tag
        ``main_tag``, so TensorBoard overlays the sub-runs on one chart. All sub-runs are
        written by this writer's one background thread.

        Each sub-run name must make a directory the OS accepts inside ``log_dir``: no NUL,
        lone surrogate, ``..`` or empty part (a key may hold ``/`` for nested directories),
        parts of at most 255 bytes (UTF-8) and a whole path within the OS's limit; otherwise
        ValueError, naming ``main_tag`` or the key, and nothing of the call is logged.
        """
        _convert.tag(main_tag, "main_tag")
        if not isinstance(tag_scalar_dict, Mapping):
            raise TypeError(
                f"tag_scalar_dict must be a mapping of str to scalar; "
                f"got {_convert.describe(tag_scalar_dict)}"
            )
        step, wall = self._step_and_wall(global_step, walltime)
        log_dir = self.log_dir
        prefix = main_tag.replace("/", "_") + "_"
        _sub_run(log_dir, prefix, "")  # main_tag's own faults are named as main_tag's
        items = []
        for key, value in tag_scalar_dict.items():
            _convert.tag(key, "tag_scalar_dict key")
            run = _sub_run(log_dir, prefix, key)
            items.append((run, _convert.scalar(value, f"tag_scalar_dict[{key!r}]")))
        for run, value in items:
            self._events.put(SCALAR, run, (main_tag, value, step, wall, False, False))

    def log(
        self,
        metrics: Mapping[str, Any],
        step: Any = None,
        *,
        walltime: float | None = None,
    ) -> None:
        """Log a mapping of scalars as one event; nested mappings become ``a/b`` tags.

        ``step=None`` uses the writer's own counter: one more than the step of the previous
        ``log`` call (0 for the first). Values are checked before anything is queued, so a
        bad value logs nothing of that call.
        """
        if type(metrics) is not dict and not isinstance(metrics, Mapping):
            raise TypeError(f"metrics must be a mapping of tag to scalar; got {_convert.describe(metrics)}")
        if step is None:
            step = self._next_log_step
            if step > _INT64_MAX:  # the previous call logged step 2**63 - 1
                raise ValueError(
                    f"step: the automatic step after {_INT64_MAX} (the last step logged) would be "
                    f"{step}, beyond int64; pass step= explicitly"
                )
        elif type(step) is not int or not _INT64_MIN <= step <= _INT64_MAX:
            step = _convert.step(step, "step")
        wall = _time() if walltime is None else _convert.walltime(walltime)
        tags: list[str] = list(metrics)
        values: list[Any] = list(metrics.values())
        if (
            _FLOAT_ONLY.issuperset(map(type, values))
            and _STR_ONLY.issuperset(map(type, tags))
            and ("" not in metrics)
            and "".join(tags).isascii()  # ~70 ns for 10 tags; else _flatten checks UTF-8
        ):
            pass  # the common case, checked in C: flat, ASCII str keys, float values
        # Keys of one mapping are unique; only nesting can make two tags collide.
        elif _flatten(metrics, "", tags := [], values := []) and len(set(tags)) != len(tags):
            duplicates = sorted({t for t in tags if tags.count(t) > 1})
            raise ValueError(f"metrics flatten to duplicate tags: {duplicates}")
        self._next_log_step = step + 1
        if tags:
            self._events.put(MULTI_SCALAR, "", (tuple(tags), values, step, wall), 16 * len(tags))

    # ----- text --------------------------------------------------------------------------


def _flatten(metrics: Mapping[str, Any], prefix: str, tags: list[str], values: list[Any]) -> bool:
    """Append ``prefix + key`` tags and checked values; True if there was a nested mapping."""
    nested = False
    for key, value in metrics.items():
        if not isinstance(key, str) or not key:
            raise TypeError(
                f"metrics keys must be non-empty str; got {_convert.describe(key)} under {prefix!r}"
            )
        if not key.isascii():
            _convert.text(key, f"metrics key under {prefix!r}" if prefix else "metrics key")
        tag = prefix + key if prefix else key
        if type(value) is float:  # the common case first: no ABC checks
            values.append(value)
        elif isinstance(value, Mapping):
            _flatten(value, tag + "/", tags, values)
            nested = True
            continue
        else:
            values.append(_convert.scalar(value, f"metrics[{tag!r}]"))
        tags.append(tag)
    return nested


@functools.lru_cache(maxsize=1024)  # add_scalars runs in training loops: check each name once
def _sub_run(log_dir: str, prefix: str, key: str) -> str:
    """The sub-run ``prefix + key`` (prefix: main_tag with ``/`` as ``_``, then ``_``) as a
    directory below ``log_dir``; a ValueError naming main_tag (key "") or the key if the OS
    would refuse it or it would leave ``log_dir``."""
    if not key:
        what = "main_tag (with '/' as '_', the start of every sub-run directory name)"
    else:
        what = f"tag_scalar_dict key {key!r}" if len(key) <= 60 else "a tag_scalar_dict key"
        what += " (in the sub-run directory main_tag + '_' + key)"
    return _convert.run_name(prefix + key, what, log_dir)
