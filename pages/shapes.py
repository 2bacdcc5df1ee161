"""The shape labeling page shared by object detection (F3.2) and image segmentation (F3.3): the
shape canvas page (pages/labeling/shapes.py)."""
from __future__ import annotations

import gradio as gr

from .common import AppContext
from .labeling.shapes import ShapesPage


def build(ctx: AppContext, current_job: gr.State, type_id: str) -> ShapesPage:
    return ShapesPage(ctx, current_job, type_id)
