"""The span labeling page shared by named entity recognition (F3.6) and text triplet (F3.7):
pages/labeling/spans.py."""
from __future__ import annotations

from .labeling.spans import SpansPage, build

__all__ = ["SpansPage", "build"]
