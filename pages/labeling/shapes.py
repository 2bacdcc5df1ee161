"""The shape canvas page: one page for object detection (F3.2) and image segmentation (F3.3),
filled per job with its type's tools and label rules.

The images of the view on the left (a strip of thumbnails, paged, status tabs with counts, a file
name filter), the drawing widget on the right (the type's shape tools: store/types, `tools`), Save
(Ctrl+S) / Discard / Confirm, the shapes of the open image in a table. A/D (or Save and next)
move across pages; the canvas asks Save / Discard / Cancel itself before leaving unsaved shapes,
opening another image with unsaved shapes is refused, and changing the tab, the filter or the
page keeps the open image and its changes. Labeling Description, Add data / Export and Auto
labeling come from the labeling view (base.py)."""
from __future__ import annotations

import json

import gradio as gr
import pandas as pd

from components.sample_grid import grid_value, preview_id, sample_grid
from components.shape_canvas import action_of, canvas_value, shape_canvas, shapes_of
from store.annotations import set_annotation
from store.jobs import get_job
from store.predictions import confirm_samples
from store.samples import get_sample, sample_size, segment_tools
from store.types import REGISTRY
from store.access import reads_only

from ..common import AppContext, UserError, acting_user, esc, unsaved_message, user_errors
from .base import (LabelingView, Pager, header_text, instructions, page_types, skips, status_tabs, toggle_description,
                   who_labeled)
from .canvas import add_drawn_labels, canvas_labels, is_dirty, open_if_dirty, open_sample, wire_save
from .versions import VersionPanel, shape_changes

PAGE_SIZE = 24
SHAPE_TYPES = page_types("pages.shapes")


def shapes_frame(shapes: list[dict]) -> pd.DataFrame:
    """The table of the shapes on the open image."""
    rows = [[i + 1, s.get("label", ""), s.get("type", "").replace("_", " "), len(s.get("points", [])),
             ", ".join(f"{k}={v}" for k, v in (s.get("attributes") or {}).items())] for i, s in enumerate(shapes)]
    return pd.DataFrame(rows, columns=["#", "Label", "Shape", "Points", "Attributes"])


def grid_items(p, open_id=None) -> dict:
    """The thumbnails of a page of the view, the open image highlighted."""
    items = [{"id": s.id, "name": s.name, "thumb": f"/media/{s.id}/thumb",
              "labels": list(dict.fromkeys(s.labels)), "hard": s.hard, "status": s.status} for s in p.items]
    return grid_value(items, [open_id] if open_id else [], open_on_click=True)


def compare_shapes(job, value, theirs: dict) -> list[list]:
    """Compare after a conflict: the canvas's shapes beside the newer version's."""
    return shape_changes(shapes_of(value), theirs.get("shapes") or [])


