"""Text triplet labeling page (F3.7): the span page in "triplet" mode (entities and relations)."""
from __future__ import annotations

import gradio as gr

from . import text_spans
from .common import AppContext


def build(ctx: AppContext, current_job: gr.State) -> text_spans.SpansPage:
    return text_spans.build(ctx, current_job, "text_triplet")
