"""The image grid widget page: image classification (F3.1, F2.2-F2.5, F3.12).

Status tabs with counts, filters (hard examples, labels, name, labeler, cluster, origin), the
thumbnails of the view with selection in the browser, batch labeling of the selected images
(Apply empties the label box: the next selection never gets the last labels silently), Remove,
Confirm, hard-example marks, Delete (source files only after a confirmation), a preview with the
image's own labels; label management, Labeling Description, Add data / Export, Auto labeling
from the labeling view (base.py)."""
from __future__ import annotations

import gradio as gr

from components.sample_grid import grid_value, preview_id, sample_grid, selected_ids
from store.annotations import add_labels_to_set, apply_labels, set_annotation
from store.labelset import Label
from store.access import reads_only
from store.samples import (clusters, delete_samples, get_sample, labelers, prefetch_next_thumbnails, sample_image,
                           set_hard)

from ..common import AppContext, UserError, acting_user, esc, user_errors
from .base import FirstPage, LabelingView, Pager, SelectionActions, header_text, instructions, skips, status_tabs
from .versions import VersionPanel, text_changes

PAGE_SIZES = [24, 48, 96]
HARD = {"All": None, "Hard examples": True, "Not hard": False}
ORIGIN = {"All": None, "From inference": True, "Not from inference": False}
PAGE = 9  # the page number's place in the view's inputs
IDS = {"header": "label-header", "describe": "describe-btn", "description": "labeling-description",
       "tabs": "status-tabs", "add-name": "lm-add-name", "add": "lm-add"}  # the ids tests and links know


def _filters(hard, labels, name, by, cluster, origin, hard_first) -> dict:
    return dict(labels=tuple(labels or ()), name=name or "", labeled_by=by or "", hard=HARD.get(hard),
                cluster=cluster or "", from_inference=ORIGIN.get(origin), hard_first=bool(hard_first))


def _items(page) -> list[dict]:
    """The cards of a page (each with the version shown: what Apply / Remove carry)."""
    return [{"id": s.id, "name": s.name, "thumb": f"/media/{s.id}/thumb", "labels": s.labels, "hard": s.hard,
             "status": s.status, "version": s.version} for s in page.items]


def compare_labels(job, labels, theirs: dict) -> list[list]:
    """Compare after a conflict in the preview: the labels picked beside the newer version's."""
    return text_changes(", ".join(labels or []), ", ".join(theirs.get("labels") or []))


def selection_updates(ids: list[int]) -> list:
    """The selection count and the buttons that act on the selection (enabled when there is one)."""
    return [f"**{len(ids)}** selected"] + [gr.update(interactive=bool(ids)) for _ in range(6)]


