"""Mesh dashboard: ``add_mesh``."""

from __future__ import annotations

from tblog.methods._base import WriterBase


class MeshMethods(WriterBase):
    """(methods land with issue 3)"""
