"""The classification page: one page for image (F3.1), text (F3.5) and sound classification
(F3.8), the types whose registry entry names it (pages/labeling/checklist.py)."""
from __future__ import annotations

from .labeling.checklist import CHECKLIST_TYPES, ChecklistPage, build

__all__ = ["CHECKLIST_TYPES", "ChecklistPage", "build"]
