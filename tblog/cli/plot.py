"""``tblog plot``: scalars drawn to an image file with matplotlib (no display needed)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

MAX_CHARTS = 64


def smooth(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's smoothing: an exponential moving average, debiased at the start."""
    if weight <= 0 or len(values) == 0:
        return values
    out = np.empty(len(values))
    last = 0.0
    for i, v in enumerate(values):
        last = last * weight + (1 - weight) * v
        out[i] = last / (1 - weight ** (i + 1))
    return out


def plot(
    series: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]],
    path: str,
    *,
    size: tuple[int, int],
    smoothing: float,
    title: str | None,
) -> None:
    """One chart per tag, one line per run: ``series[tag][run] = (steps, values)``."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("tblog plot needs matplotlib: pip install 'tblog[plot]'") from None
    dpi = 100
    # No pyplot: a bare Figure renders with the Agg canvas and touches no GUI backend.
    figure = Figure(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi, layout="constrained")
    cols = math.ceil(math.sqrt(len(series)))
    rows = math.ceil(len(series) / cols)
    axes: Any = figure.subplots(rows, cols, squeeze=False)
    for ax, (tag, runs) in zip(axes.flat, series.items(), strict=False):
        for index, (run, (steps, values)) in enumerate(runs.items()):
            color = f"C{index % 10}"
            if smoothing > 0:
                ax.plot(steps, values, color=color, alpha=0.25, linewidth=1)
                ax.plot(steps, smooth(values, smoothing), color=color, linewidth=1.5, label=run)
            else:
                ax.plot(steps, values, color=color, linewidth=1.5, label=run)
        ax.set_title(tag, fontsize="medium")
        ax.set_xlabel("step")
        ax.grid(True, alpha=0.3)
        if len(runs) > 1 or set(runs) != {"."}:  # "." alone: the log directory is the one run
            ax.legend(fontsize="small")
    for ax in list(axes.flat)[len(series) :]:
        ax.set_visible(False)
    if title:
        figure.suptitle(title)
    figure.savefig(path, dpi=dpi)