class ShapesPage(LabelingView):
    noun = "images"
    hint = "keys: 1-6 tools, A/D previous/next, Ctrl+S save, Ctrl+Z undo, Shift+H hide, wheel zoom"

    def __init__(self, ctx: AppContext, current_job: gr.State, type_ids: tuple[str, ...] = SHAPE_TYPES):
        # one page for every shape type: what differs (tools, label attributes) comes with the job;
        # this page's Labeling Description has no element id
        super().__init__(ctx, current_job, type_ids[0], "shapes", ids={"description": None}, type_ids=type_ids)
        self.versions = VersionPanel(self, compare=compare_shapes)
        self.build_header()
        with gr.Row():
            self.build_tabs(scale=3)
            self.name_filter = gr.Textbox(label="File name contains", scale=1, elem_id=self.eid("name"))
        with gr.Row():
            self.grid = self.build_paged_list(sample_grid, "grid", scale=1, min_width=240)
            with gr.Column(scale=4):
                self._build_editor()
        self.build_panels()
        self.page_state = gr.State(1)
        self.inputs = [current_job, self.tab, self.name_filter, self.page_state, self.canvas]
        self.outputs = [self.header, self.tab, self.grid, self.page_info, self.canvas, self.sample_info,
                        self.shapes_table, self.page_state, self.description] + self.versions.outputs
        # what keep_unsaved leaves alone: the canvas and what describes its image (its version too)
        self.editor = (self.canvas, self.sample_info, self.shapes_table, *self.versions.outputs)
        self._wire()

    def _build_editor(self) -> None:
        self.canvas = shape_canvas(elem_id=self.eid("canvas"))
        with gr.Row():
            self.save_btn = gr.Button("Save (Ctrl+S)", variant="primary", scale=0, min_width=140,
                                      elem_id=self.eid("save"))
            self.discard_btn = gr.Button("Discard changes", scale=0, min_width=140, elem_id=self.eid("discard"))
            self.confirm_btn = gr.Button("Confirm this image", scale=0, min_width=150, elem_id=self.eid("confirm"))
            self.sample_info = gr.Markdown(elem_id=self.eid("sample-info"))
        self.versions.build_notices()
        # the shapes as saved: refreshed when an image opens or is saved, not on every edit (each
        # edit sending the whole canvas value to the server cost seconds with 1,000 polygons)
        self.shapes_table = gr.Dataframe(interactive=False, label="Shapes on this image (as saved)",
                                         elem_id=self.eid("shapes"))
        self.versions.build_history()

    def _wire(self) -> None:
        inputs, outputs, canvas = self.inputs, self.outputs, self.canvas
        filter_inputs = [self.current_job, self.tab, self.name_filter, canvas]
        self.tab.input(self.on_filter, filter_inputs, outputs)
        self.name_filter.submit(self.on_filter, filter_inputs, outputs)
        self.prev_page.click(Pager(self, -1, page_index=3, view=self.browse), inputs, outputs)
        self.next_page.click(Pager(self, 1, page_index=3, view=self.browse), inputs, outputs)
        self.grid.preview(self.on_open, [self.current_job, self.grid, canvas],
                          [canvas, self.sample_info, self.shapes_table, self.grid] + self.versions.outputs)
        wire_save(self.save_btn, canvas, self.on_save, inputs + [self.versions.opened], outputs)
        self.versions.wire(self.on_discard, inputs, self.on_save, inputs, outputs, mine=canvas)
        canvas.navigate(self.on_navigate, inputs, outputs)
        self.discard_btn.click(self.on_discard, inputs, outputs)
        self.confirm_btn.click(self.on_confirm, inputs, outputs)
        for event in self.data.events + self.auto.events:  # an import, a finished run, a bulk confirm
            event.success(self.on_refresh, inputs, outputs)  # unsaved shapes stay (an import dropped them)
        self.describe_btn.click(toggle_description, [self.described], [self.description, self.described])

    # -- the view ------------------------------------------------------------------------------------
    def open_value(self, job, sample_id, previous=None):
        """The canvas's value for an image (the tool and label in use kept), its description, its
        shapes, and the sample as read (its version)."""
        s = get_sample(self.store, job.id, sample_id, actor=acting_user())
        w, h = sample_size(self.store, sample_id, actor=acting_user())
        prev = previous if isinstance(previous, dict) else {}
        tools = self.tools_for(job, sample_id)
        tool = prev.get("tool") if prev.get("tool") in tools else tools[0]
        value = canvas_value(sample_id, f"/media/{sample_id}/display", w, h, (s.annotation or {}).get("shapes", []),
                             canvas_labels(job), tools, tool=tool, label=prev.get("label"))
        info = f"**{esc(s.name)}** · {w}×{h} px · {s.status.replace('_', ' ')} · {who_labeled(s)}"
        if s.confidence is not None:
            info += f" · predicted by {esc(s.model or 'a model')} with confidence {s.confidence:.2f}"
        return value, info, shapes_frame(json.loads(value["shapes"])), s  # canvas_value wrote them checked

    def tools_for(self, job, sample_id) -> tuple:
        """The job's type's shape tools (the first the default), and click to segment where they
        take a SAM model and one is registered (store/samples.py segment_tools)."""
        kind = REGISTRY[job.type]
        if not kind.tool_model_tasks:
            return kind.tools
        sam = segment_tools(self.store, sample_id, actor=acting_user())["sam"]
        return (*kind.tools, "segment") if sam else kind.tools

    @reads_only
    def view(self, job_id, tab_v, name, page, open_id=None, previous=None):
        job = get_job(self.store, job_id, actor=acting_user())
        c = self.counts(job_id)
        p = self.query(job_id, tab_v, page, PAGE_SIZE, name=name or "")
        if open_id is None and p.items:
            open_id = p.items[0].id
        if open_id is not None:
            value, info, frame, s = self.open_value(job, open_id, previous)
        else:
            value = canvas_value(None, "", 0, 0, [], canvas_labels(job), REGISTRY[job.type].tools)
            info, frame, s = "No image in this view.", shapes_frame([]), None
        return [header_text(job, c, self.hint), status_tabs(c, tab_v), grid_items(p, open_id),
                f"page {p.page} of {p.pages}", value, info, frame, p.page, instructions(job),
                *self.versions.values(job.id, s)]

    def load(self, job_id, sample_id=None):  # sample_id: a deep link's (pages/links.py checked it is the job's)
        return self.view(job_id, "all", "", 1, open_id=sample_id)

    # -- the list's events -------------------------------------------------------------------------
    @user_errors
    def browse(self, job_id, tab_v, name, page, value, open_id=None):
        """The list moved (tab, filter, page) or was refreshed: its new view; an image with unsaved
        changes stays open with them."""
        if job_id is None:
            return skips(len(self.outputs))
        view = self.view(job_id, tab_v, name, page, open_id=open_id or open_if_dirty(value), previous=value)
        return self.keep_editor(view, is_dirty(value))

    @user_errors
    def on_filter(self, job_id, tab_v, name, value):
        return self.browse(job_id, tab_v, name, 1, value)

    @user_errors
    def on_refresh(self, job_id, tab_v, name, page, value):
        """After an import, a finished run, a bulk confirm or discard: new tabs and boxes, but an
        image with unsaved changes keeps them."""
        return self.browse(job_id, tab_v, name, page, value, open_id=open_sample(value))

    @user_errors
    def on_open(self, job_id, grid_v, value):
        sid = preview_id(grid_v)
        n = 4 + len(self.versions.outputs)
        if job_id is None or sid is None:
            return skips(n)
        if is_dirty(value) and value.get("sample_id") != sid:
            gr.Warning(unsaved_message("image"))
            items = grid_v.get("items") if isinstance(grid_v, dict) else None  # the open image stays highlighted
            return skips(3) + [grid_value(items or [], [value.get("sample_id")])] + skips(n - 4)
        job = get_job(self.store, job_id, actor=acting_user())
        value, info, frame, s = self.open_value(job, sid, value)
        return [value, info, frame, grid_v, *self.versions.values(job_id, s)]

    # -- the canvas's events -----------------------------------------------------------------------
    def go(self, job_id, tab_v, name, page, value, step: int):
        """The image after (1) or before (-1) the open one, across pages."""
        sid = open_sample(value)
        target, new_page = self.step_to(job_id, tab_v, page, sid, step, PAGE_SIZE, in_order=True, name=name or "")
        return self.view(job_id, tab_v, name, new_page, open_id=target, previous=value)

    def unsaved(self, args) -> bool:  # Restore in the History: refused while the canvas holds unsaved shapes
        return is_dirty(args[4])

    @user_errors
    def on_save(self, job_id, tab_v, name, page, value, opened=None, over=None):
        """Ctrl+S / Save (with the version the page opened); Keep mine after a conflict (`over`:
        the newer version, saved over knowingly)."""
        if job_id is None or not isinstance(value, dict) or value.get("sample_id") is None:
            raise UserError("open an image first")
        add_drawn_labels(self.store, job_id, value)
        drawn = shapes_of(value)
        sid, shapes = int(value["sample_id"]), {"shapes": drawn}
        conflict = self.versions.save(job_id, sid, opened, over, lambda expected: set_annotation(
            self.store, job_id, sid, shapes, actor=acting_user(), expected_version=expected))
        if conflict is not None:
            return self.versions.conflict_updates(conflict, self.outputs)
        action = "save" if over else (action_of(value) or "save")
        n = len(drawn)
        gr.Info(f"Saved {n} shape{'' if n == 1 else 's'}" if n
                else "Saved: no shapes left, the image is back in Unlabeled")
        if action in ("save_next", "save_prev"):
            return self.go(job_id, tab_v, name, page, {**value, "dirty": False}, 1 if action == "save_next" else -1)
        return self.view(job_id, tab_v, name, page, open_id=int(value["sample_id"]), previous=value)

    @user_errors
    def on_navigate(self, job_id, tab_v, name, page, value):
        if job_id is None or not isinstance(value, dict) or action_of(value) not in ("prev", "next"):
            return skips(len(self.outputs))
        return self.go(job_id, tab_v, name, page, {**value, "dirty": False}, 1 if action_of(value) == "next" else -1)

    @user_errors
    def on_discard(self, job_id, tab_v, name, page, value):
        if job_id is None:
            return skips(len(self.outputs))
        return self.view(job_id, tab_v, name, page, open_id=open_sample(value), previous=value)

    @user_errors
    def on_confirm(self, job_id, tab_v, name, page, value):
        sid = open_sample(value)
        if job_id is None or sid is None:
            raise UserError("open an image first")
        if value.get("dirty"):
            raise UserError("this image has unsaved changes: Save them (saving confirms the image too)")
        confirm_samples(self.store, job_id, [int(sid)], actor=acting_user())
        gr.Info("Confirmed: the image is Labeled")
        return self.view(job_id, tab_v, name, page, open_id=int(sid), previous=value)


def build(ctx: AppContext, current_job: gr.State) -> ShapesPage:
    return ShapesPage(ctx, current_job)
