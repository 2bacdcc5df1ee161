"""Text classification labeling page (F3.5, F3.12): the check-list widget page with texts
(pages/labeling/checklist.py)."""
from __future__ import annotations

import gradio as gr

from .common import AppContext
from .labeling.checklist import ChecklistPage, build_text


def build(ctx: AppContext, current_job: gr.State) -> ChecklistPage:
    return build_text(ctx, current_job)
