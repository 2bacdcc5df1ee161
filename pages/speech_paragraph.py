"""Speech paragraph labeling page (F3.10, F3.12): the segments page (pages/labeling/segments.py)."""
from __future__ import annotations

import gradio as gr

from .common import AppContext
from .labeling.segments import SegmentsPage


def build(ctx: AppContext, current_job: gr.State) -> SegmentsPage:
    return SegmentsPage(ctx, current_job)
