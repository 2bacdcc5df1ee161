"""The span labeling page shared by named entity recognition (F3.6) and text triplet (F3.7): the
records of the view on the left (paged, tabs with counts), the span picker for the open record,
Save (Ctrl+S) / previous / next, label management, Labeling Description, Add data / Export."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from components.autolabel_panel import build_autolabel_panel
from components.data_panel import build_data_panel, history_frame
from components.span_picker import annotation_of, picker_value, span_picker
from components.text_list import grid_value, list_item, preview_id, text_list
from store.annotations import clear_annotation, set_annotation
from store.errors import NotFound
from store.jobs import get_job
from store.predictions import confirm_samples
from store.samples import TABS, SampleQuery, counts, get_sample, query_samples

from .label_actions import LabelActions, delete_choices
from .common import AppContext, UserError, acting_user, esc, keep_unsaved, refuse_if_unsaved, user_errors

PAGE_SIZE = 20
DELETE_CHOICES = delete_choices("texts")


@dataclass
class SpansPage:
    load_outputs: list
    load: Any  # (job_id) -> updates


def _colors(job) -> dict[str, str]:
    ls = job.label_set
    return {x.name: x.color for x in [*ls.labels, *ls.entities, *ls.relations]}


def build(ctx: AppContext, current_job: gr.State, type_id: str) -> SpansPage:
    store = ctx.store
    triplet = type_id == "text_triplet"
    prefix = "tt" if triplet else "ner"
    mode = "triplet" if triplet else "ner"
    with gr.Row():
        header = gr.Markdown("Pick a job in My Creations, then press Label.", elem_id=f"{prefix}-header")
        describe_btn = gr.Button("Labeling Description", size="sm", scale=0, elem_id=f"{prefix}-describe")
    description = gr.Markdown(visible=False, elem_id=f"{prefix}-description", elem_classes=["lp-description"])
    tab = gr.Radio([(v, k) for k, v in TABS.items()], value="all", label="Status", elem_id=f"{prefix}-tabs")
    with gr.Row():
        with gr.Column(scale=2, min_width=260):
            records = text_list(open_on_click=True, elem_id=f"{prefix}-list")
            with gr.Row():
                prev_page = gr.Button("◀", size="sm", min_width=40, elem_id=f"{prefix}-prev-page")
                page_info = gr.Markdown("", elem_id=f"{prefix}-page-info")
                next_page = gr.Button("▶", size="sm", min_width=40, elem_id=f"{prefix}-next-page")
        with gr.Column(scale=3):
            picker = span_picker(elem_id=f"{prefix}-picker")
            with gr.Row():
                save_btn = gr.Button("Save (Ctrl+S)", variant="primary", scale=0, min_width=130,
                                     elem_id=f"{prefix}-save")
                prev_btn = gr.Button("◀ Previous", scale=0, min_width=110, elem_id=f"{prefix}-prev")
                next_btn = gr.Button("Next ▶", scale=0, min_width=100, elem_id=f"{prefix}-next")
                discard_btn = gr.Button("Discard changes", scale=0, min_width=130, elem_id=f"{prefix}-discard")
                clear_btn = gr.Button("Delete Labels on Current Item", variant="stop", scale=0, min_width=200,
                                      elem_id=f"{prefix}-clear")
                confirm_btn = gr.Button("Confirm", scale=0, min_width=100, visible=not triplet,
                                        elem_id=f"{prefix}-confirm")
            sample_info = gr.Markdown(elem_id=f"{prefix}-sample-info")
    with gr.Accordion("Label management", open=False, elem_id=f"{prefix}-label-management"):
        labels_table = gr.Dataframe(interactive=False, label="Labels", elem_id=f"{prefix}-labels-table")
        lm_label = gr.Dropdown([], label="Label", elem_id=f"{prefix}-lm-label")
        with gr.Row():
            lm_new = gr.Textbox(label="New name", elem_id=f"{prefix}-lm-new-name")
            lm_rename = gr.Button("Rename everywhere", elem_id=f"{prefix}-lm-rename")
        with gr.Row():
            lm_color = gr.ColorPicker(value="#3366ff", label="New color", elem_id=f"{prefix}-lm-color")
            lm_recolor = gr.Button("Change color", elem_id=f"{prefix}-lm-recolor")
        with gr.Row():
            lm_mode = gr.Radio(DELETE_CHOICES, value=DELETE_CHOICES[0], label="Delete",
                               elem_id=f"{prefix}-lm-delete-mode")
            lm_delete = gr.Button("Delete the chosen label", variant="stop", elem_id=f"{prefix}-lm-delete")
        with gr.Row(visible=not triplet):
            add_name = gr.Textbox(label="Add a label", elem_id=f"{prefix}-add-name")
            add_color = gr.ColorPicker(value="#3366ff", label="Color", elem_id=f"{prefix}-add-color")
            add_btn = gr.Button("Add label", elem_id=f"{prefix}-add")
        if triplet:
            gr.Markdown("Entity labels defined when the job was created cannot be deleted.")
    data = build_data_panel(ctx, current_job, type_id, prefix=f"{prefix}-")
    auto = build_autolabel_panel(ctx, current_job, type_id, prefix=prefix)
    page_state = gr.State(1)
    described = gr.State(False)

    # wiring ---------------------------------------------------------------------------------
    def page_of(job_id, tab_v, page):
        return query_samples(store, job_id, SampleQuery(status=tab_v or "all", page=int(page or 1),
                                                        page_size=PAGE_SIZE), actor=acting_user())

    def picker_for(job, sample_id, message=None):
        s = get_sample(store, job.id, sample_id, actor=acting_user())
        ls = job.label_set
        labels = ls.entities if triplet else ls.labels
        value = picker_value(sample_id, s.text, s.annotation, labels, ls.relations, mode=mode, message=message)
        who = (f"labeled by **{esc(s.labeled_by)}** on {s.labeled_at:%Y-%m-%d %H:%M}" if s.labeled_by and s.labeled_at
               else "not labeled yet")
        pred = (f" · predicted by {esc(s.model or 'a model')} with confidence {s.confidence:.2f}"
                if s.confidence is not None else "")
        return value, (f"**{esc(s.name)}** · {len(s.text or '')} characters · {s.status.replace('_', ' ')} · {who}"
                       + pred)

    def label_rows(job, c):
        ls = job.label_set
        if triplet:
            rows = [("entity", e.name, e.color, "", "", c.by_label.get(e.name, 0)) for e in ls.entities]
            rows += [("relationship", r.name, r.color, r.source, r.target, c.by_label.get(r.name, 0))
                     for r in ls.relations]
            return pd.DataFrame(rows, columns=["Kind", "Label", "Color", "Source", "Target", "Texts"]), \
                [x[1] for x in rows]
        names = ls.names()
        return pd.DataFrame([(n, lab.color, c.by_label.get(n, 0)) for n, lab in zip(names, ls.labels)],
                            columns=["Label", "Color", "Texts"]), names

    def view(job_id, tab_v, page, open_id=None, message=None):
        if job_id is None:
            return [gr.skip()] * len(view_outputs)
        try:
            job = get_job(store, job_id, actor=acting_user())
        except NotFound:
            return ["This job no longer exists: pick another one in My Creations."] + [gr.skip()] * (
                len(view_outputs) - 1)
        c = counts(store, job_id, actor=acting_user())
        p = page_of(job_id, tab_v, page)
        if open_id is None and p.items:
            open_id = p.items[0].id
        tabs = [(f"{v} ({c.total if k == 'all' else c.by_status[k]})", k) for k, v in TABS.items()]
        head = (f"### {esc(job.name)}\n{esc(job.labeling_type.title)} · {c.by_status['labeled']}/{c.total} labeled"
                " · select text, press 1-9 for a label, Ctrl+S saves")
        colors = _colors(job)
        items = [list_item(s, colors, removable=False) for s in p.items]
        if open_id is not None:
            value, info = picker_for(job, open_id, message)
        else:
            ls = job.label_set
            value = picker_value(None, "", None, ls.entities if triplet else ls.labels, ls.relations, mode=mode)
            info = "No record in this view."
        frame, names = label_rows(job, c)
        return [head, gr.Radio(choices=tabs, value=tab_v or "all"), grid_value(items, [open_id] if open_id else [], open_on_click=True),
                f"page {p.page} of {p.pages} · {p.total:,} texts", value, info, p.page, frame,
                gr.Dropdown(choices=names, value=None),
                job.instructions or "_This job has no labeling instructions._"]

    view_outputs = [header, tab, records, page_info, picker, sample_info, page_state, labels_table, lm_label,
                    description]

    def load(job_id, sample_id=None):  # sample_id: a deep link's (pages/links.py checked it is the job's)
        return view(job_id, "all", 1, open_id=sample_id) + [history_frame(ctx, job_id)] + auto.load(job_id)

    def _dirty(value) -> bool:
        return isinstance(value, dict) and bool(value.get("dirty"))

    EDITOR = (picker, sample_info)  # what keep_unsaved leaves alone

    @user_errors
    def on_filter(job_id, tab_v, value):
        if job_id is None:
            return [gr.skip()] * len(view_outputs)
        return keep_unsaved(view(job_id, tab_v, 1, open_id=_open_if_dirty(value)), view_outputs, EDITOR,
                            _dirty(value))

    def pager(delta):
        @user_errors
        def go(job_id, tab_v, page, value):
            if job_id is None:
                return [gr.skip()] * len(view_outputs)
            return keep_unsaved(view(job_id, tab_v, max(1, int(page or 1) + delta), open_id=_open_if_dirty(value)),
                                view_outputs, EDITOR, _dirty(value))
        return go

    def _open_if_dirty(value):
        return int(value["sample_id"]) if _dirty(value) and value.get("sample_id") is not None else None

    @user_errors
    def on_open(job_id, list_v, value):
        sid = preview_id(list_v)
        if job_id is None or sid is None:
            return [gr.skip()] * 3
        refuse_if_unsaved(_dirty(value) and value.get("sample_id") != sid, "text")
        v, info = picker_for(get_job(store, job_id, actor=acting_user()), sid)
        return [v, info, list_v]

    def _neighbour(job_id, tab_v, page, sample_id, step):
        p = page_of(job_id, tab_v, page)
        ids = [s.id for s in p.items]
        if sample_id in ids:
            i = ids.index(sample_id) + step
            if 0 <= i < len(ids):
                return ids[i], p.page
        target = p.page + step
        if 1 <= target <= p.pages:
            q = page_of(job_id, tab_v, target)
            if q.items:
                return (q.items[0].id if step > 0 else q.items[-1].id), q.page
        return None, p.page

    def mover(step):
        @user_errors
        def go(job_id, tab_v, page, value):
            if job_id is None:
                return [gr.skip()] * len(view_outputs)
            refuse_if_unsaved(_dirty(value), "text")
            sid = value.get("sample_id") if isinstance(value, dict) else None
            target, new_page = _neighbour(job_id, tab_v, page, sid, step)
            if target is None:
                gr.Info("This is the " + ("last" if step > 0 else "first") + " text of the view")
                return view(job_id, tab_v, page, open_id=sid)
            return view(job_id, tab_v, new_page, open_id=target)
        return go

    @user_errors
    def on_save(request: gr.Request, job_id, tab_v, page, value):
        if job_id is None or not isinstance(value, dict) or value.get("sample_id") is None:
            raise UserError("open a text first")
        sid = int(value["sample_id"])
        ann = annotation_of(value)
        set_annotation(store, job_id, sid, ann, actor=ctx.actor(request))
        n = len(ann.get("entities", ann.get("spans", [])))
        msg = (f"Saved {n} {'entities' if triplet else 'spans'}"
               + (f" and {len(ann['relations'])} relations" if triplet else "")) if n else \
            "Saved: nothing left, the text is back in Unlabeled"
        gr.Info(msg)
        return view(job_id, tab_v, page, open_id=sid, message=msg)

    @user_errors
    def on_discard(job_id, tab_v, page, value):
        if job_id is None:
            return [gr.skip()] * len(view_outputs)
        sid = value.get("sample_id") if isinstance(value, dict) else None
        return view(job_id, tab_v, page, open_id=sid)

    @user_errors
    def on_clear(request: gr.Request, job_id, tab_v, page, value):
        sid = value.get("sample_id") if isinstance(value, dict) else None
        if job_id is None or sid is None:
            raise UserError("open a text first")
        clear_annotation(store, job_id, int(sid), actor=ctx.actor(request))
        gr.Info("Deleted the labels of this text")
        return view(job_id, tab_v, page, open_id=int(sid), message="Labels deleted")

    @user_errors
    def on_confirm(request: gr.Request, job_id, tab_v, page, value):
        sid = value.get("sample_id") if isinstance(value, dict) else None
        if job_id is None or sid is None:
            raise UserError("open a text first")
        if _dirty(value):
            raise UserError("this text has unsaved changes: Save them (saving confirms the text too)")
        confirm_samples(store, job_id, [int(sid)], actor=ctx.actor(request))
        gr.Info("Confirmed: the text is Labeled")
        return view(job_id, tab_v, page, open_id=int(sid), message="Confirmed")

    def on_auto_done(job_id, tab_v, page, value):
        """After a finished run, a bulk confirm or discard; a text with unsaved changes keeps them."""
        if job_id is None:
            return [gr.skip()] * len(view_outputs)
        sid = value.get("sample_id") if isinstance(value, dict) else None
        return keep_unsaved(view(job_id, tab_v, page, open_id=sid), view_outputs, EDITOR, _dirty(value))

    def _label_action(fn):
        @user_errors
        def act(request: gr.Request, *args):
            *own, job_id, tab_v, page, value = args
            if job_id is None:
                raise UserError("open a job first")
            refuse_if_unsaved(_dirty(value), "text")  # the editor's spans name the labels
            fn(ctx.actor(request), job_id, *own)
            sid = value.get("sample_id") if isinstance(value, dict) else None
            return view(job_id, tab_v, page, open_id=sid) + [""]
        return act

    labels_ = LabelActions(store, "texts")

    inputs = [current_job, tab, page_state, picker]
    tab.input(on_filter, [current_job, tab, picker], view_outputs)
    prev_page.click(pager(-1), inputs, view_outputs)
    next_page.click(pager(1), inputs, view_outputs)
    records.preview(on_open, [current_job, records, picker], [picker, sample_info, records])
    picker.save(on_save, inputs, view_outputs)
    save_btn.click(on_save, inputs, view_outputs)
    prev_btn.click(mover(-1), inputs, view_outputs)
    next_btn.click(mover(1), inputs, view_outputs)
    discard_btn.click(on_discard, inputs, view_outputs)
    clear_btn.click(on_clear, inputs, view_outputs)
    confirm_btn.click(on_confirm, inputs, view_outputs)
    lm_rename.click(_label_action(labels_.rename), [lm_label, lm_new] + inputs, view_outputs + [lm_new])
    lm_recolor.click(_label_action(labels_.recolor), [lm_label, lm_color] + inputs, view_outputs + [lm_new])
    lm_delete.click(_label_action(labels_.delete), [lm_label, lm_mode] + inputs, view_outputs + [lm_new])
    add_btn.click(_label_action(labels_.add), [add_name, add_color] + inputs, view_outputs + [add_name])
    describe_btn.click(lambda shown: (gr.Markdown(visible=not shown), not shown), [described],
                       [description, described])
    for event in data.events:
        event.success(on_discard, inputs, view_outputs)
    for event in auto.events:
        event.success(user_errors(on_auto_done), inputs, view_outputs)
    return SpansPage(view_outputs + [data.history] + auto.outputs, load)
