"""Sound classification labeling page (F3.8, F3.12): the check-list widget page with audio files,
each with a play button, and labels with shortcut keys (pages/labeling/checklist.py)."""
from __future__ import annotations

import gradio as gr

from .common import AppContext
from .labeling.checklist import ChecklistPage, build_sound


def build(ctx: AppContext, current_job: gr.State) -> ChecklistPage:
    return build_sound(ctx, current_job)
