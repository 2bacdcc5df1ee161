"""Image classification labeling page (F3.1, F2.2-F2.5, F3.12): tabs, filters, thumbnails,
selection, batch labeling, preview, label management, add data, delete."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from components.autolabel_panel import build_autolabel_panel
from components.data_panel import build_data_panel, history_frame
from components.sample_grid import grid_value, preview_id, sample_grid, selected_ids
from store.annotations import add_label, apply_labels, delete_label, remove_labels, rename_label, set_labels
from store.errors import NotFound
from store.jobs import get_job
from store.predictions import confirm_samples
from store.samples import (TABS, SampleQuery, clusters, counts, delete_samples, get_sample, labelers,
                           query_samples, sample_image, set_hard)

from .common import AppContext, UserError, acting_user, esc, user_errors

PAGE_SIZES = [24, 48, 96]
HARD = {"All": None, "Hard examples": True, "Not hard": False}
ORIGIN = {"All": None, "From inference": True, "Not from inference": False}


@dataclass
class LabelingPage:
    header: gr.Markdown
    load_outputs: list
    load: Any  # (job_id) -> updates for load_outputs


def _query(tab, hard, labels, name, by, cluster, origin, hard_first, page, size) -> SampleQuery:
    return SampleQuery(status=tab or "all", labels=tuple(labels or ()), name=name or "", labeled_by=by or "",
                       hard=HARD.get(hard), cluster=cluster or "", from_inference=ORIGIN.get(origin),
                       hard_first=bool(hard_first), page=int(page or 1), page_size=int(size or 48))


def _items(page) -> list[dict]:
    return [{"id": s.id, "name": s.name, "thumb": f"/media/{s.id}/thumb", "labels": s.labels, "hard": s.hard,
             "status": s.status} for s in page.items]


def build(ctx: AppContext, current_job: gr.State) -> LabelingPage:
    store = ctx.store
    with gr.Row():
        header = gr.Markdown("Pick a job in My Creations, then press Label.", elem_id="label-header")
        describe_btn = gr.Button("Labeling Description", size="sm", scale=0, elem_id="describe-btn")
    description = gr.Markdown(visible=False, elem_id="labeling-description", elem_classes=["lp-description"])
    tab = gr.Radio([(v, k) for k, v in TABS.items()], value="all", label="Status", elem_id="status-tabs")
    with gr.Accordion("Filters", open=False, elem_id="filters"):
        with gr.Row():
            f_hard = gr.Radio(list(HARD), value="All", label="Hard example")
            f_labels = gr.Dropdown([], multiselect=True, label="Label (any of)", elem_id="filter-labels")
            f_name = gr.Textbox(label="File name or path contains", elem_id="filter-name")
        with gr.Row():
            f_by = gr.Dropdown([("Anyone", "")], value="", label="Labeled by")
            f_cluster = gr.Dropdown([("All", "")], value="", label="Sample attribute (cluster)")
            f_origin = gr.Radio(list(ORIGIN), value="All", label="Data attribute")
            f_hard_first = gr.Checkbox(label="Hard examples first")
        filter_btn = gr.Button("Apply filters", size="sm", elem_id="filter-apply")
    with gr.Row(elem_id="grid-toolbar"):
        select_page_btn = gr.Button("Select page", size="sm", scale=0, min_width=110, elem_id="select-page")
        clear_btn = gr.Button("Clear selection", size="sm", scale=0, min_width=120, elem_id="clear-selection")
        selection_info = gr.Markdown("0 selected", elem_id="selection-info")
        prev_btn = gr.Button("◀ Previous", size="sm", scale=0, min_width=100, elem_id="prev-page")
        page_no = gr.Number(value=1, precision=0, minimum=1, label="Page", elem_id="page-number", scale=0,
                            min_width=90)
        next_btn = gr.Button("Next ▶", size="sm", scale=0, min_width=90, elem_id="next-page")
        page_size = gr.Dropdown(PAGE_SIZES, value=48, label="Per page", scale=0, min_width=90)
        page_info = gr.Markdown("", elem_id="page-info")
    with gr.Row():
        with gr.Column(scale=3):
            grid = sample_grid()
        with gr.Column(scale=1, min_width=280):
            gr.Markdown("#### Label the selected images")
            label_pick = gr.Dropdown([], label="Label (pick one or type a new one)", allow_custom_value=True,
                                     multiselect=True, elem_id="label-pick")
            apply_btn = gr.Button("Apply label", variant="primary", interactive=False, elem_id="apply-label")
            remove_btn = gr.Button("Remove these labels from selected", interactive=False, elem_id="remove-label")
            confirm_btn = gr.Button("Confirm selected", interactive=False, elem_id="confirm-selected")
            with gr.Row():
                hard_btn = gr.Button("Mark hard", size="sm", interactive=False, elem_id="mark-hard")
                unhard_btn = gr.Button("Unmark hard", size="sm", interactive=False, elem_id="unmark-hard")
            label_counts_md = gr.Markdown(elem_id="label-counts")
            with gr.Accordion("Delete selected", open=False, elem_id="delete-panel"):
                del_source = gr.Checkbox(label="Also delete the source files from storage", elem_id="delete-source")
                del_confirm = gr.Checkbox(
                    label="I understand: deleting source files cannot be undone and may affect other "
                          "datasets, jobs or versions that use them", visible=False, elem_id="delete-source-confirm")
                delete_btn = gr.Button("Delete selected", variant="stop", interactive=False, elem_id="delete-selected")
    with gr.Accordion("Preview", open=False, elem_id="preview") as preview_box:
        with gr.Row():
            preview_img = gr.Image(label="Sample", interactive=False, height=360, elem_id="preview-image")
            with gr.Column():
                preview_info = gr.Markdown(elem_id="preview-info")
                preview_labels = gr.Dropdown([], multiselect=True, allow_custom_value=True, label="Labels of this image",
                                             elem_id="preview-labels")
                preview_save = gr.Button("Save labels of this image", elem_id="preview-save")
    preview_id_state = gr.State(None)
    with gr.Accordion("Label management", open=False, elem_id="label-management"):
        labels_table = gr.Dataframe(interactive=False, label="Labels", elem_id="labels-table")
        with gr.Row():
            lm_old = gr.Dropdown([], label="Label", elem_id="lm-label")
            lm_new = gr.Textbox(label="New name", elem_id="lm-new-name")
            lm_rename = gr.Button("Rename everywhere", elem_id="lm-rename")
        with gr.Row():
            lm_add = gr.Textbox(label="Add a label", elem_id="lm-add-name")
            lm_add_btn = gr.Button("Add label", elem_id="lm-add")
            lm_delete = gr.Button("Delete the chosen label everywhere", variant="stop", elem_id="lm-delete")
    data = build_data_panel(ctx, current_job, "image_classification")
    auto = build_autolabel_panel(ctx, current_job, "image_classification")

    # wiring ---------------------------------------------------------------------------------
    view_inputs = [current_job, tab, f_hard, f_labels, f_name, f_by, f_cluster, f_origin, f_hard_first, page_no,
                   page_size]

    def view(job_id, tab_v, hard, labels, name, by, cluster, origin, hard_first, page, size, selected=()):
        """Everything the page shows for the current view."""
        if job_id is None:
            return [gr.skip()] * len(view_outputs)
        try:
            job = get_job(store, job_id, actor=acting_user())
        except NotFound:
            return ["This job no longer exists: pick another one in My Creations."] + [gr.skip()] * (
                len(view_outputs) - 1)
        c = counts(store, job_id, actor=acting_user())
        q = _query(tab_v, hard, labels, name, by, cluster, origin, hard_first, page, size)
        p = query_samples(store, job_id, q, actor=acting_user())
        names = job.label_set.names()
        tabs = [(f"{v} ({c.total if k == 'all' else c.by_status[k]})", k) for k, v in TABS.items()]
        lab_md = " · ".join(f"{esc(n)}: **{c.by_label.get(n, 0)}**" for n in names) or "No labels yet."
        keep = [i for i in selected if i in {s.id for s in p.items}]
        return [
            f"### {esc(job.name)}\n{esc(job.labeling_type.title)} · {c.by_status['labeled']}/{c.total} labeled"
            + (f" · {esc(job.description)}" if job.description else ""),
            gr.Radio(choices=tabs, value=tab_v or "all"),
            gr.Dropdown(choices=names, value=[v for v in (labels or []) if v in names]),
            gr.Dropdown(choices=[("Anyone", "")] + [(u, u) for u in labelers(store, job_id, actor=acting_user())]),
            gr.Dropdown(choices=[("All", "")] + [(x, x) for x in clusters(store, job_id, actor=acting_user())]),
            grid_value(_items(p), keep),
            gr.Number(value=p.page),
            f"{p.total:,} samples · page {p.page} of {p.pages}",
            gr.Dropdown(choices=names),
            f"**Labels** — {lab_md}",
            pd.DataFrame([(n, c.by_label.get(n, 0)) for n in names], columns=["Label", "Samples"]),
            gr.Dropdown(choices=names, value=None),
            gr.Dropdown(choices=names),
            job.instructions or "_This job has no labeling instructions._",
        ] + _selection_updates(keep)

    view_outputs = [header, tab, f_labels, f_by, f_cluster, grid, page_no, page_info, label_pick, label_counts_md,
                    labels_table, lm_old, preview_labels, description, selection_info, apply_btn, remove_btn,
                    hard_btn, unhard_btn, delete_btn, confirm_btn]

    def refresh(*args):
        return view(*args)

    def refresh_keep(grid_v, *args):
        return view(*args, selected=selected_ids(grid_v))

    def first_page(*args):
        args = list(args)
        args[9] = 1
        return view(*args)

    def step(delta):
        def go(*args):
            args = list(args)
            args[9] = max(1, int(args[9] or 1) + delta)
            return view(*args)
        return go

    def on_grid_change(grid_v):
        return _selection_updates(selected_ids(grid_v))

    def on_select_page(grid_v):
        items = (grid_v or {}).get("items", [])
        return [grid_value(items, [it["id"] for it in items])] + _selection_updates([it["id"] for it in items])

    def on_clear(grid_v):
        return [grid_value((grid_v or {}).get("items", []), [])] + _selection_updates([])

    @user_errors
    def on_apply(request: gr.Request, grid_v, labels, *args):
        ids = selected_ids(grid_v)
        n = apply_labels(store, args[0], ids, list(labels or []), actor=ctx.actor(request))
        gr.Info(f"Labeled {n} images")
        return _empty_label_box(view(*args))  # the next selection starts from no label

    @user_errors
    def on_confirm_selected(request: gr.Request, grid_v, *args):
        n = confirm_samples(store, args[0], selected_ids(grid_v), actor=ctx.actor(request))
        gr.Info(f"Confirmed {n} images: they are Labeled")
        return view(*args)

    @user_errors
    def on_remove(request: gr.Request, grid_v, labels, *args):
        if not labels:
            raise UserError("choose the labels to remove in the label box first")
        n = remove_labels(store, args[0], selected_ids(grid_v), list(labels), actor=ctx.actor(request))
        gr.Info(f"Removed from {n} images")
        return _empty_label_box(view(*args))

    def hard_marker(flag):
        @user_errors
        def mark(request: gr.Request, grid_v, *args):
            set_hard(store, args[0], selected_ids(grid_v), flag, actor=ctx.actor(request))
            return view(*args, selected=selected_ids(grid_v))
        return mark

    @user_errors
    def on_delete(request: gr.Request, grid_v, source, confirmed, *args):
        ids = selected_ids(grid_v)
        if source and not confirmed:
            raise UserError("deleting source files cannot be undone: tick the confirmation box first")
        res = delete_samples(store, args[0], ids, delete_source=bool(source), actor=ctx.actor(request))
        msg = f"Deleted {res.removed} samples" + (f" and {res.files_deleted} files" if source else "")
        if res.errors:
            gr.Warning(msg + f"; {len(res.errors)} files could not be deleted: {res.errors[0]}")
        else:
            gr.Info(msg)
        return view(*args) + [False, False]

    @user_errors
    def on_preview(job_id, grid_v):
        sid = preview_id(grid_v)
        if sid is None or job_id is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        s = get_sample(store, job_id, sid, actor=acting_user())
        try:
            image = sample_image(store, sid, actor=acting_user())
        except Exception as e:  # a file that vanished or broke since import: say so, keep going
            image = None
            gr.Warning(f"{s.name} cannot be shown: {esc(e)}")
        meta = s.meta or {}
        who = (f"Labeled by **{esc(s.labeled_by)}** on {s.labeled_at:%Y-%m-%d %H:%M}" if s.labeled_by and s.labeled_at
               else "Not labeled yet" if not s.labels else "Labeled")
        info = (f"**{esc(s.name)}**  \n`{esc(s.path)}`  \n{meta.get('width', '?')}×{meta.get('height', '?')} px, "
                f"{esc(meta.get('mode', ''))}  \nStatus: {s.status.replace('_', ' ')}  \n{who}"
                + (f"  \nPredicted by {esc(s.model or 'a model')} with confidence {s.confidence:.2f}"
                   if s.confidence is not None else "")
                + (f"  \nHard example ({s.hard_coefficient or 0:.2f}): {esc(s.hard_reason)}" if s.hard else ""))
        return image, info, gr.Dropdown(value=s.labels), sid, gr.Accordion(open=True)

    @user_errors
    def on_preview_save(request: gr.Request, sid, labels, *args):
        if sid is None:
            raise UserError("open a sample in the preview first")
        set_labels(store, args[0], sid, list(labels or []), actor=ctx.actor(request))
        gr.Info("Saved")
        return view(*args)

    @user_errors
    def on_rename(request: gr.Request, old, new, *args):
        if not old:
            raise UserError("choose the label to rename")
        n = rename_label(store, args[0], old, new, actor=ctx.actor(request))
        gr.Info(f"Renamed on {n} samples")
        return _empty_label_box(view(*args)) + [""]

    @user_errors
    def on_delete_label(request: gr.Request, old, *args):
        if not old:
            raise UserError("choose the label to delete")
        n = delete_label(store, args[0], old, actor=ctx.actor(request))
        gr.Info(f"Deleted the label from {n} samples")
        return _empty_label_box(view(*args))

    def _empty_label_box(out: list) -> list:
        """After a rename or delete the label box must not keep the old name: Apply label would
        quietly add it back to the label set."""
        i = view_outputs.index(label_pick)
        if isinstance(out[i], gr.Dropdown):
            out[i] = gr.Dropdown(choices=out[i].choices, value=[])
        return out

    @user_errors
    def on_add_label(request: gr.Request, name, *args):
        add_label(store, args[0], name, actor=ctx.actor(request))
        return view(*args) + [""]

    def on_describe(visible_now):
        return gr.Markdown(visible=not visible_now), not visible_now

    described = gr.State(False)
    sel_outputs = [selection_info, apply_btn, remove_btn, hard_btn, unhard_btn, delete_btn, confirm_btn]
    for comp in (tab, f_hard, f_origin, f_hard_first, page_size):
        comp.change(first_page, view_inputs, view_outputs)
    for comp in (f_labels, f_by, f_cluster):
        comp.input(first_page, view_inputs, view_outputs)
    f_name.submit(first_page, view_inputs, view_outputs)
    filter_btn.click(first_page, view_inputs, view_outputs)
    page_no.submit(refresh, view_inputs, view_outputs)
    prev_btn.click(step(-1), view_inputs, view_outputs)
    next_btn.click(step(1), view_inputs, view_outputs)
    grid.change(on_grid_change, [grid], sel_outputs)
    grid.preview(on_preview, [current_job, grid], [preview_img, preview_info, preview_labels, preview_id_state,
                                                   preview_box])
    select_page_btn.click(on_select_page, [grid], [grid] + sel_outputs)
    clear_btn.click(on_clear, [grid], [grid] + sel_outputs)
    apply_btn.click(on_apply, [grid, label_pick] + view_inputs, view_outputs)
    remove_btn.click(on_remove, [grid, label_pick] + view_inputs, view_outputs)
    confirm_btn.click(on_confirm_selected, [grid] + view_inputs, view_outputs)
    hard_btn.click(hard_marker(True), [grid] + view_inputs, view_outputs)
    unhard_btn.click(hard_marker(False), [grid] + view_inputs, view_outputs)
    del_source.change(lambda v: gr.Checkbox(visible=v, value=False), [del_source], [del_confirm])
    delete_btn.click(on_delete, [grid, del_source, del_confirm] + view_inputs, view_outputs + [del_source, del_confirm])
    preview_save.click(on_preview_save, [preview_id_state, preview_labels] + view_inputs, view_outputs)
    lm_rename.click(on_rename, [lm_old, lm_new] + view_inputs, view_outputs + [lm_new])
    lm_delete.click(on_delete_label, [lm_old] + view_inputs, view_outputs)
    lm_add_btn.click(on_add_label, [lm_add] + view_inputs, view_outputs + [lm_add])
    describe_btn.click(on_describe, [described], [description, described])
    for event in data.events:  # after an import the view shows the new samples and counts
        event.success(refresh, view_inputs, view_outputs)
    for event in auto.events:  # a finished run, a bulk confirm or discard: counts and tabs change
        event.success(refresh, view_inputs, view_outputs)

    def load(job_id):
        """Open a job on this page: first tab, first page, no filters."""
        base = view(job_id, "all", "All", [], "", "", "", "All", False, 1, 48)
        return base + [history_frame(ctx, job_id)] + auto.load(job_id)

    return LabelingPage(header, view_outputs + [data.history] + auto.outputs, load)


def _selection_updates(ids: list[int]) -> list:
    on = bool(ids)
    return [f"**{len(ids)}** selected", gr.Button(interactive=on), gr.Button(interactive=on),
            gr.Button(interactive=on), gr.Button(interactive=on), gr.Button(interactive=on),
            gr.Button(interactive=on)]
