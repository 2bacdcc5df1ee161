"""The shape labeling page: one page for object detection (F3.2) and image segmentation (F3.3),
the types whose registry entry names it (pages/labeling/shapes.py)."""
from __future__ import annotations

from .labeling.shapes import SHAPE_TYPES, ShapesPage, build

__all__ = ["SHAPE_TYPES", "ShapesPage", "build"]
