"""Image segmentation labeling page (F3.3): the shape page with polygons and extreme points."""
from __future__ import annotations

import gradio as gr

from . import shapes
from .common import AppContext


def build(ctx: AppContext, current_job: gr.State) -> shapes.ShapesPage:
    return shapes.build(ctx, current_job, "image_segmentation")
