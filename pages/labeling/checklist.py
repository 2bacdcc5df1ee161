"""The check-list page: one page for text classification (F3.5) and sound classification (F3.8),
filled per job with its records (texts, or audio files that play in the list).

The records of the view (paged, status tabs with counts) with check boxes on the left, the label
buttons with their shortcut keys above them (a key labels the checked records after a confirmation
in the page: Enter labels, Esc cancels); on the right the label set: pick labels, Apply adds them
to the checked records (and the picker empties, so the next records never get them silently),
Remove takes them off, Confirm accepts To Be Confirmed predictions; a label chip's × removes one
label from one record. Label management, Labeling Description, Add data / Export, Auto labeling
come from the labeling view (base.py)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import gradio as gr
import pandas as pd

from components import record_list
from components.autolabel_panel import with_prediction
from store.annotations import apply_labels, remove_labels
from store.access import reads_only

from ..common import AppContext, UserError, acting_user, esc, user_errors
from .base import FirstPage, LabelingView, Pager, SelectionActions, header_text, instructions, page_types, skips, status_tabs

PAGE_SIZES = [10, 20, 50, 100]
CHECKLIST_TYPES = page_types("pages.checklist")


@dataclass(frozen=True)
class Records:
    """How one kind of record looks in the list: its row, the word the page uses, the hint."""
    noun: str  # plural: "texts", "files"
    item: Callable  # (sample, colors) -> a row of components/record_list.py
    hint: str


# by the media of the job's type (store/types: `media`)
RECORDS = {
    "text": Records("texts", record_list.text_item,
                    "click texts to check them, then a label button, its shortcut key, or pick labels and Apply"),
    "audio": Records("files", record_list.file_item,
                     "click files to check them, then a label button, its shortcut key, or pick labels and Apply; "
                     "▶ plays a file"),
}


def counted(n: int, noun: str) -> str:
    """ "1 text", "2 texts"."""
    return f"{n} {noun if n != 1 else noun[:-1]}"


def records_of(job) -> Records:
    return RECORDS[job.labeling_type.media]


class ChecklistPage(SelectionActions, LabelingView):
    noun = "samples"  # what the layout says; the view and its messages say texts or files (RECORDS)

    def __init__(self, ctx: AppContext, current_job: gr.State, type_ids: tuple[str, ...] = CHECKLIST_TYPES):
        # one page for every check-list type: the records' look and words come with the job
        super().__init__(ctx, current_job, type_ids[0], "checklist", type_ids=type_ids)
        self.build_header()
        self.build_tabs()
        self._build_toolbar()
        with gr.Row():
            with gr.Column(scale=3):
                self.records = record_list.record_list(elem_id=self.eid("list"))
            with gr.Column(scale=1, min_width=280):
                self._build_label_panel()
        self.build_label_management(table=False)
        self.build_panels()
        self.inputs = [current_job, self.tab, self.page_no, self.page_size]
        self.outputs = [self.header, self.tab, self.records, self.page_no, self.page_info, self.label_pick,
                        self.labels_table, self.lm_label, self.description]
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
        # the keys are part of labeling here: the table with the counts and keys is in sight
        self.labels_table = gr.Dataframe(interactive=False, label="Labels (counts and shortcuts)",
                                         elem_id=self.eid("labels-table"))
        self.label_pick = gr.CheckboxGroup([], label=f"Pick labels for the checked {n}", elem_id=self.eid("label-pick"))
        self.apply_btn = gr.Button(f"Add picked labels to checked {n}", variant="primary", elem_id=self.eid("apply"))
        self.remove_btn = gr.Button(f"Remove picked labels from checked {n}", elem_id=self.eid("remove"))
        self.confirm_btn = gr.Button(f"Confirm checked {n} (To Be Confirmed)", elem_id=self.eid("confirm"))
        with gr.Group():
            self.build_add_label(key=True, size="sm")

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
        self.records.apply(self.on_key_apply, [self.records] + inputs, outputs)
        add_inputs = [self.add_name, self.add_key, self.add_color, self.records] + inputs
        add_outputs = outputs + [self.add_name, self.add_key]
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
        kind = records_of(job)
        labels = job.label_set.labels
        colors = {lab.name: lab.color for lab in labels}
        names = job.label_set.names()
        keep = [i for i in selected if i in {s.id for s in p.items}]
        items = [with_prediction(kind.item(s, colors), s) for s in p.items]
        return [header_text(job, c, kind.hint), status_tabs(c, tab_v),
                record_list.list_value(items, keep, labels, noun=kind.noun), gr.Number(value=p.page),
                f"{p.total:,} {kind.noun} · page {p.page} of {p.pages}",
                gr.CheckboxGroup(choices=names, value=[]),  # the next records start from no label
                self._label_table(labels, c, kind.noun),
                gr.Dropdown(choices=names, value=None), instructions(job)]

    @staticmethod
    def _label_table(labels, c, noun: str) -> pd.DataFrame:
        # the colors are on the label buttons above the list: three columns fit beside it at 1280 px
        return pd.DataFrame([(lab.name, lab.shortcut or "", c.by_label.get(lab.name, 0)) for lab in labels],
                            columns=["Label", "Shortcut", noun.capitalize()])

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

    @staticmethod
    def noun_in(value) -> str:
        """What the list shows (texts, files), as its value says: the words of a message."""
        noun = value.get("noun") if isinstance(value, dict) else None
        return noun if noun in {r.noun for r in RECORDS.values()} else "samples"

    def checked(self, value) -> list[int]:
        ids = record_list.selected_ids(value)
        if not ids:
            raise UserError(f"check at least one {self.noun_in(value)[:-1]} first")
        return ids

    def _label(self, value, ids: list[int], labels: list[str], args: tuple) -> list:
        """Add labels to the checked records with the versions the list showed: the view after it
        (when one of them was saved since, refreshed with them still checked)."""
        n = self.carry_versions(lambda versions: apply_labels(self.store, args[0], ids, labels, actor=acting_user(),
                                                              versions=versions), value, ids)
        if n is None:
            return self.view(*args, selected=ids)
        gr.Info(f"Labeled {counted(n, self.noun_in(value))} {esc(' '.join(labels))}")
        return self.view(*args)

    @user_errors
    def on_apply(self, value, labels, *args):
        ids = self.checked(value)
        if not labels:
            raise UserError("pick the labels to add first")
        return self._label(value, ids, list(labels), args)

    @user_errors
    def on_key_apply(self, value, *args):
        """A label button, or a shortcut key confirmed in the page: the widget says which records."""
        req = record_list.apply_request(value)
        if req is None or args[0] is None:
            return skips(len(self.outputs))
        label, ids = req
        if not ids:
            raise UserError(f"check at least one {self.noun_in(value)[:-1]} first")
        return self._label(value, ids, [label], args)

    @user_errors
    def on_chip_remove(self, value, *args):
        req = record_list.remove_request(value)
        if req is None or args[0] is None:
            return skips(len(self.outputs))
        self.carry_versions(lambda versions: remove_labels(self.store, args[0], [req[0]], [req[1]], actor=acting_user(),
                                                           versions=versions), value, [req[0]])
        return self.view(*args, selected=record_list.selected_ids(value))

    @user_errors
    def on_add(self, name, key, color, value, *args):
        if args[0] is None:
            raise UserError("open a job first")
        self.labels.add(acting_user(), args[0], name, color, key)
        return self.view(*args, selected=record_list.selected_ids(value)) + ["", ""]


def build(ctx: AppContext, current_job: gr.State) -> ChecklistPage:
    return ChecklistPage(ctx, current_job)
