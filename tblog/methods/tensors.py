"""Raw tensors: ``add_tensor``."""

from __future__ import annotations

from tblog.methods._base import WriterBase


class TensorMethods(WriterBase):
    """(methods land with issue 3)"""
