"""The shape labeling page shared by object detection (F3.2) and image segmentation (F3.3):
a strip of thumbnails, the drawing widget, save / navigate, the shapes of the open image."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from components.autolabel_panel import build_autolabel_panel
from components.data_panel import build_data_panel, history_frame
from components.sample_grid import grid_value, preview_id, sample_grid
from components.shape_canvas import action_of, canvas_value, new_labels_of, shape_canvas, shapes_of
from store.annotations import add_labels_to_set, set_annotation
from store.jobs import get_job
from store.labelset import Label
from store.predictions import confirm_samples
from store.samples import TABS, SampleQuery, counts, get_sample, query_samples, sample_size

from .common import AppContext, UserError, acting_user, esc, keep_unsaved, unsaved_message, user_errors

TOOLS = {"object_detection": ["rectangle", "polygon", "circle", "line", "dashed_line", "point"],
         "image_segmentation": ["polygon", "extreme_points"]}
PAGE_SIZE = 24


@dataclass
class ShapesPage:
    load_outputs: list
    load: Any  # (job_id) -> updates


def _labels_for_canvas(job) -> list[dict]:
    return [{"name": lab.name, "color": lab.color or "#e6194b", "attributes": lab.attributes}
            for lab in job.label_set.labels]


def build(ctx: AppContext, current_job: gr.State, type_id: str) -> ShapesPage:
    store = ctx.store
    prefix = "od" if type_id == "object_detection" else "seg"
    with gr.Row():
        header = gr.Markdown("Pick a job in My Creations, then press Label.", elem_id=f"{prefix}-header")
        describe_btn = gr.Button("Labeling Description", size="sm", scale=0, elem_id=f"{prefix}-describe")
    description = gr.Markdown(visible=False, elem_classes=["lp-description"])
    with gr.Row():
        tab = gr.Radio([(v, k) for k, v in TABS.items()], value="all", label="Status", scale=3,
                       elem_id=f"{prefix}-tabs")
        name_filter = gr.Textbox(label="File name contains", scale=1, elem_id=f"{prefix}-name")
    with gr.Row():
        with gr.Column(scale=1, min_width=240):
            grid = sample_grid(open_on_click=True, elem_id=f"{prefix}-grid")
            with gr.Row():
                prev_page = gr.Button("◀", size="sm", min_width=40, elem_id=f"{prefix}-prev-page")
                page_info = gr.Markdown("", elem_id=f"{prefix}-page-info")
                next_page = gr.Button("▶", size="sm", min_width=40, elem_id=f"{prefix}-next-page")
        with gr.Column(scale=4):
            canvas = shape_canvas(elem_id=f"{prefix}-canvas")
            with gr.Row():
                save_btn = gr.Button("Save (Ctrl+S)", variant="primary", scale=0, min_width=140,
                                     elem_id=f"{prefix}-save")
                discard_btn = gr.Button("Discard changes", scale=0, min_width=140, elem_id=f"{prefix}-discard")
                confirm_btn = gr.Button("Confirm this image", scale=0, min_width=150, elem_id=f"{prefix}-confirm")
                sample_info = gr.Markdown(elem_id=f"{prefix}-sample-info")
            shapes_table = gr.Dataframe(interactive=False, label="Shapes on this image", elem_id=f"{prefix}-shapes")
    data = build_data_panel(ctx, current_job, type_id, prefix=f"{prefix}-")
    auto = build_autolabel_panel(ctx, current_job, type_id, prefix=prefix)
    page_state = gr.State(1)
    described = gr.State(False)

    # wiring ---------------------------------------------------------------------------------
    def page_of(job_id, tab_v, name, page):
        return query_samples(store, job_id, SampleQuery(status=tab_v or "all", name=name or "",
                                                        page=int(page or 1), page_size=PAGE_SIZE), actor=acting_user())

    def grid_items(p, open_id=None):
        items = [{"id": s.id, "name": s.name, "thumb": f"/media/{s.id}/thumb",
                  "labels": list(dict.fromkeys(s.labels)), "hard": s.hard, "status": s.status} for s in p.items]
        return grid_value(items, [open_id] if open_id else [], open_on_click=True)

    def open_value(job, sample_id, previous=None):
        s = get_sample(store, job.id, sample_id, actor=acting_user())
        w, h = sample_size(store, sample_id, actor=acting_user())
        prev = previous if isinstance(previous, dict) else {}
        tools = TOOLS[type_id]
        tool = prev.get("tool") if prev.get("tool") in tools else tools[0]
        value = canvas_value(sample_id, f"/media/{sample_id}/display", w, h, (s.annotation or {}).get("shapes", []),
                             _labels_for_canvas(job), tools, tool=tool, label=prev.get("label"))
        who = (f"labeled by **{esc(s.labeled_by)}** on {s.labeled_at:%Y-%m-%d %H:%M}" if s.labeled_at and s.labeled_by
               else "not labeled yet")
        info = f"**{esc(s.name)}** · {w}×{h} px · {s.status.replace('_', ' ')} · {who}"
        if s.confidence is not None:
            info += f" · predicted by {esc(s.model or 'a model')} with confidence {s.confidence:.2f}"
        return value, info, _shapes_frame(value["shapes"])

    def view(job_id, tab_v, name, page, open_id=None, previous=None):
        job = get_job(store, job_id, actor=acting_user())
        c = counts(store, job_id, actor=acting_user())
        p = page_of(job_id, tab_v, name, page)
        if open_id is None and p.items:
            open_id = p.items[0].id
        tabs = [(f"{v} ({c.total if k == 'all' else c.by_status[k]})", k) for k, v in TABS.items()]
        head = (f"### {esc(job.name)}\n{esc(job.labeling_type.title)} · {c.by_status['labeled']}/{c.total} labeled"
                " · keys: 1-6 tools, A/D previous/next, Ctrl+S save, Ctrl+Z undo, Shift+H hide, wheel zoom")
        if open_id is not None:
            value, info, frame = open_value(job, open_id, previous)
        else:
            value, info, frame = canvas_value(None, "", 0, 0, [], _labels_for_canvas(job), TOOLS[type_id]), \
                "No image in this view.", _shapes_frame([])
        return [head, gr.Radio(choices=tabs, value=tab_v or "all"), grid_items(p, open_id),
                f"page {p.page} of {p.pages}", value, info, frame, p.page,
                job.instructions or "_This job has no labeling instructions._"]

    view_outputs = [header, tab, grid, page_info, canvas, sample_info, shapes_table, page_state, description]

    def load(job_id, sample_id=None):  # sample_id: a deep link's (pages/links.py checked it is the job's)
        return view(job_id, "all", "", 1, open_id=sample_id) + [history_frame(ctx, job_id)] + auto.load(job_id)

    @user_errors
    def on_filter(job_id, tab_v, name, value):
        if job_id is None:
            return [gr.skip()] * len(view_outputs)
        return keep_unsaved(view(job_id, tab_v, name, 1, open_id=_open_if_dirty(value), previous=value),
                            view_outputs, EDITOR, _dirty(value))

    def pager(delta):
        @user_errors
        def go(job_id, tab_v, name, page, value):
            if job_id is None:
                return [gr.skip()] * len(view_outputs)
            return keep_unsaved(view(job_id, tab_v, name, max(1, int(page or 1) + delta), open_id=_open_if_dirty(value),
                                     previous=value), view_outputs, EDITOR, _dirty(value))
        return go

    def _dirty(value) -> bool:
        return isinstance(value, dict) and bool(value.get("dirty"))

    def _open_if_dirty(value):
        return int(value["sample_id"]) if _dirty(value) and value.get("sample_id") is not None else None

    @user_errors
    def on_open(job_id, grid_v, value):
        sid = preview_id(grid_v)
        if job_id is None or sid is None:
            return [gr.skip()] * 4
        if _dirty(value) and value.get("sample_id") != sid:
            gr.Warning(unsaved_message("image"))
            items = grid_v.get("items") if isinstance(grid_v, dict) else None  # the open image stays highlighted
            return [gr.skip()] * 3 + [grid_value(items or [], [value.get("sample_id")])]
        job = get_job(store, job_id, actor=acting_user())
        v, info, frame = open_value(job, sid, value)
        return [v, info, frame, grid_v]

    def _neighbour(job_id, tab_v, name, page, sample_id, step):
        """The sample before/after `sample_id` in the current view, crossing page boundaries."""
        p = page_of(job_id, tab_v, name, page)
        ids = [s.id for s in p.items]
        if sample_id in ids:
            i = ids.index(sample_id) + step
            if 0 <= i < len(ids):
                return ids[i], p.page
        elif sample_id is not None:  # it left the view (saved on the Unlabeled tab); views are in id order
            later = [i for i in ids if (i > sample_id if step > 0 else i < sample_id)]
            if later:
                return (later[0] if step > 0 else later[-1]), p.page
        target = p.page + step
        if 1 <= target <= p.pages:
            q = page_of(job_id, tab_v, name, target)
            if q.items:
                return (q.items[0].id if step > 0 else q.items[-1].id), q.page
        return None, p.page

    def _go(job_id, tab_v, name, page, value, step):
        sid = value.get("sample_id") if isinstance(value, dict) else None
        target, new_page = _neighbour(job_id, tab_v, name, page, sid, step)
        if target is None:
            gr.Info("This is the " + ("last" if step > 0 else "first") + " image of the view")
            return view(job_id, tab_v, name, page, open_id=sid, previous=value)
        return view(job_id, tab_v, name, new_page, open_id=target, previous=value)

    @user_errors
    def on_save(request: gr.Request, job_id, tab_v, name, page, value):
        if job_id is None or not isinstance(value, dict) or value.get("sample_id") is None:
            raise UserError("open an image first")
        actor = ctx.actor(request)
        new = [Label(lab["name"], lab.get("color") or "") for lab in new_labels_of(value)]
        if new:
            add_labels_to_set(store, job_id, new, actor)
        set_annotation(store, job_id, int(value["sample_id"]), {"shapes": shapes_of(value)}, actor=actor)
        action = action_of(value) or "save"
        n = len(shapes_of(value))
        gr.Info(f"Saved {n} shape{'' if n == 1 else 's'}" if n
                else "Saved: no shapes left, the image is back in Unlabeled")
        if action in ("save_next", "save_prev"):
            return _go(job_id, tab_v, name, page, {**value, "dirty": False}, 1 if action == "save_next" else -1)
        return view(job_id, tab_v, name, page, open_id=int(value["sample_id"]), previous=value)

    @user_errors
    def on_navigate(job_id, tab_v, name, page, value):
        if job_id is None or not isinstance(value, dict):
            return [gr.skip()] * len(view_outputs)
        action = action_of(value)
        if action not in ("prev", "next"):
            return [gr.skip()] * len(view_outputs)
        return _go(job_id, tab_v, name, page, {**value, "dirty": False}, 1 if action == "next" else -1)

    @user_errors
    def on_discard(job_id, tab_v, name, page, value):
        if job_id is None:
            return [gr.skip()] * len(view_outputs)
        sid = value.get("sample_id") if isinstance(value, dict) else None
        return view(job_id, tab_v, name, page, open_id=sid, previous=value)

    @user_errors
    def on_confirm(request: gr.Request, job_id, tab_v, name, page, value):
        sid = value.get("sample_id") if isinstance(value, dict) else None
        if job_id is None or sid is None:
            raise UserError("open an image first")
        if value.get("dirty"):
            raise UserError("this image has unsaved changes: Save them (saving confirms the image too)")
        confirm_samples(store, job_id, [int(sid)], actor=ctx.actor(request))
        gr.Info("Confirmed: the image is Labeled")
        return view(job_id, tab_v, name, page, open_id=int(sid), previous=value)

    EDITOR = (canvas, sample_info, shapes_table)  # what keep_unsaved leaves alone
    inputs = [current_job, tab, name_filter, page_state, canvas]
    tab.input(on_filter, [current_job, tab, name_filter, canvas], view_outputs)
    name_filter.submit(on_filter, [current_job, tab, name_filter, canvas], view_outputs)
    prev_page.click(pager(-1), inputs, view_outputs)
    next_page.click(pager(1), inputs, view_outputs)
    grid.preview(on_open, [current_job, grid, canvas], [canvas, sample_info, shapes_table, grid])
    canvas.save(on_save, inputs, view_outputs)
    save_btn.click(lambda v: {**v, "action": "save"} if isinstance(v, dict) else v, [canvas], [canvas]).then(
        on_save, inputs, view_outputs)
    canvas.navigate(on_navigate, inputs, view_outputs)
    canvas.change(lambda v: _shapes_frame(shapes_of(v)), [canvas], [shapes_table])
    discard_btn.click(on_discard, inputs, view_outputs)
    confirm_btn.click(on_confirm, inputs, view_outputs)
    for event in data.events:  # after an import the view shows the new samples and shapes
        event.success(on_discard, inputs, view_outputs)
    def on_auto_done(job_id, tab_v, name, page, value):
        """After a finished run, a bulk confirm or discard: new tabs and boxes, but an image with
        unsaved changes keeps them."""
        if job_id is None:
            return [gr.skip()] * len(view_outputs)
        sid = value.get("sample_id") if isinstance(value, dict) else None
        return keep_unsaved(view(job_id, tab_v, name, page, open_id=sid, previous=value), view_outputs, EDITOR,
                            _dirty(value))

    for event in auto.events:
        event.success(user_errors(on_auto_done), inputs, view_outputs)
    describe_btn.click(lambda shown: (gr.Markdown(visible=not shown), not shown), [described], [description, described])
    return ShapesPage(view_outputs + [data.history] + auto.outputs, load)


def _shapes_frame(shapes: list[dict]) -> pd.DataFrame:
    rows = [[i + 1, s.get("label", ""), s.get("type", "").replace("_", " "), len(s.get("points", [])),
             ", ".join(f"{k}={v}" for k, v in (s.get("attributes") or {}).items())] for i, s in enumerate(shapes)]
    return pd.DataFrame(rows, columns=["#", "Label", "Shape", "Points", "Attributes"])
