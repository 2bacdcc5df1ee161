"""The span widget page: one page for named entity recognition (F3.6) and text triplet (F3.7),
filled per job (triplets: entity labels and relations, no Confirm, no Add label row).

The records of the view on the left (paged, status tabs with counts), the span picker for the
open record on the right (select text, a label key or button; triplets: entities and the
relations between them), Save (Ctrl+S) / Previous / Next / Discard / Delete labels / Confirm.
Opening another record with unsaved spans is refused (pages/common.py's one guard); changing the
tab or the page keeps the open record and its changes. Label management, Labeling Description,
Add data / Export and Auto labeling come from the labeling view (base.py)."""
from __future__ import annotations

import gradio as gr
import pandas as pd

from components.span_picker import annotation_of, picker_value, span_picker
from components.text_list import grid_value, list_item, preview_id, text_list
from store.annotations import clear_annotation, set_annotation
from store.predictions import confirm_samples
from store.samples import get_sample
from store.access import reads_only
from store.types import REGISTRY

from ..common import AppContext, UserError, acting_user, esc, keep_unsaved, refuse_if_unsaved, user_errors
from .base import LabelingView, header_text, instructions, page_types, skips, status_tabs
from .versions import VersionPanel, expected_version, span_changes

PAGE_SIZE = 20
SPAN_TYPES = page_types("pages.text_spans")
TRIPLET_NOTE = "Entity labels defined when the job was created cannot be deleted."


def is_triplet(job) -> bool:
    """Entities and relations (text triplet) rather than labeled spans (named entity recognition):
    the type's label rules say so (store/types)."""
    return REGISTRY[job.type].rules.entities_relations


def _dirty(value) -> bool:
    return isinstance(value, dict) and bool(value.get("dirty"))


def _open_id(value):
    """The record the picker holds, or None."""
    sid = value.get("sample_id") if isinstance(value, dict) else None
    return int(sid) if sid is not None else None


def compare_spans(job, value, theirs: dict) -> list[list]:
    """Compare after a conflict: the picker's spans (entities, relations) beside the newer version's."""
    text = value.get("text") or "" if isinstance(value, dict) else ""
    return span_changes(text, annotation_of(value), theirs)


