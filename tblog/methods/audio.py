"""Audio dashboard: ``add_audio``."""

from __future__ import annotations

from tblog.methods._base import WriterBase


class AudioMethods(WriterBase):
    """(methods land with issue 3)"""
