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
from store.team_jobs import (SCOPES, acceptance_items, acceptance_report, current_acceptance,
                             decide_acceptance_item, finish_acceptance, get_team_job, job_role, list_acceptances,
                             start_acceptance)

from .common import (AppContext, PageHandlers, UserError, decision_controls, esc, item_key, item_view,
                     labeled_by_lines, readonly_table, split_item_key, user_errors)
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


def history_frame(past) -> pd.DataFrame:
    return pd.DataFrame([[a.id, a.status.replace("_", " "),
                          f"{a.amount:g}%" if a.sample_by == "percent" else f"{a.amount:g} samples",
                          a.started_at.strftime("%Y-%m-%d %H:%M") if a.started_at else "",
                          a.finished_at.strftime("%Y-%m-%d %H:%M") if a.finished_at else "",
                          SCOPES.get(a.scope, a.scope or ""), "yes" if a.overwrite else "",
                          a.accepted, a.rejected] for a in past], columns=HISTORY_COLUMNS)


def items_frame(items: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([[it["sample_id"], file_name(it["path"]), it["email"], ", ".join(it["labels"]),
                          it["review_rating"] or "", it["decision"], it["rating"] or "", it["reason"] or ""]
                         for it in items], columns=ITEM_COLUMNS)


def key(it: dict) -> str:
    return item_key(it["sample_id"], it["email"])


def open_view(job, it) -> list:
    """preview, info of one sampled item (or empty)."""
    if it is None:
        return ["", ""]
    lines = labeled_by_lines(file_name(it["path"]), it["email"], it["labels"])
    lines.append(f"Decision: **{esc(it['decision'])}**" + (f" ({esc(it['rating'])})" if it["rating"] else "")
                 + (f" · reason: {esc(it['reason'])}" if it["reason"] else ""))
    return [preview_html(job, it["sample_id"], it["path"], it["text"]), "\n\n".join(lines)]


class AcceptanceHandlers(PageHandlers):
    """The Acceptance tab's events."""

    def acc_view(self, job_id, actor, open_key=None) -> list:
        """header, start column, current column, report, items, item picker, preview, info, history."""
        store = self.store
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
        hist = history_frame(past)
        acc = current_acceptance(store, job.id, actor=actor)
        if acc is None:
            last = next((a for a in past if a.status == "finished"), None)
            note = f"\nLast finished: {report_md(acceptance_report(store, last.id, actor))}" if last else ""
            return ([f"{title}\nNo acceptance in progress.{note}", gr.Column(visible=True), gr.Column(visible=False)]
                    + [gr.skip()] * 5 + [hist])
        items = acceptance_items(store, acc.id, actor)
        choices = [(f"{file_name(it['path'])} · {it['email']} · {it['decision']}", key(it)) for it in items]
        current = (next((it for it in items if key(it) == open_key), None)
                   or next((it for it in items if it["decision"] == "pending"), None)
                   or (items[0] if items else None))
        return ([f"{title}\nAn acceptance is in progress: decide the sampled items, then finish it.",
                 gr.Column(visible=False), gr.Column(visible=True),
                 report_md(acceptance_report(store, acc.id, actor)), items_frame(items),
                 gr.Dropdown(choices=choices, value=key(current) if current else None)]
                + open_view(job, current) + [hist])

    def current(self, job_id, actor):
        """The acceptance of the job in progress."""
        acc = current_acceptance(self.store, int(job_id), actor=actor)
        if acc is None:
            raise UserError("no acceptance of this job is in progress")
        return acc

    @user_errors
    def acc_load(self, job_id, request: gr.Request):
        return self.acc_view(job_id, self.ctx.actor(request))

    @user_errors
    def acc_on_start(self, job_id, sample_by, n, request: gr.Request):
        actor = self.ctx.actor(request)
        if job_id is None:
            raise UserError("pick a team job in My Creations first")
        acc = start_acceptance(self.store, int(job_id), actor, sample_by, n if n is not None else 0)
        rep = acceptance_report(self.store, acc.id, actor)
        return self.acc_view(job_id, actor) + [f"Started acceptance {acc.id}: {rep['sampled']} item(s) sampled."]

    @user_errors
    def acc_on_item(self, job_id, k, request: gr.Request):
        actor = self.ctx.actor(request)
        if job_id is None or not k:
            return ["", ""]
        acc = current_acceptance(self.store, int(job_id), actor=actor)
        if acc is None:
            return ["", ""]
        items = acceptance_items(self.store, acc.id, actor)
        job = get_job(self.store, int(job_id), actor=actor)
        return open_view(job, next((it for it in items if key(it) == k), None))

    def decide(self, job_id, k, passed, grade, why, actor):
        if job_id is None or not k:
            raise UserError("open a sampled item first")
        acc = self.current(job_id, actor)
        sample_id, email = split_item_key(k)
        decide_acceptance_item(self.store, acc.id, sample_id, email, actor, passed, grade, why)
        items = acceptance_items(self.store, acc.id, actor)
        pending = [key(it) for it in items if it["decision"] == "pending"]
        verb = f"Passed ({esc(grade)})" if passed else "Rejected"
        return self.acc_view(job_id, actor, pending[0] if pending else k) + [f"{verb}: sample {sample_id}.", ""]

    @user_errors
    def acc_on_pass(self, job_id, k, grade, request: gr.Request):
        return self.decide(job_id, k, True, grade, None, self.ctx.actor(request))

    @user_errors
    def acc_on_reject(self, job_id, k, why, request: gr.Request):
        return self.decide(job_id, k, False, None, why, self.ctx.actor(request))

    @user_errors
    def acc_on_finish(self, job_id, over, sc, request: gr.Request):
        actor = self.ctx.actor(request)
        if job_id is None:
            raise UserError("pick a team job in My Creations first")
        acc = self.current(job_id, actor)
        rep = finish_acceptance(self.store, acc.id, actor, bool(over), sc)
        return self.acc_view(job_id, actor) + [f"Finished: {report_md(rep)}"]


def build(ctx: AppContext, job_picker: gr.Dropdown) -> AcceptancePage:
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
        items_table = readonly_table(ITEM_COLUMNS, "acc-items", "Sampled items")
        with item_view("Open an item", "acc-item", "acc") as (item, preview, info):
            rating, pass_btn, reason, reject_btn = decision_controls("acc", "Pass", "acc-pass",
                                                                     "Reason (required to reject)")
        with gr.Group():
            gr.Markdown("### Finish the acceptance\nAccepted work becomes the job's labels; rejected work goes "
                        "back to its labeler.")
            with gr.Row():
                overwrite = gr.Checkbox(label="Overwrite labels the job already has", value=False,
                                        elem_id="acc-overwrite")
                scope = gr.Radio(SCOPE_CHOICES, value="remaining_pass", label="Scope", elem_id="acc-scope")
            finish_btn = gr.Button("Finish acceptance", variant="primary", elem_id="acc-finish")
    history = readonly_table(HISTORY_COLUMNS, "acc-history", "Acceptances of this job")
    status = gr.Markdown(elem_id="acc-status")

    # wiring ---------------------------------------------------------------------------------
    h = AcceptanceHandlers(ctx)
    outputs = [header, start_col, current_col, report, items_table, item, preview, info, history]
    refresh_btn.click(h.acc_load, [job_picker], outputs)
    start_btn.click(h.acc_on_start, [job_picker, by, amount], outputs + [status])
    item.input(h.acc_on_item, [job_picker, item], [preview, info])
    pass_btn.click(h.acc_on_pass, [job_picker, item, rating], outputs + [status, reason])
    reject_btn.click(h.acc_on_reject, [job_picker, item, reason], outputs + [status, reason])
    finish_btn.click(h.acc_on_finish, [job_picker, overwrite, scope], outputs + [status])
    return AcceptancePage(outputs, h.acc_load)
