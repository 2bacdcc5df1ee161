"""Trash (issue 20): deleted jobs and samples, restorable until they expire.

The table lists what the user may restore (store/trash.py: a deleted job is its owner's and the
admins'; samples deleted from a job are whoever manages the job now), newest first: kind, job,
samples and how many were labeled, who deleted it and when, when it leaves for good. Restore puts
the picked item back as it was (a job with its labels, history, runs, assignments and reviews;
samples into their job). Admins also see "Empty the trash" behind a confirmation, and the size of
the annotation history with "Prune" (drop versions older than N days; current versions stay).
Layout and wiring only: every handler calls one store function with the request's user."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from store.access import is_admin
from store.history import history_overview, prune_history
from store.trash import TrashItem, empty_trash, list_trash, restore_item

from .common import AppContext, PageHandlers, UserError, esc, kept_or_first, readonly_table, size_text, user_errors

COLUMNS = ["Item", "Kind", "Job", "Samples", "Labeled", "Deleted by", "Deleted at", "Expires"]
TIME = "%Y-%m-%d %H:%M"


@dataclass
class TrashPage:
    outputs: list  # what load fills: the table, the item picker, the admin's boxes (Empty, History)
    load: Any
    restored: Any  # the Restore event (ui.py refreshes My Creations after it)


def trash_frame(items: list[TrashItem]) -> pd.DataFrame:
    rows = [[it.id, "job" if it.kind == "job" else "samples", it.job_name, it.samples, it.labeled,
             it.deleted_by or "", f"{it.deleted_at:{TIME}}", f"{it.expires_at:{TIME}}"] for it in items]
    return pd.DataFrame(rows, columns=COLUMNS)


def item_choices(items: list[TrashItem]) -> list[tuple[str, int]]:
    def what(it: TrashItem) -> str:
        return (f"job {it.job_name}" if it.kind == "job"
                else f"{it.samples} sample{'s' if it.samples != 1 else ''} of {it.job_name}")

    return [(f"#{it.id} · {what(it)} · deleted {it.deleted_at:{TIME}}", it.id) for it in items]


class TrashHandlers(PageHandlers):
    """The Trash tab's events."""

    def listing(self, actor: str, picked=None) -> list:
        """The table, the picker (keeping the picked item while it is there) and the admin's boxes."""
        items = list_trash(self.store, actor=actor)
        choices = item_choices(items)
        admin = is_admin(self.store, actor)
        return [trash_frame(items), gr.Dropdown(choices=choices, value=kept_or_first(choices, picked)),
                gr.Accordion(visible=admin), gr.Accordion(visible=admin),
                history_text(history_overview(self.store, actor=actor)) if admin else ""]

    @user_errors
    def load(self, picked, request: gr.Request):
        return self.listing(self.ctx.actor(request), picked)

    @user_errors
    def on_restore(self, picked, request: gr.Request):
        if picked is None:
            raise UserError("pick an item of the trash first")
        actor = self.ctx.actor(request)
        done = restore_item(self.store, picked, actor=actor)
        name = esc(done["job_name"])
        msg = (f"Restored job **{name}** with its labels." if done["kind"] == "job"
               else f"Restored {done['samples']} samples into **{name}**.")
        gr.Info(msg, title="Done")
        return self.listing(actor) + [msg]

    @user_errors
    def on_empty(self, confirmed, request: gr.Request):
        if not confirmed:
            raise UserError("tick the confirmation box first: emptying the trash deletes its items for good")
        actor = self.ctx.actor(request)
        n = empty_trash(self.store, actor=actor)
        msg = f"Emptied the trash: {n} item{'s' if n != 1 else ''} deleted for good."
        gr.Info(msg, title="Done")
        return self.listing(actor) + [msg, False]

    @user_errors
    def on_prune(self, days, confirmed, request: gr.Request):
        if days is None or days < 0:
            raise UserError("give the age in days (0 or more) of the versions to drop")
        if not confirmed:
            raise UserError("tick the confirmation box first: pruned versions cannot be restored")
        actor = self.ctx.actor(request)
        n = prune_history(self.store, days, actor=actor)
        msg = (f"Pruned the history: {n:,} version{'s' if n != 1 else ''} older than {days:g} days dropped; "
               "every sample's current version stays.")
        gr.Info(msg, title="Done")
        return self.listing(actor) + [msg, False]


def history_text(h: dict) -> str:
    oldest = f", the oldest saved {h['oldest']:{TIME}}" if h.get("oldest") else ""
    return (f"The annotation history keeps **{h['rows']:,}** versions ({size_text(h['bytes'])}){oldest}. "
            "Pruning drops the versions older than the age below, in every job; each sample's current "
            "version stays, and so do the versions of jobs in the trash that are current there.")


def build(ctx: AppContext) -> TrashPage:
    days = ctx.store.settings.trash_days
    gr.Markdown(f"## Trash\nDeleted jobs and samples wait here for {days:g} days, then leave for good. "
                "*Restore* puts an item back as it was: a job with its labels, history, runs, assignments and "
                "reviews; samples into their job. Source files deleted with *Also delete the source files* "
                "are not here: that deletion is final.")
    table = readonly_table(COLUMNS, "trash-table", "Deleted jobs and samples, newest first")
    with gr.Row():
        picker = gr.Dropdown(label="Item", choices=[], value=None, scale=3, elem_id="trash-pick")
        restore_btn = gr.Button("Restore", variant="primary", scale=1, elem_id="trash-restore")
        refresh_btn = gr.Button("Refresh", scale=1, elem_id="trash-refresh")
    status = gr.Markdown(elem_id="trash-status")
    with gr.Accordion("Empty the trash (admins)", open=False, visible=False, elem_id="trash-empty-box") as box:
        confirm = gr.Checkbox(label="I understand: every item in the trash is deleted for good (labels, history, "
                                    "team work); this cannot be undone", elem_id="trash-empty-confirm")
        empty_btn = gr.Button("Empty the trash", variant="stop", elem_id="trash-empty")
    with gr.Accordion("Annotation history (admins)", open=False, visible=False,
                      elem_id="trash-history-box") as history_box:
        history_md = gr.Markdown(elem_id="trash-history-size")
        with gr.Row():
            days = gr.Number(label="Drop versions older than (days)", value=90, minimum=0, precision=0, scale=1,
                             elem_id="trash-prune-days")
            prune_ok = gr.Checkbox(label="I understand: the dropped versions can no longer be restored",
                                   scale=2, elem_id="trash-prune-confirm")
            prune_btn = gr.Button("Prune the history", variant="stop", scale=1, elem_id="trash-prune")

    h = TrashHandlers(ctx)
    listed = [table, picker, box, history_box, history_md]
    refresh_btn.click(h.load, [picker], listed)
    restored = restore_btn.click(h.on_restore, [picker], listed + [status])
    empty_btn.click(h.on_empty, [confirm], listed + [status, confirm])
    prune_btn.click(h.on_prune, [days, prune_ok], listed + [status, prune_ok])
    return TrashPage(outputs=listed, load=h.load, restored=restored)
