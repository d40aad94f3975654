"""HParams dashboard: ``add_hparams``."""

from __future__ import annotations

from tblog.methods._base import WriterBase


class HParamsMethods(WriterBase):
    """(methods land with issue 3)"""
