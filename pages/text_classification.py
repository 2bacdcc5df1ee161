"""Text classification labeling page (F3.5, F3.12): records with checkboxes on the left, the label
set on the right (several labels per text), Save Current Page, add a label with a color, remove
one label from a text, label management, Labeling Description, Add data / Export."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from components.autolabel_panel import build_autolabel_panel, with_prediction
from components.data_panel import build_data_panel, history_frame
from components.text_list import grid_value, list_item, remove_request, selected_ids, text_list
from store.annotations import add_label, apply_labels, remove_labels, set_labels
from store.errors import NotFound
from store.jobs import get_job
from store.predictions import confirm_samples
from store.samples import TABS, SampleQuery, counts, query_samples

from .label_actions import LabelActions, delete_choices
from .common import AppContext, UserError, acting_user, esc, user_errors

PAGE_SIZES = [10, 20, 50, 100]
DELETE_CHOICES = delete_choices("texts")


@dataclass
class TextClassificationPage:
    load_outputs: list
    load: Any  # (job_id) -> updates for load_outputs


def build(ctx: AppContext, current_job: gr.State) -> TextClassificationPage:
    store = ctx.store
    labels_ = LabelActions(store, "texts")
    with gr.Row():
        header = gr.Markdown("Pick a job in My Creations, then press Label.", elem_id="tc-header")
        describe_btn = gr.Button("Labeling Description", size="sm", scale=0, elem_id="tc-describe")
    description = gr.Markdown(visible=False, elem_id="tc-description", elem_classes=["lp-description"])
    tab = gr.Radio([(v, k) for k, v in TABS.items()], value="all", label="Status", elem_id="tc-tabs")
    with gr.Row(elem_id="tc-toolbar"):
        select_page_btn = gr.Button("Check page", size="sm", scale=0, min_width=110, elem_id="tc-select-page")
        clear_btn = gr.Button("Uncheck all", size="sm", scale=0, min_width=110, elem_id="tc-clear")
        prev_btn = gr.Button("◀ Previous", size="sm", scale=0, min_width=100, elem_id="tc-prev-page")
        page_no = gr.Number(value=1, precision=0, minimum=1, label="Page", scale=0, min_width=90, elem_id="tc-page")
        next_btn = gr.Button("Next ▶", size="sm", scale=0, min_width=90, elem_id="tc-next-page")
        page_size = gr.Dropdown(PAGE_SIZES, value=20, label="Per page", scale=0, min_width=90, elem_id="tc-page-size")
        page_info = gr.Markdown("", elem_id="tc-page-info")
    with gr.Row():
        with gr.Column(scale=3):
            records = text_list(elem_id="tc-list")
        with gr.Column(scale=1, min_width=280):
            gr.Markdown("#### Labels")
            label_pick = gr.CheckboxGroup([], label="Pick labels for the checked texts", elem_id="tc-label-pick")
            apply_btn = gr.Button("Apply to checked texts", variant="primary", elem_id="tc-apply")
            remove_btn = gr.Button("Remove picked labels from checked texts", elem_id="tc-remove")
            save_page_btn = gr.Button("Save Current Page", elem_id="tc-save-page")
            confirm_btn = gr.Button("Confirm checked texts (To Be Confirmed)", elem_id="tc-confirm")
            label_counts_md = gr.Markdown(elem_id="tc-label-counts")
            with gr.Group():
                add_name = gr.Textbox(label="New label", elem_id="tc-add-name")
                add_color = gr.ColorPicker(value="#3366ff", label="Color", elem_id="tc-add-color")
                add_btn = gr.Button("Add label", size="sm", elem_id="tc-add")
    with gr.Accordion("Label management", open=False, elem_id="tc-label-management"):
        labels_table = gr.Dataframe(interactive=False, label="Labels", elem_id="tc-labels-table")
        lm_label = gr.Dropdown([], label="Label", elem_id="tc-lm-label")
        with gr.Row():
            lm_new = gr.Textbox(label="New name", elem_id="tc-lm-new-name")
            lm_rename = gr.Button("Rename everywhere", elem_id="tc-lm-rename")
        with gr.Row():
            lm_color = gr.ColorPicker(value="#3366ff", label="New color", elem_id="tc-lm-color")
            lm_recolor = gr.Button("Change color", elem_id="tc-lm-recolor")
        with gr.Row():
            lm_mode = gr.Radio(DELETE_CHOICES, value=DELETE_CHOICES[0], label="Delete", elem_id="tc-lm-delete-mode")
            lm_delete = gr.Button("Delete the chosen label", variant="stop", elem_id="tc-lm-delete")
    data = build_data_panel(ctx, current_job, "text_classification", prefix="tc-")
    auto = build_autolabel_panel(ctx, current_job, "text_classification", prefix="tc")
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
        colors = {lab.name: lab.color for lab in job.label_set.labels}
        names = job.label_set.names()
        tabs = [(f"{v} ({c.total if k == 'all' else c.by_status[k]})", k) for k, v in TABS.items()]
        keep = [i for i in selected if i in {s.id for s in p.items}]
        lab_md = " · ".join(f"{esc(n)}: **{c.by_label.get(n, 0)}**" for n in names) or "No labels yet."
        return [
            f"### {esc(job.name)}\n{esc(job.labeling_type.title)} · {c.by_status['labeled']}/{c.total} labeled"
            " · click texts to check them, pick labels, Apply",
            gr.Radio(choices=tabs, value=tab_v or "all"),
            grid_value([with_prediction(list_item(s, colors), s) for s in p.items], keep),
            gr.Number(value=p.page),
            f"{p.total:,} texts · page {p.page} of {p.pages}",
            gr.CheckboxGroup(choices=names),
            f"**Labels** — {lab_md}",
            pd.DataFrame([(n, colors.get(n, ""), c.by_label.get(n, 0)) for n in names],
                         columns=["Label", "Color", "Texts"]),
            gr.Dropdown(choices=names, value=None),
            job.instructions or "_This job has no labeling instructions._",
        ]

    view_outputs = [header, tab, records, page_no, page_info, label_pick, label_counts_md, labels_table, lm_label,
                    description]

    def _no_picked_labels(out: list) -> list:
        i = view_outputs.index(label_pick)
        if isinstance(out[i], gr.CheckboxGroup):
            out[i] = gr.CheckboxGroup(choices=out[i].choices, value=[])
        return out

    def first_page(job_id, tab_v, page, size):
        return view(job_id, tab_v, 1, size)

    def step(delta):
        def go(job_id, tab_v, page, size):
            return view(job_id, tab_v, max(1, int(page or 1) + delta), size)
        return go

    def on_check_page(v):
        items = (v or {}).get("items", [])
        return grid_value(items, [it["id"] for it in items])

    def on_clear(v):
        return grid_value((v or {}).get("items", []), [])

    @user_errors
    def on_apply(request: gr.Request, v, labels, *args):
        ids = selected_ids(v)
        if not ids:
            raise UserError("check at least one text first")
        n = apply_labels(store, args[0], ids, list(labels or []), actor=ctx.actor(request))
        gr.Info(f"Labeled {n} texts")
        return _no_picked_labels(view(*args))  # the next texts start from no label

    @user_errors
    def on_confirm(request: gr.Request, v, *args):
        if args[0] is None:
            raise UserError("open a job first")
        n = confirm_samples(store, args[0], selected_ids(v), actor=ctx.actor(request))
        gr.Info(f"Confirmed {n} texts: they are Labeled")
        return view(*args)

    @user_errors
    def on_remove(request: gr.Request, v, labels, *args):
        if not labels:
            raise UserError("pick the labels to remove first")
        n = remove_labels(store, args[0], selected_ids(v), list(labels), actor=ctx.actor(request))
        gr.Info(f"Removed from {n} texts")
        return _no_picked_labels(view(*args, selected=selected_ids(v)))

    @user_errors
    def on_chip_remove(request: gr.Request, v, *args):
        req = remove_request(v)
        if req is None or args[0] is None:
            return [gr.skip()] * len(view_outputs)
        remove_labels(store, args[0], [req[0]], [req[1]], actor=ctx.actor(request))
        return view(*args, selected=selected_ids(v))

    @user_errors
    def on_save_page(request: gr.Request, v, *args):
        """Save the labels shown on this page as labeled by this user (To Be Confirmed ones are
        confirmed); unlabeled texts stay as they are."""
        if args[0] is None:
            raise UserError("open a job first")
        n = 0
        for it in (v or {}).get("items", []):
            names = [lab["name"] for lab in it.get("labels") or []]
            if names:
                set_labels(store, args[0], int(it["id"]), names, actor=ctx.actor(request))
                n += 1
        gr.Info(f"Saved {n} labeled texts of this page")
        return view(*args, selected=selected_ids(v))

    @user_errors
    def on_add(request: gr.Request, name, color, v, *args):
        if args[0] is None:
            raise UserError("open a job first")
        add_label(store, args[0], name, color or "", actor=ctx.actor(request))
        gr.Info(f"Label {esc(name.strip())} added")
        return view(*args, selected=selected_ids(v)) + [""]

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
    records.remove(on_chip_remove, [records] + view_inputs, view_outputs)
    save_page_btn.click(on_save_page, [records] + view_inputs, view_outputs)
    confirm_btn.click(on_confirm, [records] + view_inputs, view_outputs)
    add_btn.click(on_add, [add_name, add_color, records] + view_inputs, view_outputs + [add_name])
    add_name.submit(on_add, [add_name, add_color, records] + view_inputs, view_outputs + [add_name])
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

    return TextClassificationPage(view_outputs + [data.history] + auto.outputs, load)

