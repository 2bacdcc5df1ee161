"""Team review (F5.6): for the team jobs I review (reviewer, Team Manager or creator): the queue of
samples waiting for review; open one, approve it with a rating A-D or reject it with a reason
(it goes back to the labeler). Layout and wiring only: the rules are in store/team_jobs.py."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from store.jobs import get_job, list_jobs
from store.team_jobs import RATINGS, get_team_job, job_role, review_queue, review_sample
from store.teams import ROLES

from .common import AppContext, UserError, esc, user_errors
from .participations import CLASSIFICATION, file_name, preview_html

QUEUE_COLUMNS = ["Sample", "File", "Labeler", "Labels"]
PAGE_SIZE = 500


@dataclass
class TeamReviewPage:
    outputs: list
    load: Any


def reviewable_jobs(ctx: AppContext, actor: str) -> list[tuple[str, int]]:
    """Team jobs where the user reviews: reviewer, Team Manager, or the creator (or an admin)."""
    out = []
    for j in list_jobs(ctx.store, actor=actor):
        if get_team_job(ctx.store, j.id, actor) is None:
            continue
        role = job_role(ctx.store, j.id, actor)
        if role in ("owner", "reviewer", "manager"):
            out.append((f"{j.name} ({'Creator' if role == 'owner' else ROLES[role]})", j.id))
    return out


def item_key(a) -> str:
    return f"{a.sample_id}|{a.email}"


def build(ctx: AppContext) -> TeamReviewPage:
    store = ctx.store
    gr.Markdown("## Team review\nSamples labeled by the team wait here. Approve with a rating (A best, D worst) "
                "or reject with a reason: the labeler sees the reason and fixes the sample.")
    with gr.Row():
        job = gr.Dropdown(label="Job", choices=[], value=None, elem_id="rv-job", scale=3)
        refresh_btn = gr.Button("Refresh", scale=1, elem_id="rv-refresh")
    queue = gr.Dataframe(pd.DataFrame(columns=QUEUE_COLUMNS), interactive=False, wrap=True, elem_id="rv-queue",
                         label="To be reviewed")
    item = gr.Dropdown(label="Open a sample", choices=[], value=None, elem_id="rv-item")
    with gr.Row():
        with gr.Column(scale=3):
            preview = gr.HTML(elem_id="rv-preview")
        with gr.Column(scale=2):
            info = gr.Markdown(elem_id="rv-info")
            rating = gr.Radio(list(RATINGS), value="A", label="Rating", elem_id="rv-rating")
            approve_btn = gr.Button("Approve", variant="primary", elem_id="rv-approve")
            reason = gr.Textbox(label="Reason (required to reject; the labeler sees it)", lines=2, max_length=1024,
                                elem_id="rv-reason")
            reject_btn = gr.Button("Reject", variant="stop", elem_id="rv-reject")
    status = gr.Markdown(elem_id="rv-status")

    # wiring ---------------------------------------------------------------------------------
    def open_view(job_id, a, actor=None):
        if a is None:
            return ["", "Nothing waiting for review."]
        jb = get_job(store, int(job_id), actor)
        lines = [f"**{esc(file_name(a.path))}** · labeled by **{esc(a.email)}**",
                 "Labels: " + (", ".join(f"`{esc(x)}`" for x in a.labels) if a.labels else "none")]
        if jb.type not in CLASSIFICATION and a.annotation:
            lines.append('<pre class="lp-team-json">' + esc(json.dumps(a.annotation, ensure_ascii=False, indent=1))
                         + "</pre>")
        return [preview_html(jb, a.sample_id, a.path, a.text), "\n\n".join(lines)]

    def queue_view(job_id, actor, open_key=None):
        if job_id is None:
            return [pd.DataFrame(columns=QUEUE_COLUMNS), gr.Dropdown(choices=[], value=None)] + open_view(None, None)
        items, total = review_queue(store, int(job_id), actor, page_size=PAGE_SIZE)
        frame = pd.DataFrame([[a.sample_id, file_name(a.path), a.email, ", ".join(a.labels)] for a in items],
                             columns=QUEUE_COLUMNS)
        choices = [(f"{file_name(a.path)} · {a.email}", item_key(a)) for a in items]
        current = next((a for a in items if item_key(a) == open_key), None) or (items[0] if items else None)
        return ([frame, gr.Dropdown(choices=choices, value=item_key(current) if current else None,
                                    label=f"Open a sample ({total} to be reviewed)")] + open_view(job_id, current, actor))

    @user_errors
    def rv_load(picked, request: gr.Request):
        actor = ctx.actor(request)
        choices = reviewable_jobs(ctx, actor)
        ids = [c[1] for c in choices]
        value = picked if picked in ids else (ids[0] if ids else None)
        return [gr.Dropdown(choices=choices, value=value)] + queue_view(value, actor)

    @user_errors
    def rv_on_job(job_id, request: gr.Request):
        return queue_view(job_id, ctx.actor(request))

    @user_errors
    def rv_on_item(job_id, key, request: gr.Request):
        if job_id is None or not key:
            return open_view(None, None)
        actor = ctx.actor(request)
        items, _ = review_queue(store, int(job_id), actor, page_size=PAGE_SIZE)
        return open_view(job_id, next((a for a in items if item_key(a) == key), None), actor)

    def decide(job_id, key, approve, grade, why, actor):
        if job_id is None or not key:
            raise UserError("open a sample first")
        sample_id, email = key.split("|", 1)
        a = review_sample(store, int(job_id), int(sample_id), email, actor, approve, grade, why)
        verb = f"Approved ({esc(a.rating)})" if approve else "Rejected"
        return queue_view(job_id, actor) + [f"{verb}: {esc(file_name(a.path))} by {esc(a.email)}.", ""]

    @user_errors
    def rv_on_approve(job_id, key, grade, request: gr.Request):
        return decide(job_id, key, True, grade, None, ctx.actor(request))

    @user_errors
    def rv_on_reject(job_id, key, why, request: gr.Request):
        return decide(job_id, key, False, None, why, ctx.actor(request))

    queue_outputs = [queue, item, preview, info]
    outputs = [job] + queue_outputs
    refresh_btn.click(rv_load, [job], outputs)
    job.input(rv_on_job, [job], queue_outputs)
    item.input(rv_on_item, [job, item], [preview, info])
    approve_btn.click(rv_on_approve, [job, item, rating], queue_outputs + [status, reason])
    reject_btn.click(rv_on_reject, [job, item, reason], queue_outputs + [status, reason])
    return TeamReviewPage(outputs, rv_load)
