"""Custom Scalars dashboard: ``add_custom_scalars`` and its chart helpers."""

from __future__ import annotations

from tblog.methods._base import WriterBase


class CustomScalarMethods(WriterBase):
    """(methods land with issue 3)"""