class ImageGridPage(SelectionActions, LabelingView):
    noun = "images"
    delete_noun = "images"

    def __init__(self, ctx: AppContext, current_job: gr.State):
        super().__init__(ctx, current_job, "image_classification", "", ids=IDS)
        self.versions = VersionPanel(self, compare=compare_labels)  # of the image in the preview
        self.build_header()
        self.build_tabs()
        self._build_filters()
        self._build_toolbar()
        with gr.Row():
            with gr.Column(scale=3):
                self.grid = sample_grid()
            with gr.Column(scale=1, min_width=280):
                self._build_label_panel()
        self._build_preview()
        self.build_label_management(add=True)
        self.build_panels()
        self.inputs = [current_job, self.tab, self.f_hard, self.f_labels, self.f_name, self.f_by, self.f_cluster,
                       self.f_origin, self.f_hard_first, self.page_no, self.page_size]
        self.selection = [self.selection_info, self.apply_btn, self.remove_btn, self.hard_btn, self.unhard_btn,
                          self.delete_btn, self.confirm_btn]
        self.outputs = [self.header, self.tab, self.f_labels, self.f_by, self.f_cluster, self.grid, self.page_no,
                        self.page_info, self.label_pick, self.label_counts, self.labels_table, self.lm_label,
                        self.preview_labels, self.description] + self.selection
        self._wire()

    # -- layout ------------------------------------------------------------------------------------
    def _build_filters(self) -> None:
        with gr.Accordion("Filters", open=False, elem_id="filters"):
            with gr.Row():
                self.f_hard = gr.Radio(list(HARD), value="All", label="Hard example")
                self.f_labels = gr.Dropdown([], multiselect=True, label="Label (any of)", elem_id="filter-labels")
                self.f_name = gr.Textbox(label="File name or path contains", elem_id="filter-name")
            with gr.Row():
                self.f_by = gr.Dropdown([("Anyone", "")], value="", label="Labeled by")
                self.f_cluster = gr.Dropdown([("All", "")], value="", label="Sample attribute (cluster)")
                self.f_origin = gr.Radio(list(ORIGIN), value="All", label="Data attribute")
                self.f_hard_first = gr.Checkbox(label="Hard examples first")
            self.filter_btn = gr.Button("Apply filters", size="sm", elem_id="filter-apply")

    def _build_toolbar(self) -> None:
        with gr.Row(elem_id="grid-toolbar"):
            self.select_page_btn = gr.Button("Select page", size="sm", scale=0, min_width=110, elem_id="select-page")
            self.clear_btn = gr.Button("Clear selection", size="sm", scale=0, min_width=120,
                                       elem_id="clear-selection")
            self.selection_info = gr.Markdown("0 selected", elem_id="selection-info")
            self.prev_btn = gr.Button("◀ Previous", size="sm", scale=0, min_width=100, elem_id="prev-page")
            self.page_no = gr.Number(value=1, precision=0, minimum=1, label="Page", elem_id="page-number", scale=0,
                                     min_width=90)
            self.next_btn = gr.Button("Next ▶", size="sm", scale=0, min_width=90, elem_id="next-page")
            self.page_size = gr.Dropdown(PAGE_SIZES, value=48, label="Per page", scale=0, min_width=90)
            self.page_info = gr.Markdown("", elem_id="page-info")

    def _build_label_panel(self) -> None:
        gr.Markdown("#### Label the selected images")
        self.label_pick = gr.Dropdown([], label="Label (pick one or type a new one)", allow_custom_value=True,
                                      multiselect=True, elem_id="label-pick")
        self.apply_btn = gr.Button("Apply label", variant="primary", interactive=False, elem_id="apply-label")
        self.remove_btn = gr.Button("Remove these labels from selected", interactive=False, elem_id="remove-label")
        self.confirm_btn = gr.Button("Confirm selected", interactive=False, elem_id="confirm-selected")
        with gr.Row():
            self.hard_btn = gr.Button("Mark hard", size="sm", interactive=False, elem_id="mark-hard")
            self.unhard_btn = gr.Button("Unmark hard", size="sm", interactive=False, elem_id="unmark-hard")
        self.label_counts = gr.Markdown(elem_id="label-counts")
        with gr.Accordion("Delete selected", open=False, elem_id="delete-panel"):
            gr.Markdown(f"Deleting moves the selected images with their labels to the **Trash** (restorable for "
                        f"{self.store.settings.trash_days:g} days).", elem_classes=["lp-hint"], elem_id="delete-note")
            self.del_source = gr.Checkbox(label="Also delete the source files from storage (final)",
                                          elem_id="delete-source")
            self.del_confirm = gr.Checkbox(
                label="I understand: deleting source files is final (the Trash cannot bring them back) and may "
                      "affect other datasets, jobs or versions that use them", visible=False,
                elem_id="delete-source-confirm")
            self.delete_btn = gr.Button("Delete selected", variant="stop", interactive=False, elem_id="delete-selected")

    def _build_preview(self) -> None:
        with gr.Accordion("Preview", open=False, elem_id="preview") as self.preview_box:
            with gr.Row():
                self.preview_img = gr.Image(label="Sample", interactive=False, height=360, elem_id="preview-image")
                with gr.Column():
                    self.preview_info = gr.Markdown(elem_id="preview-info")
                    self.preview_link = gr.HTML("", elem_id="preview-link", container=False)
                    self.preview_labels = gr.Dropdown([], multiselect=True, allow_custom_value=True,
                                                      label="Labels of this image", elem_id="preview-labels")
                    self.preview_save = gr.Button("Save labels of this image", elem_id="preview-save")
                    self.versions.build_notices()
            self.versions.build_history()
        self.preview_id = gr.State(None)
        self.link_sample = gr.State(None)  # a deep link's sample: its change opens the preview
        self.preview_outputs = [self.preview_img, self.preview_info, self.preview_labels, self.preview_id,
                                self.preview_box, self.preview_link] + self.versions.outputs

    def _wire(self) -> None:
        inputs, outputs, grid = self.inputs, self.outputs, self.grid
        first = FirstPage(self, PAGE)
        for comp in (self.tab, self.f_hard, self.f_origin, self.f_hard_first, self.page_size):
            comp.change(first, inputs, outputs)
        for comp in (self.f_labels, self.f_by, self.f_cluster):
            comp.input(first, inputs, outputs)
        self.f_name.submit(first, inputs, outputs)
        self.filter_btn.click(first, inputs, outputs)
        self.page_no.submit(self.view, inputs, outputs)
        self.prev_btn.click(Pager(self, -1, PAGE), inputs, outputs)
        self.next_btn.click(Pager(self, 1, PAGE), inputs, outputs)
        grid.change(self.on_grid_change, [grid], self.selection)
        grid.preview(self.on_preview, [self.current_job, grid], self.preview_outputs)
        self.link_sample.change(self.on_link, [self.current_job, self.link_sample], self.preview_outputs)
        self.select_page_btn.click(self.on_select_page, [grid], [grid] + self.selection)
        self.clear_btn.click(self.on_clear, [grid], [grid] + self.selection)
        self.apply_btn.click(self.on_apply, [grid, self.label_pick] + inputs, outputs)
        self.remove_btn.click(self.on_remove, [grid, self.label_pick] + inputs, outputs)
        self.confirm_btn.click(self.on_confirm, [grid] + inputs, outputs)
        self.hard_btn.click(self.mark_hard, [grid] + inputs, outputs)
        self.unhard_btn.click(self.unmark_hard, [grid] + inputs, outputs)
        self.del_source.change(self.on_delete_source, [self.del_source], [self.del_confirm])
        self.delete_btn.click(self.on_delete, [grid, self.del_source, self.del_confirm] + inputs,
                              outputs + [self.del_source, self.del_confirm])
        self.preview_save.click(self.on_preview_save, [self.preview_id, self.preview_labels] + inputs
                                + [self.versions.opened], outputs + self.versions.outputs)
        self.versions.wire(self.on_link, [self.current_job, self.preview_id], self.on_preview_save,
                           [self.preview_id, self.preview_labels] + inputs, outputs + self.versions.outputs,
                           mine=self.preview_labels, reopen_outputs=self.preview_outputs)
        self.wire_shared(self.view)

    # -- the view ------------------------------------------------------------------------------------
    @reads_only
    def view(self, job_id, tab_v, hard, labels, name, by, cluster, origin, hard_first, page, size, selected=()):
        """Everything the page shows for the current view."""
        if job_id is None:
            return skips(len(self.outputs))
        filters = _filters(hard, labels, name, by, cluster, origin, hard_first)
        listed = self.listing(job_id, tab_v, page, size or 48, **filters)
        if listed is None:
            return self.gone()
        job, c, p, _ = listed
        # the next page's thumbnails are made while this one is looked at (a labeler pages forward)
        prefetch_next_thumbnails(self.store, job_id, self.sample_query(tab_v, p.page, size or 48, **filters),
                                 actor=acting_user())
        frame, names = self.label_frame(job, c)
        counts_md = " · ".join(f"{esc(n)}: **{c.by_label.get(n, 0)}**" for n in names) or "No labels yet."
        keep = [i for i in selected if i in {s.id for s in p.items}]
        actor = acting_user()
        return [
            header_text(job, c, esc(job.description) if job.description else ""), status_tabs(c, tab_v),
            gr.update(choices=names, value=[v for v in (labels or []) if v in names]),
            gr.update(choices=[("Anyone", "")] + [(u, u) for u in labelers(self.store, job_id, actor=actor)]),
            gr.update(choices=[("All", "")] + [(x, x) for x in clusters(self.store, job_id, actor=actor)]),
            grid_value(_items(p), keep), gr.update(value=p.page), f"{p.total:,} samples · page {p.page} of {p.pages}",
            # after Apply, Remove or a label change the box is empty: Apply never adds the last
            # labels (or a renamed label's old name) to the next selection silently
            gr.update(choices=names, value=[]),
            f"**Labels** — {counts_md}", frame, gr.update(choices=names, value=None), gr.update(choices=names),
            instructions(job),
        ] + selection_updates(keep)

    def load(self, job_id, sample_id=None):
        """Open a job on this page: first tab, first page, no filters; a deep link's sample
        (pages/links.py checked it is the job's) opens in the preview."""
        opened = sample_id if sample_id is not None else gr.skip()  # its change opens the preview
        return self.view(job_id, "all", "All", [], "", "", "", "All", False, 1, 48) + [opened]

    @property
    def load_outputs(self) -> list:
        return super().load_outputs + [self.link_sample]

    # -- selection -----------------------------------------------------------------------------------
    def on_grid_change(self, grid_v):
        return selection_updates(selected_ids(grid_v))

    def on_select_page(self, grid_v):
        items = (grid_v or {}).get("items", [])
        return [grid_value(items, [it["id"] for it in items])] + selection_updates([it["id"] for it in items])

    def on_clear(self, grid_v):
        return [grid_value((grid_v or {}).get("items", []), [])] + selection_updates([])

    # -- actions on the selection (Remove and Confirm: SelectionActions) ---------------------------------
    def checked(self, grid_v) -> list[int]:
        return selected_ids(grid_v)

    @user_errors
    def on_apply(self, grid_v, labels, *args):
        ids = selected_ids(grid_v)
        n = self.carry_versions(lambda versions: apply_labels(self.store, args[0], ids, list(labels or []),
                                                              actor=acting_user(), versions=versions), grid_v, ids)
        if n is None:  # one of them was saved since: the page shows what they hold now, still selected
            return self.view(*args, selected=ids)
        gr.Info(f"Labeled {n} images")
        return self.view(*args)

    def _hard(self, flag: bool, grid_v, args):
        set_hard(self.store, args[0], selected_ids(grid_v), flag, actor=acting_user())
        return self.view(*args, selected=selected_ids(grid_v))

    @user_errors
    def mark_hard(self, grid_v, *args):
        return self._hard(True, grid_v, args)

    @user_errors
    def unmark_hard(self, grid_v, *args):
        return self._hard(False, grid_v, args)

    def on_delete_source(self, source: bool):
        return gr.update(visible=source, value=False)

    @user_errors
    def on_delete(self, grid_v, source, confirmed, *args):
        if source and not confirmed:
            raise UserError("deleting source files cannot be undone: tick the confirmation box first")
        res = delete_samples(self.store, args[0], selected_ids(grid_v), delete_source=bool(source),
                             actor=acting_user())
        msg = (f"Deleted {res.removed} samples and {res.files_deleted} files (final)" if source else
               f"Moved {res.removed} samples to the Trash (restorable for {self.store.settings.trash_days:g} days)")
        if res.errors:
            gr.Warning(msg + f"; {len(res.errors)} files could not be deleted: {res.errors[0]}")
        else:
            gr.Info(msg)
        return self.view(*args) + [False, False]

    # -- the preview -------------------------------------------------------------------------------------
    @user_errors
    def on_preview(self, job_id, grid_v):
        sid = preview_id(grid_v)
        if sid is None or job_id is None:
            return skips(len(self.preview_outputs))
        return self.preview_of(job_id, sid)

    @user_errors
    def on_link(self, job_id, sid):
        """A deep link named a sample (pages/links.py checked it is the job's): preview it."""
        if sid is None or job_id is None:
            return skips(len(self.preview_outputs))
        return self.preview_of(job_id, int(sid))

    def preview_of(self, job_id, sid) -> list:
        """The preview of one image: the image, what is known of it, its labels, and a link to it
        (which also names the open sample for the address bar: assets/links.js)."""
        s = get_sample(self.store, job_id, sid, actor=acting_user())
        try:
            image = sample_image(self.store, sid, actor=acting_user())
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
        link = (f'<a class="lp-sample-link" data-open-sample="{int(sid)}" '
                f'href="?job={int(job_id)}&amp;tab=label&amp;sample={int(sid)}">Link to this image</a>')
        return [image, info, gr.update(value=s.labels), sid, gr.update(open=True), link,
                *self.versions.values(job_id, s)]

    @user_errors
    def on_preview_save(self, sid, labels, *rest):
        """Save the preview's labels (inputs: the view's, then the version the preview opened and,
        for Keep mine after a conflict, the newer version); a label typed anew joins the job's set."""
        over = rest[-1] if len(rest) > len(self.inputs) + 1 else None
        args, opened = rest[:len(self.inputs)], rest[len(self.inputs)]
        if sid is None or args[0] is None:
            raise UserError("open a sample in the preview first")
        job_id, picked, actor = args[0], list(dict.fromkeys(labels or [])), acting_user()
        job = self.job(job_id)
        new = [Label(n) for n in picked if job is not None and n not in job.label_set.names()]
        if new:
            add_labels_to_set(self.store, job_id, new, actor)
        conflict = self.versions.save(job_id, sid, opened, over, lambda expected: set_annotation(
            self.store, job_id, int(sid), {"labels": picked}, actor=actor, expected_version=expected))
        if conflict is not None:
            return self.versions.conflict_updates(conflict, self.outputs + self.versions.outputs)
        gr.Info("Saved")
        s = get_sample(self.store, job_id, int(sid), actor=actor)
        return self.view(*args) + self.versions.values(job_id, s)


def build(ctx: AppContext, current_job: gr.State) -> ImageGridPage:
    return ImageGridPage(ctx, current_job)
