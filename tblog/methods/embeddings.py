"""Embedding projector: ``add_embedding``."""

from __future__ import annotations

from tblog.methods._base import WriterBase


class EmbeddingMethods(WriterBase):
    """(methods land with issue 3)"""
