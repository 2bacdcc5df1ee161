"""Speech labeling page (F3.9, F3.12): the transcript page (pages/labeling/transcript.py)."""
from __future__ import annotations

import gradio as gr

from .common import AppContext
from .labeling.transcript import TranscriptPage


def build(ctx: AppContext, current_job: gr.State) -> TranscriptPage:
    return TranscriptPage(ctx, current_job)