class SpansPage(LabelingView):
    noun = "texts"
    hint = "select text, press 1-9 for a label, Ctrl+S saves"

    def __init__(self, ctx: AppContext, current_job: gr.State, type_ids: tuple[str, ...] = SPAN_TYPES):
        # one page for both span types: what differs (labels or entities and relations, Confirm,
        # the Add label row) comes with the job (view())
        super().__init__(ctx, current_job, type_ids[0], "spans", type_ids=type_ids)
        self.versions = VersionPanel(self, compare=compare_spans)
        self.build_header()
        self.build_tabs()
        with gr.Row():
            with gr.Column(scale=2, min_width=260):
                self._build_list()
            with gr.Column(scale=3):
                self._build_editor()
        self.build_label_management(add=True, note=TRIPLET_NOTE)
        self.build_panels()
        self.page_state = gr.State(1)
        self.inputs = [current_job, self.tab, self.page_state, self.picker]
        self.outputs = [self.header, self.tab, self.records, self.page_info, self.picker, self.sample_info,
                        self.page_state, self.labels_table, self.lm_label, self.description,
                        self.confirm_btn, self.add_row, self.lm_note] + self.versions.outputs
        self.editor = (self.picker, self.sample_info, *self.versions.outputs)  # what keep_unsaved leaves alone
        self._wire()

    def _build_list(self) -> None:
        self.records = text_list(open_on_click=True, elem_id=self.eid("list"))
        with gr.Row():
            self.prev_page = gr.Button("◀", size="sm", min_width=40, elem_id=self.eid("prev-page"))
            self.page_info = gr.Markdown("", elem_id=self.eid("page-info"))
            self.next_page = gr.Button("▶", size="sm", min_width=40, elem_id=self.eid("next-page"))

    def _build_editor(self) -> None:
        self.picker = span_picker(elem_id=self.eid("picker"))
        with gr.Row():
            self.save_btn = gr.Button("Save (Ctrl+S)", variant="primary", scale=0, min_width=130,
                                      elem_id=self.eid("save"))
            self.prev_btn = gr.Button("◀ Previous", scale=0, min_width=110, elem_id=self.eid("prev"))
            self.next_btn = gr.Button("Next ▶", scale=0, min_width=100, elem_id=self.eid("next"))
            self.discard_btn = gr.Button("Discard changes", scale=0, min_width=130, elem_id=self.eid("discard"))
            self.clear_btn = gr.Button("Delete Labels on Current Item", variant="stop", scale=0, min_width=200,
                                       elem_id=self.eid("clear"))
            self.confirm_btn = gr.Button("Confirm", scale=0, min_width=100, elem_id=self.eid("confirm"))
        self.sample_info = gr.Markdown(elem_id=self.eid("sample-info"))
        self.versions.build_notices()
        self.versions.build_history()

    def _wire(self) -> None:
        inputs, outputs = self.inputs, self.outputs
        self.tab.input(self.on_filter, [self.current_job, self.tab, self.picker], outputs)
        self.prev_page.click(self.previous_page, inputs, outputs)
        self.next_page.click(self.next_page_, inputs, outputs)
        self.records.preview(self.on_open, [self.current_job, self.records, self.picker],
                             [self.picker, self.sample_info, self.records] + self.versions.outputs)
        self.picker.save(self.on_save, inputs + [self.versions.opened], outputs)
        self.save_btn.click(self.on_save, inputs + [self.versions.opened], outputs)
        self.versions.wire(self.on_discard, inputs, self.on_save, inputs, outputs, mine=self.picker)
        self.prev_btn.click(self.previous_text, inputs, outputs)
        self.next_btn.click(self.next_text, inputs, outputs)
        self.discard_btn.click(self.on_discard, inputs, outputs)
        self.clear_btn.click(self.on_clear, inputs + [self.versions.opened], outputs)
        self.confirm_btn.click(self.on_confirm, inputs, outputs)
        self.wire_shared(self.on_refresh)

    # -- the view ------------------------------------------------------------------------------------
    def page_of(self, job_id, tab_v, page):
        return self.query(job_id, tab_v, page, PAGE_SIZE)

    def picker_for(self, job, sample_id, message=None):
        s = get_sample(self.store, job.id, sample_id, actor=acting_user())
        ls = job.label_set
        value = picker_value(sample_id, s.text, s.annotation, ls.entities if is_triplet(job) else ls.labels,
                             ls.relations, mode="triplet" if is_triplet(job) else "ner", message=message)
        who = (f"labeled by **{esc(s.labeled_by)}** on {s.labeled_at:%Y-%m-%d %H:%M}" if s.labeled_by and s.labeled_at
               else "not labeled yet")
        pred = (f" · predicted by {esc(s.model or 'a model')} with confidence {s.confidence:.2f}"
                if s.confidence is not None else "")
        return value, (f"**{esc(s.name)}** · {len(s.text or '')} characters · {s.status.replace('_', ' ')} · {who}"
                       + pred), s

    def label_frame(self, job, c, count_column=None):
        if not is_triplet(job):
            return super().label_frame(job, c)
        ls = job.label_set
        rows = [("entity", e.name, e.color, "", "", c.by_label.get(e.name, 0)) for e in ls.entities]
        rows += [("relationship", r.name, r.color, r.source, r.target, c.by_label.get(r.name, 0))
                 for r in ls.relations]
        return pd.DataFrame(rows, columns=["Kind", "Label", "Color", "Source", "Target", "Texts"]), [x[1] for x in rows]

    @reads_only
    def view(self, job_id, tab_v, page, value=None, open_id=None, message=None):
        if job_id is None:
            return skips(len(self.outputs))
        listed = self.listing(job_id, tab_v, page, PAGE_SIZE, open_id=open_id)
        if listed is None:
            return self.gone()
        job, c, p, open_id = listed
        ls = job.label_set
        colors = {x.name: x.color for x in [*ls.labels, *ls.entities, *ls.relations]}
        items = [list_item(s, colors, removable=False) for s in p.items]
        if open_id is not None:
            picked, info, s = self.picker_for(job, open_id, message)
        else:
            picked = picker_value(None, "", None, ls.entities if is_triplet(job) else ls.labels, ls.relations,
                                  mode="triplet" if is_triplet(job) else "ner")
            info, s = "No record in this view.", None
        frame, names = self.label_frame(job, c)
        return [header_text(job, c, self.hint), status_tabs(c, tab_v),
                grid_value(items, [open_id] if open_id else [], open_on_click=True),
                f"page {p.page} of {p.pages} · {p.total:,} texts", picked, info, p.page, frame,
                gr.Dropdown(choices=names, value=None), instructions(job),
                gr.Button(visible=not is_triplet(job)), gr.Row(visible=not is_triplet(job)),
                gr.Markdown(visible=is_triplet(job)), *self.versions.values(job.id, s)]

    def load(self, job_id, sample_id=None):  # sample_id: a deep link's (pages/links.py checked it is the job's)
        return self.view(job_id, "all", 1, open_id=sample_id)

    def unsaved(self, args) -> bool:
        return _dirty(args[3])

    def after_label_action(self, args) -> list:
        job_id, tab_v, page, value = args
        return self.view(job_id, tab_v, page, open_id=_open_id(value))

    def _list_view(self, job_id, tab_v, page, value):
        """The list moves (tab, page); a record with unsaved changes stays open with them."""
        if job_id is None:
            return skips(len(self.outputs))
        dirty = _dirty(value)
        out = self.view(job_id, tab_v, page, open_id=_open_id(value) if dirty else None)
        return keep_unsaved(out, self.outputs, self.editor, dirty)

    # -- the list's events -------------------------------------------------------------------------
    @user_errors
    def on_filter(self, job_id, tab_v, value):
        return self._list_view(job_id, tab_v, 1, value)

    @user_errors
    def previous_page(self, job_id, tab_v, page, value):
        return self._list_view(job_id, tab_v, max(1, int(page or 1) - 1), value)

    @user_errors
    def next_page_(self, job_id, tab_v, page, value):
        return self._list_view(job_id, tab_v, int(page or 1) + 1, value)

    @user_errors
    def on_refresh(self, job_id, tab_v, page, value):
        """After an import, a finished run, a bulk confirm or discard."""
        return self._list_view(job_id, tab_v, page, value)

    @user_errors
    def on_open(self, job_id, list_v, value):
        sid = preview_id(list_v)
        if job_id is None or sid is None:
            return skips(3 + len(self.versions.outputs))
        refuse_if_unsaved(_dirty(value) and _open_id(value) != sid, "text")
        job = self.job(job_id)
        if job is None:
            raise UserError("this job no longer exists: pick another one in My Creations")
        picked, info, s = self.picker_for(job, sid)
        return [picked, info, list_v, *self.versions.values(job_id, s)]

    # -- the editor's events -----------------------------------------------------------------------
    def _move(self, job_id, tab_v, page, value, step: int):
        if job_id is None:
            return skips(len(self.outputs))
        refuse_if_unsaved(_dirty(value), "text")
        sid = _open_id(value)
        target, new_page = self.neighbour(job_id, tab_v, page, sid, step, PAGE_SIZE)
        if target is None:
            gr.Info("This is the " + ("last" if step > 0 else "first") + " text of the view")
            return self.view(job_id, tab_v, page, open_id=sid)
        return self.view(job_id, tab_v, new_page, open_id=target)

    @user_errors
    def previous_text(self, job_id, tab_v, page, value):
        return self._move(job_id, tab_v, page, value, -1)

    @user_errors
    def next_text(self, job_id, tab_v, page, value):
        return self._move(job_id, tab_v, page, value, 1)

    def _open_or_refuse(self, job_id, value) -> int:
        sid = _open_id(value)
        if job_id is None or sid is None:
            raise UserError("open a text first")
        return sid

    @user_errors
    def on_save(self, job_id, tab_v, page, value, opened=None, over=None):
        """Ctrl+S / Save (with the version the page opened); Keep mine after a conflict (`over`)."""
        sid = self._open_or_refuse(job_id, value)
        ann = annotation_of(value)
        conflict = self.versions.save(job_id, sid, opened, over, lambda expected: set_annotation(
            self.store, job_id, sid, ann, actor=acting_user(), expected_version=expected))
        if conflict is not None:
            return self.versions.conflict_updates(conflict, self.outputs)
        n = len(ann.get("entities", ann.get("spans", [])))
        if not n:
            msg = "Saved: nothing left, the text is back in Unlabeled"
        elif "relations" in ann:  # a triplet's
            msg = f"Saved {n} entities and {len(ann['relations'])} relations"
        else:
            msg = f"Saved {n} spans"
        gr.Info(msg)
        return self.view(job_id, tab_v, page, open_id=sid, message=msg)

    @user_errors
    def on_discard(self, job_id, tab_v, page, value):
        if job_id is None:
            return skips(len(self.outputs))
        return self.view(job_id, tab_v, page, open_id=_open_id(value))

    @user_errors
    def on_clear(self, job_id, tab_v, page, value, opened=None):
        sid = self._open_or_refuse(job_id, value)
        clear_annotation(self.store, job_id, sid, actor=acting_user(), expected_version=expected_version(opened, sid))
        gr.Info("Deleted the labels of this text")
        return self.view(job_id, tab_v, page, open_id=sid, message="Labels deleted")

    @user_errors
    def on_confirm(self, job_id, tab_v, page, value):
        sid = self._open_or_refuse(job_id, value)
        if _dirty(value):
            raise UserError("this text has unsaved changes: Save them (saving confirms the text too)")
        confirm_samples(self.store, job_id, [sid], actor=acting_user())
        gr.Info("Confirmed: the text is Labeled")
        return self.view(job_id, tab_v, page, open_id=sid, message="Confirmed")


def build(ctx: AppContext, current_job: gr.State) -> SpansPage:
    return SpansPage(ctx, current_job)
