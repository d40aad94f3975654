"""Images dashboard: ``add_image(s)``, ``add_image_with_boxes``, ``add_figure``, ``add_video``."""

from __future__ import annotations

from tblog.methods._base import WriterBase


class ImageMethods(WriterBase):
    """(methods land with issue 3)"""
