"""Image classification labeling page (F3.1, F2.2-F2.5, F3.12): the image grid widget page
(pages/labeling/grid.py)."""
from __future__ import annotations

from .labeling.grid import ImageGridPage, build

__all__ = ["ImageGridPage", "build"]
