"""Histograms and Distributions dashboards: ``add_histogram``, ``add_histogram_raw``."""

from __future__ import annotations

from tblog.methods._base import WriterBase


class HistogramMethods(WriterBase):
    """(methods land with issue 3)"""
