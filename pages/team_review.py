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
from store.team_jobs import get_team_job, job_role, review_queue, review_sample
from store.teams import ROLES

from .common import (AppContext, PageHandlers, UserError, decision_controls, esc, item_key, item_view,
                     kept_or_first, labeled_by_lines, readonly_table, split_item_key, user_errors)
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


def queue_key(a) -> str:
    return item_key(a.sample_id, a.email)


class TeamReviewHandlers(PageHandlers):
    """The Team review tab's events."""

    def open_view(self, job_id, a, actor=None) -> list:
        """preview, info of one labeled sample (or empty)."""
        if a is None:
            return ["", "Nothing waiting for review."]
        jb = get_job(self.store, int(job_id), actor)
        lines = labeled_by_lines(file_name(a.path), a.email, a.labels)
        if jb.type not in CLASSIFICATION and a.annotation:
            lines.append('<pre class="lp-team-json">' + esc(json.dumps(a.annotation, ensure_ascii=False, indent=1))
                         + "</pre>")
        return [preview_html(jb, a.sample_id, a.path, a.text), "\n\n".join(lines)]

    def queue_view(self, job_id, actor, open_key=None) -> list:
        """queue table, sample picker, then the opened sample's view."""
        if job_id is None:
            return ([pd.DataFrame(columns=QUEUE_COLUMNS), gr.Dropdown(choices=[], value=None)]
                    + self.open_view(None, None))
        items, total = review_queue(self.store, int(job_id), actor, page_size=PAGE_SIZE)
        frame = pd.DataFrame([[a.sample_id, file_name(a.path), a.email, ", ".join(a.labels)] for a in items],
                             columns=QUEUE_COLUMNS)
        choices = [(f"{file_name(a.path)} · {a.email}", queue_key(a)) for a in items]
        current = next((a for a in items if queue_key(a) == open_key), None) or (items[0] if items else None)
        return ([frame, gr.Dropdown(choices=choices, value=queue_key(current) if current else None,
                                    label=f"Open a sample ({total} to be reviewed)")]
                + self.open_view(job_id, current, actor))

    @user_errors
    def rv_load(self, picked, request: gr.Request):
        actor = self.ctx.actor(request)
        choices = reviewable_jobs(self.ctx, actor)
        value = kept_or_first(choices, picked)
        return [gr.Dropdown(choices=choices, value=value)] + self.queue_view(value, actor)

    @user_errors
    def rv_on_job(self, job_id, request: gr.Request):
        return self.queue_view(job_id, self.ctx.actor(request))

    @user_errors
    def rv_on_item(self, job_id, key, request: gr.Request):
        if job_id is None or not key:
            return self.open_view(None, None)
        actor = self.ctx.actor(request)
        items, _ = review_queue(self.store, int(job_id), actor, page_size=PAGE_SIZE)
        return self.open_view(job_id, next((a for a in items if queue_key(a) == key), None), actor)

    def decide(self, job_id, key, approve, grade, why, actor):
        if job_id is None or not key:
            raise UserError("open a sample first")
        sample_id, email = split_item_key(key)
        a = review_sample(self.store, int(job_id), sample_id, email, actor, approve, grade, why)
        verb = f"Approved ({esc(a.rating)})" if approve else "Rejected"
        return self.queue_view(job_id, actor) + [f"{verb}: {esc(file_name(a.path))} by {esc(a.email)}.", ""]

    @user_errors
    def rv_on_approve(self, job_id, key, grade, request: gr.Request):
        return self.decide(job_id, key, True, grade, None, self.ctx.actor(request))

    @user_errors
    def rv_on_reject(self, job_id, key, why, request: gr.Request):
        return self.decide(job_id, key, False, None, why, self.ctx.actor(request))


def build(ctx: AppContext) -> TeamReviewPage:
    gr.Markdown("## Team review\nSamples labeled by the team wait here. Approve with a rating (A best, D worst) "
                "or reject with a reason: the labeler sees the reason and fixes the sample.")
    with gr.Row():
        job = gr.Dropdown(label="Job", choices=[], value=None, elem_id="rv-job", scale=3)
        refresh_btn = gr.Button("Refresh", scale=1, elem_id="rv-refresh")
    queue = readonly_table(QUEUE_COLUMNS, "rv-queue", "To be reviewed")
    with item_view("Open a sample", "rv-item", "rv") as (item, preview, info):
        rating, approve_btn, reason, reject_btn = decision_controls(
            "rv", "Approve", "rv-approve", "Reason (required to reject; the labeler sees it)")
    status = gr.Markdown(elem_id="rv-status")

    # wiring ---------------------------------------------------------------------------------
    h = TeamReviewHandlers(ctx)
    queue_outputs = [queue, item, preview, info]
    outputs = [job] + queue_outputs
    refresh_btn.click(h.rv_load, [job], outputs)
    job.input(h.rv_on_job, [job], queue_outputs)
    item.input(h.rv_on_item, [job, item], [preview, info])
    approve_btn.click(h.rv_on_approve, [job, item, rating], queue_outputs + [status, reason])
    reject_btn.click(h.rv_on_reject, [job, item, reason], queue_outputs + [status, reason])
    return TeamReviewPage(outputs, h.rv_load)
