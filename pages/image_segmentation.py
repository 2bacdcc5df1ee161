"""Image segmentation labeling page (F3.3): the shape canvas page with polygons and extreme points
(pages/labeling/shapes.py)."""
from __future__ import annotations

import gradio as gr

from .common import AppContext
from .labeling.shapes import ShapesPage


def build(ctx: AppContext, current_job: gr.State) -> ShapesPage:
    return ShapesPage(ctx, current_job, "image_segmentation")
