"""The span labeling page: one page for named entity recognition (F3.6) and text triplet (F3.7),
the types whose registry entry names it (pages/labeling/spans.py)."""
from __future__ import annotations

from .labeling.spans import SPAN_TYPES, SpansPage, build

__all__ = ["SPAN_TYPES", "SpansPage", "build"]
