"""Object detection labeling page (F3.2): the shape page with all six drawing tools."""
from __future__ import annotations

import gradio as gr

from . import shapes
from .common import AppContext


def build(ctx: AppContext, current_job: gr.State) -> shapes.ShapesPage:
    return shapes.build(ctx, current_job, "object_detection")
