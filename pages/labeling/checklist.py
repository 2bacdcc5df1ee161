"""The check-list widget page: text classification (F3.5) and sound classification (F3.8).

The records of the view (paged, status tabs with counts) with check boxes on the left; the label
set on the right: pick labels, Apply adds them to the checked records (and the picker empties, so
the next records never get them silently), Remove takes them off, Confirm accepts To Be Confirmed
predictions; a label chip's × removes one label from one record. Sound files play in the list,
and a label's shortcut key labels the checked files after a confirmation in the page (Enter
labels, Esc cancels). Label management, Labeling Description, Add data / Export, Auto labeling
come from the labeling view (base.py)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import gradio as gr
import pandas as pd

from components import audio_list, text_list
from components.autolabel_panel import with_prediction
from store.annotations import apply_labels, remove_labels
from store.access import reads_only

from ..common import AppContext, UserError, acting_user, esc, user_errors
from .base import FirstPage, LabelingView, Pager, SelectionActions, header_text, instructions, skips, status_tabs

PAGE_SIZES = [10, 20, 50, 100]


@dataclass(frozen=True)
class Records:
    """How one type's records look: the list widget and its value, the words the page uses."""
    prefix: str
    noun: str  # plural: "texts", "files"
    widget: Callable[..., gr.HTML]
    value: Callable[..., dict]  # (items, selected, labels) -> the widget's value
    item: Callable  # (sample, colors) -> an item
    hint: str
    list_hint: str = ""
    shortcuts: bool = False  # labels have shortcut keys that label the checked records


def _text_value(items, selected, labels):
    return text_list.grid_value(items, selected)


TEXTS = Records("tc", "texts", text_list.text_list, _text_value, text_list.list_item,
                "click texts to check them, pick labels, Apply")
FILES = Records("sc", "files", audio_list.audio_list, audio_list.list_value, audio_list.list_item,
                "check files, then a label button or its shortcut key",
                list_hint="Click files to check them, then press a label button or a label's shortcut key "
                          "(a bar asks to confirm: Enter labels, Esc cancels). ▶ plays a file.",
                shortcuts=True)


