"""HParams dashboard: ``add_hparams``."""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from typing import Any

from tblog import _convert
from tblog.events.async_writer import SCALAR
from tblog.methods._base import WriterBase
from tblog.summary import hparams as _hp

_time = time.time


class HParamsMethods(WriterBase):
    """Hyperparameters and the metrics they led to, compared across runs."""

    _hparams_runs: frozenset[str] = frozenset()  # runs this writer has written hparams to
    separate_hparams_runs = False  # SummaryWriter(separate_hparams_runs=...)

    def add_hparams(
        self,
        hparam_dict: Mapping[str, Any],
        metric_dict: Mapping[str, Any],
        hparam_domain_discrete: Mapping[str, Any] | None = None,
        run_name: str | None = None,
        global_step: Any = None,
        *,
        separate_run: bool | None = None,
    ) -> None:
        """Log hyperparameters and the metrics they led to (HParams dashboard).

        Where they go (unlike torch, which always opens a sub-run ``<log_dir>/<time.time()>``):

        * by default, into this writer's own run, so the dashboard's row for the run links
          to its scalars;
        * ``run_name="x"``: into the sub-run ``<log_dir>/x``, as torch (``/`` nests
          directories, ``"."`` is this writer's own run; a name the OS would refuse, or one
          leaving ``log_dir``, raises ValueError);
        * ``separate_run=True``: into a sub-run named ``str(time.time())``, torch's default
          (None: the writer's ``separate_hparams_runs``, False unless set).

        TensorBoard shows only the first hparams written to a run, so a second call without
        ``run_name`` on the same writer goes to a ``str(time.time())`` sub-run by itself
        (torch's loop example, one call per trial, keeps working).

        ``hparam_dict``: names → values; nested dicts flatten to ``outer/inner``. ``bool``,
        numbers and ``str`` keep their type (bools stay bools; torch writes them as 1.0/0.0),
        one-element arrays and tensors become their number, ``None`` is left out (as torch),
        anything else is logged as ``str(value)`` (arrays as ``str(value.tolist())``).

        ``metric_dict``: metric tags → final values. Each number is also logged as a scalar
        at ``global_step`` (None: 0) in the same run, as torch does; the dashboard shows the
        *last* value of that scalar tag in the run. A value of ``None`` only declares the
        metric: use it for a tag you already log with ``add_scalar`` (a number logged at
        step 0 after a training curve would add a stray point to it, so pass
        ``global_step`` then).

        ``hparam_domain_discrete``: ``{name: [values]}`` listing every value an hparam can
        take (same type as its value), shown as the dashboard's filter choices.
        """
        recorded = _hp.hparams(hparam_dict)
        domain = _hp.domains(hparam_domain_discrete, recorded, _hp.flatten(hparam_dict, "hparam_dict"))
        metrics = _metrics(metric_dict)
        if run_name is not None and not isinstance(run_name, str):
            raise TypeError(f"run_name must be a str or None; got {_convert.describe(run_name)}")
        if separate_run is None:
            separate_run = self.separate_hparams_runs
        if not isinstance(separate_run, bool):
            raise TypeError(f"separate_run must be a bool or None; got {_convert.describe(separate_run)}")
        step = _convert.step(global_step)
        wall = _time()
        if run_name:
            run = _convert.run_name(run_name, "run_name", self.log_dir)
            if run in self._hparams_runs:
                warnings.warn(
                    f"add_hparams: run {run_name!r} already has hparams from this writer; "
                    "TensorBoard shows only the first",
                    UserWarning,
                    stacklevel=2,
                )
        elif separate_run or "" in self._hparams_runs:
            run = str(wall)
            while run in self._hparams_runs:  # a coarse clock: two calls in one tick
                run += "_"
        else:
            run = ""
        if not self.is_writing:
            return

        values = (
            _hp.experiment_value(recorded, domain, list(metrics)),
            _hp.session_start_value(recorded, wall),
            _hp.session_end_value(wall),
        )
        for value in values:  # one event each, as torch writes them
            self._put_values([value], step, wall, run)
        for tag, metric in metrics.items():
            if metric is not None:
                self._events.put(SCALAR, run, (tag, metric, step, wall, False, False))
        self._hparams_runs = self._hparams_runs | {run}


def _metrics(metric_dict: Mapping[str, Any]) -> dict[str, Any]:
    """Flattened metric tags → float (or a 0-d device value), or None for declared-only."""
    out = {}
    for tag, value in _hp.flatten(metric_dict, "metric_dict").items():
        out[tag] = None if value is None else _convert.scalar(value, f"metric_dict[{tag!r}]")
    return out
