"""The classification page: one page for image (F3.1), text (F3.5) and sound classification
(F3.8), the types whose registry entry names it, filled per job with its records: thumbnails in a
grid, texts, or audio files that play in the list (components/record_list.py).

The records of the view (status tabs with counts, filters, paging) with check boxes; the label
buttons with their shortcut keys above them (a key labels the checked records after a
confirmation in the page: Enter labels, Esc cancels); on the right the label set: pick labels,
Apply adds them to the checked records (and the picker empties, so the next records never get
them silently), Remove takes them off, Confirm accepts To Be Confirmed predictions, hard-example
marks, Delete (source files only after a confirmation); a label chip's × removes one label from
one record. "view" on a record opens it below with its own labels, its link and its history.
Label management, Labeling Description, Add data / Export, Auto labeling come from the labeling
view (base.py)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import gradio as gr
import pandas as pd

from components import record_list
from components.autolabel_panel import with_prediction
from store.access import reads_only
from store.annotations import apply_labels, remove_labels, set_labels
from store.labelset import as_shown
from store.samples import (clusters, delete_samples, get_sample, labelers, prefetch_next_thumbnails, sample_image,
                           set_hard)

from ..common import AppContext, UserError, acting_user, esc, user_errors
from .base import (FirstPage, LabelingView, Pager, SelectionActions, header_text, instructions, page_types, skips,
                   status_tabs)
from .versions import VersionPanel, text_changes

PAGE_SIZES = [12, 24, 48, 96]
PAGE_SIZE = 24
PAGE = 9  # the page number's place in the view's inputs
HARD = {"All": None, "Hard examples": True, "Not hard": False}
ORIGIN = {"All": None, "From inference": True, "Not from inference": False}
CHECKLIST_TYPES = page_types("pages.checklist")


@dataclass(frozen=True)
class Records:
    """How one kind of record looks in the list: its row, the word the page uses, the hint."""
    noun: str  # plural: "images", "texts", "files"
    item: Callable  # (sample, colors) -> a row of components/record_list.py
    hint: str


# by the media of the job's type (store/types: `media`)
RECORDS = {
    "image": Records("images", record_list.image_item,
                     "click images to check them, then a label button, its shortcut key, or pick labels and Apply; "
                     "view opens one"),
    "text": Records("texts", record_list.text_item,
                    "click texts to check them, then a label button, its shortcut key, or pick labels and Apply; "
                    "view opens one"),
    "audio": Records("files", record_list.file_item,
                     "click files to check them, then a label button, its shortcut key, or pick labels and Apply; "
                     "▶ plays a file, view opens one"),
}


def counted(n: int, noun: str) -> str:
    """ "1 text", "2 texts"."""
    return f"{n} {noun if n != 1 else noun[:-1]}"


def records_of(job) -> Records:
    return RECORDS[job.labeling_type.media]


def filters_of(hard, labels, name, by, cluster, origin, hard_first) -> dict:
    return dict(labels=tuple(labels or ()), name=name or "", labeled_by=by or "", hard=HARD.get(hard),
                cluster=cluster or "", from_inference=ORIGIN.get(origin), hard_first=bool(hard_first))


def compare_labels(job, labels, theirs: dict) -> list[list]:
    """Compare after a conflict in the open record: the labels picked beside the newer version's."""
    return text_changes(", ".join(labels or []), ", ".join(theirs.get("labels") or []))