class ChecklistPage(SelectionActions, LabelingView):
    def __init__(self, ctx: AppContext, current_job: gr.State, type_id: str, records: Records):
        self.kind = records
        self.noun = records.noun
        self.hint = records.hint
        super().__init__(ctx, current_job, type_id, records.prefix)
        self.build_header()
        self.build_tabs()
        self._build_toolbar()
        with gr.Row():
            with gr.Column(scale=3):
                if records.list_hint:
                    gr.Markdown(records.list_hint, elem_classes=["lp-hint"])
                self.records = records.widget(elem_id=self.eid("list"))
            with gr.Column(scale=1, min_width=280):
                self._build_label_panel()
        self.build_label_management(table=not records.shortcuts)
        self.build_panels()
        self.inputs = [current_job, self.tab, self.page_no, self.page_size]
        self.outputs = [self.header, self.tab, self.records, self.page_no, self.page_info, self.label_pick,
                        self.label_counts, self.labels_table, self.lm_label, self.description]
        self._wire()

    def _build_toolbar(self) -> None:
        n = self.noun
        with gr.Row(elem_id=self.eid("toolbar")):
            self.check_page_btn = gr.Button("Check page", size="sm", scale=0, min_width=110,
                                            elem_id=self.eid("select-page"))
            self.uncheck_btn = gr.Button("Uncheck all", size="sm", scale=0, min_width=110, elem_id=self.eid("clear"))
            self.prev_btn = gr.Button("◀ Previous", size="sm", scale=0, min_width=100, elem_id=self.eid("prev-page"))
            self.page_no = gr.Number(value=1, precision=0, minimum=1, label="Page", scale=0, min_width=90,
                                     elem_id=self.eid("page"))
            self.next_btn = gr.Button("Next ▶", size="sm", scale=0, min_width=90, elem_id=self.eid("next-page"))
            self.page_size = gr.Dropdown(PAGE_SIZES, value=20, label="Per page", scale=0, min_width=90,
                                         elem_id=self.eid("page-size"))
            self.page_info = gr.Markdown(f"0 {n}", elem_id=self.eid("page-info"))

    def _build_label_panel(self) -> None:
        n = self.noun
        gr.Markdown("#### Labels")
        if self.kind.shortcuts:  # the keys are part of labeling here: the table is in sight
            self.labels_table = gr.Dataframe(interactive=False, label="Labels (counts and shortcuts)",
                                             elem_id=self.eid("labels-table"))
        self.label_pick = gr.CheckboxGroup([], label=f"Pick labels for the checked {n}", elem_id=self.eid("label-pick"))
        self.apply_btn = gr.Button(f"Add picked labels to checked {n}", variant="primary", elem_id=self.eid("apply"))
        self.remove_btn = gr.Button(f"Remove picked labels from checked {n}", elem_id=self.eid("remove"))
        self.confirm_btn = gr.Button(f"Confirm checked {n} (To Be Confirmed)", elem_id=self.eid("confirm"))
        self.label_counts = gr.Markdown(visible=not self.kind.shortcuts, elem_id=self.eid("label-counts"))
        with gr.Group():
            self.build_add_label(key=self.kind.shortcuts, size="sm")

    def _wire(self) -> None:
        inputs, outputs = self.inputs, self.outputs
        self.tab.input(FirstPage(self), inputs, outputs)
        self.page_size.input(FirstPage(self), inputs, outputs)
        self.page_no.submit(self.view, inputs, outputs)
        self.prev_btn.click(Pager(self, -1), inputs, outputs)
        self.next_btn.click(Pager(self, 1), inputs, outputs)
        self.check_page_btn.click(self.check_page, [self.records], [self.records])
        self.uncheck_btn.click(self.uncheck_all, [self.records], [self.records])
        self.apply_btn.click(self.on_apply, [self.records, self.label_pick] + inputs, outputs)
        self.remove_btn.click(self.on_remove, [self.records, self.label_pick] + inputs, outputs)
        self.confirm_btn.click(self.on_confirm, [self.records] + inputs, outputs)
        self.records.remove(self.on_chip_remove, [self.records] + inputs, outputs)
        if self.kind.shortcuts:
            self.records.apply(self.on_key_apply, [self.records] + inputs, outputs)
        add_inputs = [self.add_name, self.add_key or self.add_name, self.add_color, self.records] + inputs
        add_outputs = outputs + [self.add_name] + ([self.add_key] if self.add_key is not None else [])
        self.add_btn.click(self.on_add, add_inputs, add_outputs)
        self.add_name.submit(self.on_add, add_inputs, add_outputs)
        self.wire_shared(self.view, add=False)

    # -- the view ------------------------------------------------------------------------------------
    @reads_only
    def view(self, job_id, tab_v, page, size, selected=()):
        if job_id is None:
            return skips(len(self.outputs))
        listed = self.listing(job_id, tab_v, page, size or 20)
        if listed is None:
            return self.gone()
        job, c, p, _ = listed
        labels = job.label_set.labels
        colors = {lab.name: lab.color for lab in labels}
        names = job.label_set.names()
        keep = [i for i in selected if i in {s.id for s in p.items}]
        items = [with_prediction(self.kind.item(s, colors), s) for s in p.items]
        counts_md = " · ".join(f"{esc(n)}: **{c.by_label.get(n, 0)}**" for n in names) or "No labels yet."
        return [header_text(job, c, self.hint), status_tabs(c, tab_v),
                self.kind.value(items, keep, labels), gr.Number(value=p.page),
                f"{p.total:,} {self.noun} · page {p.page} of {p.pages}",
                gr.CheckboxGroup(choices=names, value=[]),  # the next records start from no label
                f"**Labels** — {counts_md}", self._label_table(labels, c),
                gr.Dropdown(choices=names, value=None), instructions(job)]

    def _label_table(self, labels, c) -> pd.DataFrame:
        count = self.noun.capitalize()
        if self.kind.shortcuts:
            return pd.DataFrame([(lab.name, lab.shortcut or "", lab.color or "", c.by_label.get(lab.name, 0))
                                 for lab in labels], columns=["Label", "Shortcut", "Color", count])
        return pd.DataFrame([(lab.name, lab.color or "", c.by_label.get(lab.name, 0)) for lab in labels],
                            columns=["Label", "Color", count])

    def load(self, job_id):
        return self.view(job_id, "all", 1, 20)

    # -- the widget's events -----------------------------------------------------------------------
    @staticmethod
    def _checked(value, ids) -> dict:
        value = dict(value or {})
        items = [{**it, "selected": it["id"] in set(ids)} for it in value.get("items", [])]
        return {**value, "items": items, "selected": [it["id"] for it in items if it["selected"]],
                "apply": None, "remove": None}

    def check_page(self, value):
        return self._checked(value, [it["id"] for it in (value or {}).get("items", [])])

    def uncheck_all(self, value):
        return self._checked(value, [])

    def checked(self, value) -> list[int]:
        ids = text_list.selected_ids(value)
        if not ids:
            raise UserError(f"check at least one {self.noun[:-1]} first")
        return ids

    @user_errors
    def on_apply(self, value, labels, *args):
        ids = self.checked(value)
        if not labels:
            raise UserError("pick the labels to add first")
        n = self.carry_versions(lambda versions: apply_labels(self.store, args[0], ids, list(labels),
                                                              actor=acting_user(), versions=versions), value, ids)
        if n is None:  # one of them was saved since: refreshed, still checked
            return self.view(*args, selected=ids)
        gr.Info(f"Labeled {n} {self.noun}")
        return self.view(*args)

    @user_errors
    def on_key_apply(self, value, *args):
        req = audio_list.apply_request(value)
        if req is None or args[0] is None:
            return skips(len(self.outputs))
        label, ids = req
        if not ids:
            raise UserError(f"check at least one {self.noun[:-1]} first")
        n = self.carry_versions(lambda versions: apply_labels(self.store, args[0], ids, [label], actor=acting_user(),
                                                              versions=versions), value, ids)
        if n is None:
            return self.view(*args, selected=ids)
        gr.Info(f"Labeled {n} {self.noun} {esc(label)}")
        return self.view(*args)

    @user_errors
    def on_chip_remove(self, value, *args):
        req = text_list.remove_request(value)
        if req is None or args[0] is None:
            return skips(len(self.outputs))
        self.carry_versions(lambda versions: remove_labels(self.store, args[0], [req[0]], [req[1]], actor=acting_user(),
                                                           versions=versions), value, [req[0]])
        return self.view(*args, selected=text_list.selected_ids(value))

    @user_errors
    def on_add(self, name, key, color, value, *args):
        if args[0] is None:
            raise UserError("open a job first")
        key = key if self.add_key is not None else ""
        self.labels.add(acting_user(), args[0], name, color, key)
        cleared = ["", ""] if self.add_key is not None else [""]
        return self.view(*args, selected=text_list.selected_ids(value)) + cleared


def build_text(ctx: AppContext, current_job: gr.State) -> ChecklistPage:
    return ChecklistPage(ctx, current_job, "text_classification", TEXTS)


def build_sound(ctx: AppContext, current_job: gr.State) -> ChecklistPage:
    return ChecklistPage(ctx, current_job, "sound_classification", FILES)
