"""Acceptance (F5.7, F5.8), for the creator of the team job picked in My Creations: sample the
labeled work (a percentage or a count), pass (with a rating) or reject (with a reason) each
sampled item, watch the report, continue an unfinished acceptance, finish it with an overwrite
policy and a scope; the reports of finished acceptances. Layout and wiring only: the rules are
in store/team_jobs.py."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from store.errors import NotFound
from store.jobs import get_job
from store.team_jobs import (RATINGS, SCOPES, acceptance_items, acceptance_report, current_acceptance,
                             decide_acceptance_item, finish_acceptance, get_team_job, job_role, list_acceptances,
                             start_acceptance)

from .common import AppContext, UserError, esc, user_errors
from .participations import file_name, preview_html

ITEM_COLUMNS = ["Sample", "File", "Labeler", "Labels", "Review rating", "Decision", "Rating", "Reason"]
HISTORY_COLUMNS = ["Acceptance", "Status", "Sampled by", "Started", "Finished", "Scope", "Overwrite", "Accepted",
                   "Rejected"]
SCOPE_CHOICES = [(title, key) for key, title in SCOPES.items()]
BY_CHOICES = [("Percentage of the labeled samples", "percent"), ("Number of samples", "count")]


@dataclass
class AcceptancePage:
    outputs: list
    load: Any


def report_md(rep: dict) -> str:
    rate = f"{rep['pass_rate']:.0%}" if rep["pass_rate"] is not None else "–"
    text = (f"**Acceptance {rep['acceptance_id']}** ({rep['status'].replace('_', ' ')}) · sampled **{rep['sampled']}**"
            f" · pending **{rep['pending']}** · passed **{rep['passed']}** · rejected **{rep['rejected']}** · "
            f"pass rate **{rate}**")
    if rep["status"] == "finished":
        text += (f" · accepted {rep['accepted']} · sent back {rep['rejected_total']} · scope "
                 f"{SCOPES.get(rep['scope'], rep['scope'])}" + (" · overwrite" if rep["overwrite"] else ""))
    else:
        text += f" · {rep['labeled_waiting']} labeled samples wait for acceptance"
    return text


def build(ctx: AppContext, job_picker: gr.Dropdown) -> AcceptancePage:
    store = ctx.store
    header = gr.Markdown("Pick a team job in My Creations, then open this tab.", elem_id="acc-header")
    refresh_btn = gr.Button("Refresh", size="sm", elem_id="acc-refresh")
    with gr.Column(visible=False, elem_id="acc-start-col") as start_col:
        gr.Markdown("### Start an acceptance\nSample the labeled work to check it.")
        with gr.Row():
            by = gr.Radio(BY_CHOICES, value="percent", label="Sample by", elem_id="acc-by")
            amount = gr.Number(value=10, minimum=0, label="Amount (percent or count)", elem_id="acc-amount")
            start_btn = gr.Button("Start acceptance", variant="primary", elem_id="acc-start")
    with gr.Column(visible=False, elem_id="acc-current-col") as current_col:
        report = gr.Markdown(elem_id="acc-report")
        items_table = gr.Dataframe(pd.DataFrame(columns=ITEM_COLUMNS), interactive=False, wrap=True,
                                   elem_id="acc-items", label="Sampled items")
        item = gr.Dropdown(label="Open an item", choices=[], value=None, elem_id="acc-item")
        with gr.Row():
            with gr.Column(scale=3):
                preview = gr.HTML(elem_id="acc-preview")
            with gr.Column(scale=2):
                info = gr.Markdown(elem_id="acc-info")
                rating = gr.Radio(list(RATINGS), value="A", label="Rating", elem_id="acc-rating")
                pass_btn = gr.Button("Pass", variant="primary", elem_id="acc-pass")
                reason = gr.Textbox(label="Reason (required to reject)", lines=2, max_length=1024,
                                    elem_id="acc-reason")
                reject_btn = gr.Button("Reject", variant="stop", elem_id="acc-reject")
        with gr.Group():
            gr.Markdown("### Finish the acceptance\nAccepted work becomes the job's labels; rejected work goes "
                        "back to its labeler.")
            with gr.Row():
                overwrite = gr.Checkbox(label="Overwrite labels the job already has", value=False,
                                        elem_id="acc-overwrite")
                scope = gr.Radio(SCOPE_CHOICES, value="remaining_pass", label="Scope", elem_id="acc-scope")
            finish_btn = gr.Button("Finish acceptance", variant="primary", elem_id="acc-finish")
    history = gr.Dataframe(pd.DataFrame(columns=HISTORY_COLUMNS), interactive=False, wrap=True,
                           elem_id="acc-history", label="Acceptances of this job")
    status = gr.Markdown(elem_id="acc-status")

    # wiring ---------------------------------------------------------------------------------
    def open_view(job, it):
        if it is None:
            return ["", ""]
        lines = [f"**{esc(file_name(it['path']))}** · labeled by **{esc(it['email'])}**",
                 "Labels: " + (", ".join(f"`{esc(x)}`" for x in it["labels"]) if it["labels"] else "none"),
                 f"Decision: **{esc(it['decision'])}**" + (f" ({esc(it['rating'])})" if it["rating"] else "")
                 + (f" · reason: {esc(it['reason'])}" if it["reason"] else "")]
        return [preview_html(job, it["sample_id"], it["path"], it["text"]), "\n\n".join(lines)]

    def key(it) -> str:
        return f"{it['sample_id']}|{it['email']}"

    def acc_view(job_id, actor, open_key=None):
        """header, start column, current column, report, items, item picker, preview, info, history."""
        hide = [gr.Column(visible=False), gr.Column(visible=False)]
        empty = [gr.skip()] * 5 + [pd.DataFrame(columns=HISTORY_COLUMNS)]
        if job_id is None:
            return ["Pick a team job in My Creations, then open this tab."] + hide + empty
        try:
            job = get_job(store, int(job_id), actor=actor)
            role = job_role(store, job.id, actor)
        except NotFound:
            return ["This job no longer exists."] + hide + empty
        title = f"### Acceptance: {esc(job.name)}"
        if role != "owner":
            return [f"{title}\nOnly the job's creator accepts its work."] + hide + empty
        if get_team_job(store, job.id, actor=actor) is None:
            return [f"{title}\nThis job is not a team labeling job (make it one in the Team job tab)."] + hide + empty
        past = list_acceptances(store, job.id, actor)
        hist = pd.DataFrame([[a.id, a.status.replace("_", " "),
                              f"{a.amount:g}%" if a.sample_by == "percent" else f"{a.amount:g} samples",
                              a.started_at.strftime("%Y-%m-%d %H:%M") if a.started_at else "",
                              a.finished_at.strftime("%Y-%m-%d %H:%M") if a.finished_at else "",
                              SCOPES.get(a.scope, a.scope or ""), "yes" if a.overwrite else "",
                              a.accepted, a.rejected] for a in past], columns=HISTORY_COLUMNS)
        acc = current_acceptance(store, job.id, actor=actor)
        if acc is None:
            last = next((a for a in past if a.status == "finished"), None)
            note = f"\nLast finished: {report_md(acceptance_report(store, last.id, actor))}" if last else ""
            return ([f"{title}\nNo acceptance in progress.{note}", gr.Column(visible=True), gr.Column(visible=False)]
                    + [gr.skip()] * 5 + [hist])
        items = acceptance_items(store, acc.id, actor)
        frame = pd.DataFrame([[it["sample_id"], file_name(it["path"]), it["email"], ", ".join(it["labels"]),
                               it["review_rating"] or "", it["decision"], it["rating"] or "", it["reason"] or ""]
                              for it in items], columns=ITEM_COLUMNS)
        choices = [(f"{file_name(it['path'])} · {it['email']} · {it['decision']}", key(it)) for it in items]
        current = (next((it for it in items if key(it) == open_key), None)
                   or next((it for it in items if it["decision"] == "pending"), None)
                   or (items[0] if items else None))
        return ([f"{title}\nAn acceptance is in progress: decide the sampled items, then finish it.",
                 gr.Column(visible=False), gr.Column(visible=True),
                 report_md(acceptance_report(store, acc.id, actor)), frame,
                 gr.Dropdown(choices=choices, value=key(current) if current else None)]
                + open_view(job, current) + [hist])

    @user_errors
    def acc_load(job_id, request: gr.Request):
        return acc_view(job_id, ctx.actor(request))

    @user_errors
    def acc_on_start(job_id, sample_by, n, request: gr.Request):
        actor = ctx.actor(request)
        if job_id is None:
            raise UserError("pick a team job in My Creations first")
        acc = start_acceptance(store, int(job_id), actor, sample_by, n if n is not None else 0)
        rep = acceptance_report(store, acc.id, actor)
        return acc_view(job_id, actor) + [f"Started acceptance {acc.id}: {rep['sampled']} item(s) sampled."]

    @user_errors
    def acc_on_item(job_id, k, request: gr.Request):
        actor = ctx.actor(request)
        if job_id is None or not k:
            return ["", ""]
        acc = current_acceptance(store, int(job_id), actor=actor)
        if acc is None:
            return ["", ""]
        items = acceptance_items(store, acc.id, actor)
        return open_view(get_job(store, int(job_id), actor=actor), next((it for it in items if key(it) == k), None))

    def decide(job_id, k, passed, grade, why, actor):
        if job_id is None or not k:
            raise UserError("open a sampled item first")
        acc = current_acceptance(store, int(job_id), actor=actor)
        if acc is None:
            raise UserError("no acceptance of this job is in progress")
        sample_id, email = k.split("|", 1)
        decide_acceptance_item(store, acc.id, int(sample_id), email, actor, passed, grade, why)
        items = acceptance_items(store, acc.id, actor)
        pending = [key(it) for it in items if it["decision"] == "pending"]
        verb = f"Passed ({esc(grade)})" if passed else "Rejected"
        return acc_view(job_id, actor, pending[0] if pending else k) + [f"{verb}: sample {int(sample_id)}.", ""]

    @user_errors
    def acc_on_pass(job_id, k, grade, request: gr.Request):
        return decide(job_id, k, True, grade, None, ctx.actor(request))

    @user_errors
    def acc_on_reject(job_id, k, why, request: gr.Request):
        return decide(job_id, k, False, None, why, ctx.actor(request))

    @user_errors
    def acc_on_finish(job_id, over, sc, request: gr.Request):
        actor = ctx.actor(request)
        if job_id is None:
            raise UserError("pick a team job in My Creations first")
        acc = current_acceptance(store, int(job_id), actor=actor)
        if acc is None:
            raise UserError("no acceptance of this job is in progress")
        rep = finish_acceptance(store, acc.id, actor, bool(over), sc)
        return acc_view(job_id, actor) + [f"Finished: {report_md(rep)}"]

    outputs = [header, start_col, current_col, report, items_table, item, preview, info, history]
    refresh_btn.click(acc_load, [job_picker], outputs)
    start_btn.click(acc_on_start, [job_picker, by, amount], outputs + [status])
    item.input(acc_on_item, [job_picker, item], [preview, info])
    pass_btn.click(acc_on_pass, [job_picker, item, rating], outputs + [status, reason])
    reject_btn.click(acc_on_reject, [job_picker, item, reason], outputs + [status, reason])
    finish_btn.click(acc_on_finish, [job_picker, overwrite, scope], outputs + [status])
    return AcceptancePage(outputs, acc_load)