class ChecklistPage(SelectionActions, LabelingView):
    noun = "samples"  # what the layout says; the view and its messages say images, texts or files (RECORDS)

    def __init__(self, ctx: AppContext, current_job: gr.State, type_ids: tuple[str, ...] = CHECKLIST_TYPES):
        # one page for every classification type: the records' look and words come with the job
        super().__init__(ctx, current_job, type_ids[0], "checklist", type_ids=type_ids)
        self.versions = VersionPanel(self, compare=compare_labels)  # of the open record
        self.build_header()
        self.build_tabs()
        self._build_filters()
        self._build_toolbar()
        with gr.Row():
            with gr.Column(scale=3):
                self.records = record_list.record_list(elem_id=self.eid("list"))
            with gr.Column(scale=1, min_width=280):
                self._build_label_panel()
        self._build_preview()
        self.build_label_management(table=False)
        self.build_panels()
        self.inputs = [current_job, self.tab, self.f_hard, self.f_labels, self.f_name, self.f_by, self.f_cluster,
                       self.f_origin, self.f_hard_first, self.page_no, self.page_size]
        self.outputs = [self.header, self.tab, self.f_labels, self.f_by, self.f_cluster, self.records, self.page_no,
                        self.page_info, self.label_pick, self.labels_table, self.lm_label, self.preview_labels,
                        self.description]
        self._wire()

    # -- layout ------------------------------------------------------------------------------------
    def _build_filters(self) -> None:
        with gr.Accordion("Filters", open=False, elem_id=self.eid("filters")):
            with gr.Row():
                self.f_hard = gr.Radio(list(HARD), value="All", label="Hard example", elem_id=self.eid("filter-hard"))
                self.f_labels = gr.Dropdown([], multiselect=True, label="Label (any of)",
                                            elem_id=self.eid("filter-labels"))
                self.f_name = gr.Textbox(label="File name or path contains", elem_id=self.eid("filter-name"))
            with gr.Row():
                self.f_by = gr.Dropdown([("Anyone", "")], value="", label="Labeled by", elem_id=self.eid("filter-by"))
                self.f_cluster = gr.Dropdown([("All", "")], value="", label="Sample attribute (cluster)",
                                             elem_id=self.eid("filter-cluster"))
                self.f_origin = gr.Radio(list(ORIGIN), value="All", label="Data attribute",
                                         elem_id=self.eid("filter-origin"))
                self.f_hard_first = gr.Checkbox(label="Hard examples first", elem_id=self.eid("filter-hard-first"))
            self.filter_btn = gr.Button("Apply filters", size="sm", elem_id=self.eid("filter-apply"))

    def _build_toolbar(self) -> None:
        with gr.Row(elem_id=self.eid("toolbar")):
            self.check_page_btn = gr.Button("Check page", size="sm", scale=0, min_width=110,
                                            elem_id=self.eid("select-page"))
            self.uncheck_btn = gr.Button("Uncheck all", size="sm", scale=0, min_width=110, elem_id=self.eid("clear"))
            self.prev_btn = gr.Button("◀ Previous", size="sm", scale=0, min_width=100, elem_id=self.eid("prev-page"))
            self.page_no = gr.Number(value=1, precision=0, minimum=1, label="Page", scale=0, min_width=140,
                                     elem_id=self.eid("page"))
            self.next_btn = gr.Button("Next ▶", size="sm", scale=0, min_width=90, elem_id=self.eid("next-page"))
            self.page_size = gr.Dropdown(PAGE_SIZES, value=PAGE_SIZE, label="Per page", scale=0, min_width=150,
                                         elem_id=self.eid("page-size"))
            self.page_info = gr.Markdown("", elem_id=self.eid("page-info"))

    def _build_label_panel(self) -> None:
        gr.Markdown("#### Labels")
        # the keys are part of labeling here: the table with the counts and keys is in sight
        self.labels_table = gr.Dataframe(interactive=False, label="Labels (counts and shortcuts)",
                                         elem_id=self.eid("labels-table"))
        self.label_pick = gr.CheckboxGroup([], label="Pick labels for the checked records",
                                           elem_id=self.eid("label-pick"))
        self.apply_btn = gr.Button("Add picked labels to checked", variant="primary", elem_id=self.eid("apply"))
        self.remove_btn = gr.Button("Remove picked labels from checked", elem_id=self.eid("remove"))
        self.confirm_btn = gr.Button("Confirm checked (To Be Confirmed)", elem_id=self.eid("confirm"))
        with gr.Row():
            self.hard_btn = gr.Button("Mark hard", size="sm", elem_id=self.eid("mark-hard"))
            self.unhard_btn = gr.Button("Unmark hard", size="sm", elem_id=self.eid("unmark-hard"))
        with gr.Group():
            self.build_add_label(key=True, size="sm")
        self._build_delete()

    def _build_delete(self) -> None:
        with gr.Accordion("Delete checked", open=False, elem_id=self.eid("delete-panel")):
            gr.Markdown(f"Deleting moves the checked records with their labels to the **Trash** (restorable for "
                        f"{self.store.settings.trash_days:g} days).", elem_classes=["lp-hint"],
                        elem_id=self.eid("delete-note"))
            self.del_source = gr.Checkbox(label="Also delete the source files from storage (final)",
                                          elem_id=self.eid("delete-source"))
            self.del_confirm = gr.Checkbox(
                label="I understand: deleting source files is final (the Trash cannot bring them back) and may "
                      "affect other datasets, jobs or versions that use them", visible=False,
                elem_id=self.eid("delete-source-confirm"))
            self.delete_btn = gr.Button("Delete checked", variant="stop", elem_id=self.eid("delete"))

    def _build_preview(self) -> None:
        with gr.Accordion("Open record", open=False, elem_id=self.eid("preview")) as self.preview_box:
            with gr.Row():
                self.preview_img = gr.Image(label="Image", interactive=False, height=360, visible=False,
                                            elem_id=self.eid("preview-image"))
                with gr.Column():
                    # a text as text: whatever it holds (markup, code fences) is shown, never rendered
                    self.preview_text = gr.Textbox(label="Text", interactive=False, lines=4, max_lines=14,
                                                   visible=False, elem_id=self.eid("preview-text"))
                    self.preview_info = gr.Markdown(elem_id=self.eid("preview-info"))
                    self.preview_link = gr.HTML("", elem_id=self.eid("preview-link"), container=False)
                    self.preview_labels = gr.Dropdown([], multiselect=True, allow_custom_value=True,
                                                      label="Its labels (a new name joins the label set)",
                                                      elem_id=self.eid("preview-labels"))
                    self.preview_save = gr.Button("Save its labels", elem_id=self.eid("preview-save"))
                    self.versions.build_notices()
            self.versions.build_history()
        self.preview_id = gr.State(None)
        self.link_sample = gr.State(None)  # a deep link's sample: its change opens it here
        self.preview_outputs = [self.preview_img, self.preview_text, self.preview_info, self.preview_labels, self.preview_id,
                                self.preview_box, self.preview_link] + self.versions.outputs

    def _wire(self) -> None:
        inputs, outputs, records = self.inputs, self.outputs, self.records
        first = FirstPage(self, PAGE)
        for comp in (self.tab, self.f_hard, self.f_origin, self.f_hard_first, self.page_size, self.f_labels,
                     self.f_by, self.f_cluster):
            comp.input(first, inputs, outputs)
        self.f_name.submit(first, inputs, outputs)
        self.filter_btn.click(first, inputs, outputs)
        self.page_no.submit(self.view, inputs, outputs)
        self.prev_btn.click(Pager(self, -1, PAGE), inputs, outputs)
        self.next_btn.click(Pager(self, 1, PAGE), inputs, outputs)
        self.check_page_btn.click(self.check_page, [records], [records])
        self.uncheck_btn.click(self.uncheck_all, [records], [records])
        self.apply_btn.click(self.on_apply, [records, self.label_pick] + inputs, outputs)
        self.remove_btn.click(self.on_remove, [records, self.label_pick] + inputs, outputs)
        self.confirm_btn.click(self.on_confirm, [records] + inputs, outputs)
        self.hard_btn.click(self.mark_hard, [records] + inputs, outputs)
        self.unhard_btn.click(self.unmark_hard, [records] + inputs, outputs)
        self.del_source.change(self.on_delete_source, [self.del_source], [self.del_confirm])
        self.delete_btn.click(self.on_delete, [records, self.del_source, self.del_confirm] + inputs,
                              outputs + [self.del_source, self.del_confirm])
        records.remove(self.on_chip_remove, [records] + inputs, outputs)
        records.apply(self.on_key_apply, [records] + inputs, outputs)
        records.preview(self.on_preview, [self.current_job, records], self.preview_outputs)
        self.link_sample.change(self.on_link, [self.current_job, self.link_sample], self.preview_outputs)
        add_inputs = [self.add_name, self.add_key, self.add_color, records] + inputs
        add_outputs = outputs + [self.add_name, self.add_key]
        self.add_btn.click(self.on_add, add_inputs, add_outputs)
        self.add_name.submit(self.on_add, add_inputs, add_outputs)
        save_inputs = [self.preview_id, self.preview_labels] + inputs
        self.preview_save.click(self.on_preview_save, save_inputs + [self.versions.opened],
                                outputs + self.versions.outputs)
        self.versions.wire(self.on_link, [self.current_job, self.preview_id], self.on_preview_save, save_inputs,
                           outputs + self.versions.outputs, mine=self.preview_labels,
                           reopen_outputs=self.preview_outputs)
        self.wire_shared(self.view, add=False)

    # -- the view ------------------------------------------------------------------------------------
    @reads_only
    def view(self, job_id, tab_v, hard, labels, name, by, cluster, origin, hard_first, page, size, selected=()):
        """Everything the page shows for the current view (`selected`: records that stay checked)."""
        if job_id is None:
            return skips(len(self.outputs))
        size, filters = int(size or PAGE_SIZE), filters_of(hard, labels, name, by, cluster, origin, hard_first)
        listed = self.listing(job_id, tab_v, page, size, **filters)
        if listed is None:
            return self.gone()
        job, c, p, _ = listed
        kind, actor = records_of(job), acting_user()
        if kind.noun == "images":  # the next page's thumbnails are made while this one is looked at
            prefetch_next_thumbnails(self.store, job_id, self.sample_query(tab_v, p.page, size, **filters), actor=actor)
        labels_now, names = as_shown(job.label_set.labels, job.labeling_type.rules), job.label_set.names()
        colors = {lab.name: lab.color for lab in labels_now}
        keep = [i for i in selected if i in {s.id for s in p.items}]
        items = [with_prediction(kind.item(s, colors), s) for s in p.items]
        return [header_text(job, c, kind.hint), status_tabs(c, tab_v),
                gr.update(choices=names, value=[v for v in (labels or []) if v in names]),
                gr.Dropdown(choices=[("Anyone", "")] + [(u, u) for u in labelers(self.store, job_id, actor=actor)]),
                gr.Dropdown(choices=[("All", "")] + [(x, x) for x in clusters(self.store, job_id, actor=actor)]),
                record_list.list_value(items, keep, labels_now, noun=kind.noun, open_target=self.eid("preview")),
                gr.Number(value=p.page),
                f"{p.total:,} {kind.noun} · page {p.page} of {p.pages}",
                gr.CheckboxGroup(choices=names, value=[]),  # the next records start from no label
                self._label_table(labels_now, c, kind.noun), gr.Dropdown(choices=names, value=None),
                gr.Dropdown(choices=names), instructions(job)]

    @staticmethod
    def _label_table(labels, c, noun: str) -> pd.DataFrame:
        # the colors are on the label buttons above the list: three columns fit beside it at 1280 px
        return pd.DataFrame([(lab.name, lab.shortcut or "", c.by_label.get(lab.name, 0)) for lab in labels],
                            columns=["Label", "Shortcut", noun.capitalize()])

    def load(self, job_id, sample_id=None):
        """Open a job on this page: first tab, first page, no filters; a deep link's sample
        (pages/links.py checked it is the job's) opens below the list."""
        opened = sample_id if sample_id is not None else gr.skip()  # its change opens it
        return self.view(job_id, "all", "All", [], "", "", "", "All", False, 1, PAGE_SIZE) + [opened]

    @property
    def load_outputs(self) -> list:
        return super().load_outputs + [self.link_sample]

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
        """What the list shows (images, texts, files), as its value says: the words of a message."""
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

    def _hard(self, flag: bool, value, args):
        ids = self.checked(value)
        set_hard(self.store, args[0], ids, flag, actor=acting_user())
        return self.view(*args, selected=ids)

    @user_errors
    def mark_hard(self, value, *args):
        return self._hard(True, value, args)

    @user_errors
    def unmark_hard(self, value, *args):
        return self._hard(False, value, args)

    @staticmethod
    def on_delete_source(source: bool):
        return gr.Checkbox(visible=source, value=False)

    @user_errors
    def on_delete(self, value, source, confirmed, *args):
        ids = self.checked(value)
        if source and not confirmed:
            raise UserError("deleting source files cannot be undone: tick the confirmation box first")
        res = delete_samples(self.store, args[0], ids, delete_source=bool(source), actor=acting_user())
        noun = self.noun_in(value)
        msg = (f"Deleted {counted(res.removed, noun)} and {res.files_deleted} files (final)" if source else
               f"Moved {counted(res.removed, noun)} to the Trash (restorable for "
               f"{self.store.settings.trash_days:g} days)")
        if res.errors:
            gr.Warning(msg + f"; {len(res.errors)} files could not be deleted: {esc(res.errors[0])}")
        else:
            gr.Info(msg)
        return self.view(*args) + [False, False]

    # -- the open record -----------------------------------------------------------------------------
    @user_errors
    def on_preview(self, job_id, value):
        sid = record_list.preview_id(value)
        if sid is None or job_id is None:
            return skips(len(self.preview_outputs))
        return self.preview_of(job_id, sid)

    @user_errors
    def on_link(self, job_id, sid):
        """A deep link named a sample (pages/links.py checked it is the job's), or the History
        restored a version: open it."""
        if sid is None or job_id is None:
            return skips(len(self.preview_outputs))
        return self.preview_of(job_id, int(sid))

    def preview_of(self, job_id, sid) -> list:
        """One record opened: its image (image jobs), what is known of it, its labels, a link to
        it (which also names the open sample for the address bar: assets/links.js), its history."""
        actor = acting_user()
        s = get_sample(self.store, job_id, sid, actor=actor)
        job = self.job(job_id)
        media = job.labeling_type.media if job is not None else "image"
        image = gr.Image(value=None, visible=media == "image")
        if media == "image":
            try:
                image = gr.Image(value=sample_image(self.store, sid, actor=actor), visible=True)
            except Exception as e:  # a file that vanished or broke since import: say so, keep going
                gr.Warning(f"{esc(s.name)} cannot be shown: {esc(e)}")
        link = (f'<a class="lp-sample-link" data-open-sample="{int(sid)}" '
                f'href="?job={int(job_id)}&amp;tab=label&amp;sample={int(sid)}">Link to this record</a>')
        text = gr.Textbox(value=s.text or "", visible=True) if media == "text" else gr.Textbox(value="", visible=False)
        return [image, text, self._describe(s, media), gr.update(value=s.labels), sid, gr.Accordion(open=True),
                link, *self.versions.values(job_id, s)]

    @staticmethod
    def _describe(s, media: str) -> str:
        meta = s.meta or {}
        who = (f"Labeled by **{esc(s.labeled_by)}** on {s.labeled_at:%Y-%m-%d %H:%M}" if s.labeled_by and s.labeled_at
               else "Not labeled yet" if not s.labels else "Labeled")
        size = {"image": f"{meta.get('width', '?')}×{meta.get('height', '?')} px, {esc(meta.get('mode', ''))}",
                "audio": f"{float(meta.get('duration') or 0):.1f} s"}.get(media, "")
        return (f"**{esc(s.name)}**  \n`{esc(s.path)}`" + (f"  \n{size}" if size else "")
                + f"  \nStatus: {s.status.replace('_', ' ')}  \n{who}"
                + (f"  \nPredicted by {esc(s.model or 'a model')} with confidence {s.confidence:.2f}"
                   if s.confidence is not None else "")
                + (f"  \nHard example ({s.hard_coefficient or 0:.2f}): {esc(s.hard_reason)}" if s.hard else ""))

    @user_errors
    def on_preview_save(self, sid, labels, *rest):
        """Save the open record's labels (inputs: the view's, then the version it opened and, for
        Keep mine after a conflict, the newer version); a label typed anew joins the job's set."""
        over = rest[-1] if len(rest) > len(self.inputs) + 1 else None
        args, opened = rest[:len(self.inputs)], rest[len(self.inputs)]
        if sid is None or args[0] is None:
            raise UserError("open a record first (its view button)")
        job_id, actor = args[0], acting_user()
        # one store call: a label typed anew joins the set with the save, or neither happens
        conflict = self.versions.save(job_id, sid, opened, over, lambda expected: set_labels(
            self.store, job_id, int(sid), list(labels or []), actor=actor, expected_version=expected))
        if conflict is not None:
            return self.versions.conflict_updates(conflict, self.outputs + self.versions.outputs)
        gr.Info("Saved")
        s = get_sample(self.store, job_id, int(sid), actor=actor)
        return self.view(*args) + self.versions.values(job_id, s)


def build(ctx: AppContext, current_job: gr.State) -> ChecklistPage:
    return ChecklistPage(ctx, current_job)
