"""PR Curves dashboard: ``add_pr_curve``, ``add_pr_curve_raw``."""

from __future__ import annotations

from tblog.methods._base import WriterBase


class PrCurveMethods(WriterBase):
    """(methods land with issue 3)"""
