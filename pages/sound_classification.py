"""Sound classification labeling page (F3.8, F3.12): the files of the view (paged, tabs with
counts), each with a play button; check files (or the page) and label them with a label button,
or with a label's shortcut key followed by a confirmation in the page (Enter labels, Esc
cancels); remove labels from the checked files or one label from one file (×); the label table
with counts and shortcuts; label management (add with a shortcut, rename / recolor / delete
everywhere); Labeling Description; Add data / Export."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from components.audio_list import apply_request, audio_list, list_item, list_value, remove_request, selected_ids
from components.autolabel_panel import build_autolabel_panel, with_prediction
from components.data_panel import build_data_panel, history_frame
from store.annotations import add_labels_to_set, apply_labels, remove_labels
from store.errors import Conflict, NotFound
from store.jobs import get_job
from store.labelset import Label, check_label_name
from store.predictions import confirm_samples
from store.samples import TABS, SampleQuery, counts, query_samples

from .label_actions import LabelActions, delete_choices
from .common import AppContext, UserError, acting_user, esc, user_errors

PAGE_SIZES = [10, 20, 50, 100]
DELETE_CHOICES = delete_choices("files")


@dataclass
class SoundClassificationPage:
    load_outputs: list
    load: Any  # (job_id) -> updates for load_outputs


def build(ctx: AppContext, current_job: gr.State) -> SoundClassificationPage:
    store = ctx.store
    labels_ = LabelActions(store, "files")
    with gr.Row():
        header = gr.Markdown("Pick a job in My Creations, then press Label.", elem_id="sc-header")
        describe_btn = gr.Button("Labeling Description", size="sm", scale=0, elem_id="sc-describe")
    description = gr.Markdown(visible=False, elem_id="sc-description", elem_classes=["lp-description"])
    tab = gr.Radio([(v, k) for k, v in TABS.items()], value="all", label="Status", elem_id="sc-tabs")
    with gr.Row(elem_id="sc-toolbar"):
        select_page_btn = gr.Button("Check page", size="sm", scale=0, min_width=110, elem_id="sc-select-page")
        clear_btn = gr.Button("Uncheck all", size="sm", scale=0, min_width=110, elem_id="sc-clear")
        prev_btn = gr.Button("◀ Previous", size="sm", scale=0, min_width=100, elem_id="sc-prev-page")
        page_no = gr.Number(value=1, precision=0, minimum=1, label="Page", scale=0, min_width=90, elem_id="sc-page")
        next_btn = gr.Button("Next ▶", size="sm", scale=0, min_width=90, elem_id="sc-next-page")
        page_size = gr.Dropdown(PAGE_SIZES, value=20, label="Per page", scale=0, min_width=90, elem_id="sc-page-size")
        page_info = gr.Markdown("", elem_id="sc-page-info")
    with gr.Row():
        with gr.Column(scale=3):
            gr.Markdown("Click files to check them, then press a label button or a label's shortcut key "
                        "(a bar asks to confirm: Enter labels, Esc cancels). ▶ plays a file.",
                        elem_classes=["lp-hint"])
            records = audio_list(elem_id="sc-list")
        with gr.Column(scale=1, min_width=280):
            gr.Markdown("#### Labels")
            labels_table = gr.Dataframe(interactive=False, label="Labels (counts and shortcuts)",
                                        elem_id="sc-labels-table")
            label_pick = gr.CheckboxGroup([], label="Edit the checked files' labels", elem_id="sc-label-pick")
            apply_btn = gr.Button("Add picked labels to checked files", variant="primary", elem_id="sc-apply")
            remove_btn = gr.Button("Remove picked labels from checked files", elem_id="sc-remove")
            confirm_btn = gr.Button("Confirm checked files (To Be Confirmed)", elem_id="sc-confirm")
            with gr.Group():
                add_name = gr.Textbox(label="New label", elem_id="sc-add-name")
                with gr.Row():
                    add_key = gr.Textbox(label="Shortcut key", max_length=1, elem_id="sc-add-key")
                    add_color = gr.ColorPicker(value="#3366ff", label="Color", elem_id="sc-add-color")
                add_btn = gr.Button("Add label", size="sm", elem_id="sc-add")
    with gr.Accordion("Label management", open=False, elem_id="sc-label-management"):
        lm_label = gr.Dropdown([], label="Label", elem_id="sc-lm-label")
        with gr.Row():
            lm_new = gr.Textbox(label="New name", elem_id="sc-lm-new-name")
            lm_rename = gr.Button("Rename everywhere", elem_id="sc-lm-rename")
        with gr.Row():
            lm_color = gr.ColorPicker(value="#3366ff", label="New color", elem_id="sc-lm-color")
            lm_recolor = gr.Button("Change color", elem_id="sc-lm-recolor")
        with gr.Row():
            lm_mode = gr.Radio(DELETE_CHOICES, value=DELETE_CHOICES[0], label="Delete", elem_id="sc-lm-delete-mode")
            lm_delete = gr.Button("Delete the chosen label", variant="stop", elem_id="sc-lm-delete")
    data = build_data_panel(ctx, current_job, "sound_classification", prefix="sc-")
    auto = build_autolabel_panel(ctx, current_job, "sound_classification", prefix="sc")
    described = gr.State(False)

    # wiring ---------------------------------------------------------------------------------
    view_inputs = [current_job, tab, page_no, page_size]

    def view(job_id, tab_v, page, size, selected=()):
        if job_id is None:
            return [gr.skip()] * len(view_outputs)
        try:
            job = get_job(store, job_id, actor=acting_user())
        except NotFound:
            return ["This job no longer exists: pick another one in My Creations."] + [gr.skip()] * (
                len(view_outputs) - 1)
        c = counts(store, job_id, actor=acting_user())
        p = query_samples(store, job_id, SampleQuery(status=tab_v or "all", page=int(page or 1),
                                                     page_size=int(size or 20)), actor=acting_user())
        labels = job.label_set.labels
        colors = {lab.name: lab.color for lab in labels}
        names = job.label_set.names()
        tabs = [(f"{v} ({c.total if k == 'all' else c.by_status[k]})", k) for k, v in TABS.items()]
        keep = [i for i in selected if i in {s.id for s in p.items}]
        return [
            f"### {esc(job.name)}\n{esc(job.labeling_type.title)} · {c.by_status['labeled']}/{c.total} labeled"
            " · check files, then a label button or its shortcut key",
            gr.Radio(choices=tabs, value=tab_v or "all"),
            list_value([with_prediction(list_item(s, colors), s) for s in p.items], keep, labels),
            gr.Number(value=p.page),
            f"{p.total:,} files · page {p.page} of {p.pages}",
            gr.CheckboxGroup(choices=names, value=[]),
            pd.DataFrame([(lab.name, lab.shortcut or "", lab.color or "", c.by_label.get(lab.name, 0))
                          for lab in labels], columns=["Label", "Shortcut", "Color", "Files"]),
            gr.Dropdown(choices=names, value=None),
            job.instructions or "_This job has no labeling instructions._",
        ]

    view_outputs = [header, tab, records, page_no, page_info, label_pick, labels_table, lm_label, description]

    def first_page(job_id, tab_v, page, size):
        return view(job_id, tab_v, 1, size)

    def step(delta):
        def go(job_id, tab_v, page, size):
            return view(job_id, tab_v, max(1, int(page or 1) + delta), size)
        return go

    def _with_selection(v, ids):
        v = dict(v or {})
        items = [{**it, "selected": it["id"] in set(ids)} for it in v.get("items", [])]
        return {**v, "items": items, "selected": [it["id"] for it in items if it["selected"]],
                "apply": None, "remove": None}

    def on_check_page(v):
        return _with_selection(v, [it["id"] for it in (v or {}).get("items", [])])

    def on_clear(v):
        return _with_selection(v, [])

    @user_errors
    def on_apply(request: gr.Request, v, labels, *args):
        ids = selected_ids(v)
        if not ids:
            raise UserError("check at least one file first")
        if not labels:
            raise UserError("pick the labels to add first")
        n = apply_labels(store, args[0], ids, list(labels), actor=ctx.actor(request))
        gr.Info(f"Labeled {n} files")
        return view(*args)

    @user_errors
    def on_key_apply(request: gr.Request, v, *args):
        req = apply_request(v)
        if req is None or args[0] is None:
            return [gr.skip()] * len(view_outputs)
        label, ids = req
        if not ids:
            raise UserError("check at least one file first")
        n = apply_labels(store, args[0], ids, [label], actor=ctx.actor(request))
        gr.Info(f"Labeled {n} files {esc(label)}")
        return view(*args)

    @user_errors
    def on_confirm(request: gr.Request, v, *args):
        if args[0] is None:
            raise UserError("open a job first")
        n = confirm_samples(store, args[0], selected_ids(v), actor=ctx.actor(request))
        gr.Info(f"Confirmed {n} files: they are Labeled")
        return view(*args)

    @user_errors
    def on_remove(request: gr.Request, v, labels, *args):
        if not labels:
            raise UserError("pick the labels to remove first")
        ids = selected_ids(v)
        if not ids:
            raise UserError("check at least one file first")
        n = remove_labels(store, args[0], ids, list(labels), actor=ctx.actor(request))
        gr.Info(f"Removed from {n} files")
        return view(*args, selected=ids)

    @user_errors
    def on_chip_remove(request: gr.Request, v, *args):
        req = remove_request(v)
        if req is None or args[0] is None:
            return [gr.skip()] * len(view_outputs)
        remove_labels(store, args[0], [req[0]], [req[1]], actor=ctx.actor(request))
        return view(*args, selected=selected_ids(v))

    @user_errors
    def on_add(request: gr.Request, name, key, color, v, *args):
        if args[0] is None:
            raise UserError("open a job first")
        job = get_job(store, args[0], actor=acting_user())
        name = check_label_name(name or "", job.labeling_type.rules)
        if name in job.label_set.names():
            raise Conflict(f"a label named {name[:80]!r} already exists: names must be unique")
        add_labels_to_set(store, args[0], [Label(name, color or "", (key or "").strip())], actor=ctx.actor(request))
        gr.Info(f"Label {esc(name)} added")
        return view(*args, selected=selected_ids(v)) + ["", ""]

    @user_errors
    def on_rename(request: gr.Request, old, new, *args):
        labels_.rename(ctx.actor(request), args[0], old, new)
        return view(*args) + [""]

    @user_errors
    def on_recolor(request: gr.Request, name, color, *args):
        labels_.recolor(ctx.actor(request), args[0], name, color)
        return view(*args)

    @user_errors
    def on_delete(request: gr.Request, name, mode, *args):
        labels_.delete(ctx.actor(request), args[0], name, mode)
        return view(*args)

    tab.input(first_page, view_inputs, view_outputs)
    page_size.input(first_page, view_inputs, view_outputs)
    page_no.submit(view, view_inputs, view_outputs)
    prev_btn.click(step(-1), view_inputs, view_outputs)
    next_btn.click(step(1), view_inputs, view_outputs)
    select_page_btn.click(on_check_page, [records], [records])
    clear_btn.click(on_clear, [records], [records])
    apply_btn.click(on_apply, [records, label_pick] + view_inputs, view_outputs)
    remove_btn.click(on_remove, [records, label_pick] + view_inputs, view_outputs)
    confirm_btn.click(on_confirm, [records] + view_inputs, view_outputs)
    records.apply(on_key_apply, [records] + view_inputs, view_outputs)
    records.remove(on_chip_remove, [records] + view_inputs, view_outputs)
    add_btn.click(on_add, [add_name, add_key, add_color, records] + view_inputs, view_outputs + [add_name, add_key])
    add_name.submit(on_add, [add_name, add_key, add_color, records] + view_inputs,
                    view_outputs + [add_name, add_key])
    lm_rename.click(on_rename, [lm_label, lm_new] + view_inputs, view_outputs + [lm_new])
    lm_recolor.click(on_recolor, [lm_label, lm_color] + view_inputs, view_outputs)
    lm_delete.click(on_delete, [lm_label, lm_mode] + view_inputs, view_outputs)
    describe_btn.click(lambda shown: (gr.Markdown(visible=not shown), not shown), [described],
                       [description, described])
    for event in data.events:
        event.success(view, view_inputs, view_outputs)
    for event in auto.events:  # a finished run, a bulk confirm or discard
        event.success(view, view_inputs, view_outputs)

    def load(job_id):
        return view(job_id, "all", 1, 20) + [history_frame(ctx, job_id)] + auto.load(job_id)

    return SoundClassificationPage(view_outputs + [data.history] + auto.outputs, load)

