"""The Gradio UI: My Creations, the labeling pages (one per labeling type, shown by the job's
type), quick review and task statistics, sharing the current job."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

import importlib

from pages import jobs, quick_review, statistics
from pages.common import AppContext
from store import Store
from store.errors import NotFound
from store.jobs import get_job
from store.types import REGISTRY

ASSETS = Path(__file__).resolve().parent / "assets"
CSS = (ASSETS / "style.css").read_text(encoding="utf-8")
SHORTCUTS_JS = (ASSETS / "shortcuts.js").read_text(encoding="utf-8")



def labeling_pages() -> dict:
    """type id -> the module under pages/ that labels it, as the registry (store/types) says."""
    return {t.id: importlib.import_module(t.page) for t in REGISTRY.values() if t.available}


def build_ui(store: Store) -> gr.Blocks:
    ctx = AppContext(store)
    with gr.Blocks(title="Labelport", analytics_enabled=False) as demo:
        current_job = gr.State(None)
        with gr.Row(elem_id="lp-topbar"):
            gr.Markdown("# Labelport\nData labeling on your own machine", elem_id="lp-title")
            gr.Markdown("Single-user mode (no users configured)", elem_id="lp-user")
        with gr.Tabs(elem_id="lp-tabs") as tabs:
            with gr.Tab("My Creations", id="jobs", elem_id="tab-jobs"):
                jobs_page = jobs.build(ctx, current_job)
            with gr.Tab("Labeling", id="label", elem_id="tab-label"):
                columns, pages = {}, {}
                for type_id, module in labeling_pages().items():
                    with gr.Column(visible=type_id == "image_classification", elem_id=f"page-{type_id}") as col:
                        pages[type_id] = module.build(ctx, current_job)
                    columns[type_id] = col
            with gr.Tab("Quick review", id="review", elem_id="tab-review"):
                review_page = quick_review.build(ctx, current_job)
            with gr.Tab("Task statistics", id="stats", elem_id="tab-stats"):
                stats_page = statistics.build(ctx, current_job)

        label_outputs = [c for p in pages.values() for c in p.load_outputs]

        def open_labeling(job_id):
            if job_id is None:
                raise gr.Error("pick a job first")
            try:
                job = get_job(store, job_id)
            except NotFound as e:
                raise gr.Error(str(e)) from None
            if job.type not in pages:
                raise gr.Error(f"the {job.labeling_type.title} labeling page is not available yet")
            updates = []
            for type_id, page in pages.items():
                updates += page.load(job_id) if type_id == job.type else [gr.skip()] * len(page.load_outputs)
            visibility = [gr.Column(visible=t == job.type) for t in columns]
            review = review_page.load(job_id)
            return [job_id, gr.Tabs(selected="label")] + visibility + updates + review

        def open_stats(job_id):
            if job_id is None:
                raise gr.Error("pick a job first")
            return [job_id, gr.Tabs(selected="stats")] + stats_page.load(job_id)

        jobs_page.label_btn.click(open_labeling, [jobs_page.job],
                                  [current_job, tabs] + list(columns.values()) + label_outputs
                                  + review_page.load_outputs)
        jobs_page.stats_btn.click(open_stats, [jobs_page.job], [current_job, tabs] + stats_page.outputs)
        demo.load(jobs_page.refresh, None, [jobs_page.table, jobs_page.job])
    hide_ui_events_from_api_page(demo)
    return demo


def hide_ui_events_from_api_page(demo: gr.Blocks) -> None:
    """UI plumbing stays off Gradio's API page (scripts use the REST API at /api/v1); the events
    stay callable by the page itself and by gradio_client."""
    for fn in demo.fns.values():
        if fn.api_visibility == "public":
            fn.api_visibility = "undocumented"
