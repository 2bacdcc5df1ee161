"""Video labeling page (SPEC F3.11, F3.12): the video player with the shape canvas on its frames
(pages/labeling/video.py)."""
from __future__ import annotations

import gradio as gr

from .common import AppContext
from .labeling.video import VideoPage


def build(ctx: AppContext, current_job: gr.State) -> VideoPage:
    return VideoPage(ctx, current_job)
