"""Quick review (F3.4): all shapes of one label as crops, sorted by area or aspect ratio; relabel,
adjust or delete them (marked Modified / Deleted), undo / redo / undo all, then Apply or Cancel."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import gradio as gr

from components.sample_grid import grid_value, sample_grid, selected_ids
from store.errors import NotFound
from store.jobs import get_job
from store.review import Modification, apply_modifications, shapes_of_label

from .common import AppContext, PageHandlers, UserError, acting_user, esc, user_errors

SORTS = {"Area": "area", "Aspect ratio": "aspect_ratio"}
PAGE_SIZE = 48


@dataclass
class QuickReviewPage:
    load_outputs: list
    load: Any


def render(crop_rows, mod_rows, selected=(), page_no=1):
    """The grid of one page of crops (each with its latest modification) and the status line."""
    latest: dict[tuple, dict] = {}
    for m in mod_rows:
        latest[(m["sample_id"], m["shape_id"])] = m
    items = []
    pages = max(1, -(-len(crop_rows) // PAGE_SIZE))
    page_no = min(max(1, int(page_no or 1)), pages)
    first = (page_no - 1) * PAGE_SIZE
    for i, c in enumerate(crop_rows[first:first + PAGE_SIZE], start=first):
        m = latest.get((c["sample_id"], c["shape_id"]))
        x1, y1, x2, y2 = m["bbox"] if m and m.get("bbox") else c["bbox"]
        tags = [c["label"]]
        if m and m["action"] == "delete":
            tags = ["Deleted"]
        elif m:
            tags = [m.get("label") or c["label"], "Modified"]
        items.append({"id": i, "name": f"{c['file']} · {c['type']} · {c['area']:.0f} px²",
                      "thumb": f"/media/{c['sample_id']}/crop?x1={x1}&y1={y1}&x2={x2}&y2={y2}",
                      "labels": tags, "hard": False, "status": ""})
    n = len({(m["sample_id"], m["shape_id"]) for m in mod_rows})
    return (grid_value(items, list(selected)),
            f"{len(crop_rows)} shapes · page {page_no} of {pages} · {n} modified, not applied yet")


def _targets(grid_v, crop_rows):
    ids = selected_ids(grid_v)
    if not ids:
        raise UserError("select shapes first (click their crops)")
    return [crop_rows[i] for i in ids if 0 <= i < len(crop_rows)]


def _modified(crop_rows, rows, page_no):
    """The outputs after a modification: grid, modifications, an empty redo list, status."""
    grid_v, text = render(crop_rows, rows, page_no=page_no)
    return grid_v, rows, [], text


@user_errors
def on_relabel(grid_v, crop_rows, mod_rows, new_label, page_no):
    if not new_label:
        raise UserError("choose the new label")
    added = [{"sample_id": c["sample_id"], "shape_id": c["shape_id"], "action": "relabel", "label": new_label,
              "batch": len(mod_rows)} for c in _targets(grid_v, crop_rows)]
    return _modified(crop_rows, mod_rows + added, page_no)


@user_errors
def on_delete(grid_v, crop_rows, mod_rows, page_no):
    added = [{"sample_id": c["sample_id"], "shape_id": c["shape_id"], "action": "delete", "batch": len(mod_rows)}
             for c in _targets(grid_v, crop_rows)]
    return _modified(crop_rows, mod_rows + added, page_no)


@user_errors
def on_adjust(grid_v, crop_rows, mod_rows, page_no, x1, y1, x2, y2):
    targets = _targets(grid_v, crop_rows)
    if len(targets) != 1:
        raise UserError("select exactly one shape to adjust")
    c = targets[0]
    if None in (x1, y1, x2, y2) or x2 <= x1 or y2 <= y1:
        raise UserError("give a box with x min < x max and y min < y max")
    ox1, oy1, ox2, oy2 = c["bbox"]
    sx, sy = (x2 - x1) / max(ox2 - ox1, 1e-9), (y2 - y1) / max(oy2 - oy1, 1e-9)
    points = [[x1 + (px - ox1) * sx, y1 + (py - oy1) * sy] for px, py in c["points"]]
    mod = {"sample_id": c["sample_id"], "shape_id": c["shape_id"], "action": "adjust", "points": points,
           "bbox": [x1, y1, x2, y2]}
    if c["type"] == "circle":
        mod["points"] = [[(x1 + x2) / 2, (y1 + y2) / 2]]
        mod["radius"] = min(x2 - x1, y2 - y1) / 2
    return _modified(crop_rows, mod_rows + [mod], page_no)


def on_select(grid_v, crop_rows):
    ids = selected_ids(grid_v)
    if len(ids) == 1 and 0 <= ids[0] < len(crop_rows):
        return [round(v, 1) for v in crop_rows[ids[0]]["bbox"]]
    return [gr.skip()] * 4


def _last_action(rows):
    """How many rows at the end of `rows` one action made (rows of a relabel / delete share a batch)."""
    batch, n = rows[-1].get("batch"), 1
    while batch is not None and n < len(rows) and rows[-1 - n].get("batch") == batch:
        n += 1
    return n


def on_undo(crop_rows, mod_rows, redo_rows, page_no):
    if not mod_rows:
        return gr.skip(), mod_rows, redo_rows, "Nothing to undo"
    n = _last_action(mod_rows)  # one click on Relabel / Delete is one action, however many crops
    rows, undone = mod_rows[:-n], mod_rows[-n:]
    grid_v, text = render(crop_rows, rows, page_no=page_no)
    return grid_v, rows, redo_rows + undone[::-1], text


def on_redo(crop_rows, mod_rows, redo_rows, page_no):
    if not redo_rows:
        return gr.skip(), mod_rows, redo_rows, "Nothing to redo"
    n = _last_action(redo_rows)
    rows = mod_rows + redo_rows[-n:][::-1]
    grid_v, text = render(crop_rows, rows, page_no=page_no)
    return grid_v, rows, redo_rows[:-n], text


def on_undo_all(crop_rows, mod_rows, page_no):
    grid_v, text = render(crop_rows, [], page_no=page_no)
    return grid_v, [], list(reversed(mod_rows)), text


def on_cancel(crop_rows, page_no):
    grid_v, text = render(crop_rows, [], page_no=page_no)
    return grid_v, [], [], "Modifications cancelled. " + text


def _turn_page(crop_rows, mod_rows, page_no, delta):
    pages = max(1, -(-len(crop_rows) // PAGE_SIZE))
    page_no = min(max(1, int(page_no or 1) + delta), pages)
    grid_v, text = render(crop_rows, mod_rows, page_no=page_no)
    return grid_v, text, page_no


def go_previous(crop_rows, mod_rows, page_no):
    return _turn_page(crop_rows, mod_rows, page_no, -1)


def go_next(crop_rows, mod_rows, page_no):
    return _turn_page(crop_rows, mod_rows, page_no, 1)


go_previous.__name__ = go_next.__name__ = "go"  # the events' API names, as they always were


class QuickReviewHandlers(PageHandlers):
    """The Quick review events that read or change the store (the others are the functions above)."""

    def load(self, job_id):
        if job_id is None:
            return [gr.skip()] * 7
        try:
            job = get_job(self.store, job_id, actor=acting_user())
        except NotFound:
            return ["This job no longer exists."] + [gr.skip()] * 6
        names = job.label_set.names()
        if job.type not in ("object_detection", "image_segmentation"):
            return ["Quick review is for object detection and image segmentation jobs.",
                    gr.Dropdown(choices=[], value=None), gr.Dropdown(choices=[]), grid_value([]), [], [], ""]
        return [f"### Quick review: {esc(job.name)}", gr.Dropdown(choices=names, value=names[0] if names else None),
                gr.Dropdown(choices=names), grid_value([]), [], [], ""]

    def _shapes(self, job_id, label_v, sort_v, desc):
        """Everything after (re)reading the label's shapes: grid, crops, no modifications, no redo,
        status, page 1."""
        rows = [asdict(c) for c in shapes_of_label(self.store, job_id, label_v, SORTS[sort_v], bool(desc),
                                                   actor=acting_user())]
        grid_v, text = render(rows, [])
        return grid_v, rows, [], [], text, 1

    @user_errors
    def on_load(self, job_id, label_v, sort_v, desc, mod_rows):
        if job_id is None or not label_v:
            raise UserError("pick a job and a label first")
        if mod_rows:
            gr.Warning("Unapplied modifications were dropped")
        return self._shapes(job_id, label_v, sort_v, desc)

    @user_errors
    def on_apply(self, request: gr.Request, job_id, label_v, sort_v, desc, mod_rows):
        if not mod_rows:
            raise UserError("there are no modifications to apply")
        m = [Modification(r["sample_id"], r["shape_id"], r["action"], r.get("label"), r.get("points"),
                          r.get("radius")) for r in mod_rows]
        n = apply_modifications(self.store, job_id, m, actor=self.ctx.actor(request))
        gr.Info(f"Applied: {n} images changed")
        return self._shapes(job_id, label_v, sort_v, desc)


def build(ctx: AppContext, current_job: gr.State) -> QuickReviewPage:
    header = gr.Markdown("Quick review is for object detection and image segmentation jobs.", elem_id="qr-header")
    with gr.Row():
        label = gr.Dropdown([], label="Label", elem_id="qr-label")
        sort = gr.Radio(list(SORTS), value="Area", label="Sort by", elem_id="qr-sort")
        descending = gr.Checkbox(value=True, label="Largest first")
        load_btn = gr.Button("Show shapes", variant="primary", scale=0, min_width=140, elem_id="qr-load")
    with gr.Row():
        relabel_to = gr.Dropdown([], label="Relabel selected to", elem_id="qr-relabel-to")
        relabel_btn = gr.Button("Relabel", elem_id="qr-relabel", scale=0, min_width=100)
        delete_btn = gr.Button("Delete selected", variant="stop", elem_id="qr-delete", scale=0, min_width=140)
    with gr.Row():
        adj = [gr.Number(label=n, precision=1, min_width=80) for n in ("x min", "y min", "x max", "y max")]
        adjust_btn = gr.Button("Adjust the selected shape's box", elem_id="qr-adjust", scale=0, min_width=200)
    with gr.Row():
        undo_btn = gr.Button("Undo", size="sm", elem_id="qr-undo")
        redo_btn = gr.Button("Redo", size="sm", elem_id="qr-redo")
        undo_all_btn = gr.Button("Undo all", size="sm", elem_id="qr-undo-all")
        apply_btn = gr.Button("Apply Modifications", variant="primary", elem_id="qr-apply")
        cancel_btn = gr.Button("Cancel Modifications", elem_id="qr-cancel")
    status = gr.Markdown(elem_id="qr-status")
    with gr.Row():
        prev_btn = gr.Button("◀ Previous", size="sm", scale=0, min_width=100, elem_id="qr-prev")
        next_btn = gr.Button("Next ▶", size="sm", scale=0, min_width=100, elem_id="qr-next")
    crops = sample_grid(elem_id="qr-crops")
    page = gr.State(1)
    crop_list = gr.State([])  # ShapeCrop dicts, index = grid id
    mods = gr.State([])  # Modification dicts, in order
    redo = gr.State([])

    # wiring ---------------------------------------------------------------------------------
    h = QuickReviewHandlers(ctx)
    changed = [crops, mods, redo, status]
    reloaded = [crops, crop_list, mods, redo, status, page]
    prev_btn.click(go_previous, [crop_list, mods, page], [crops, status, page])
    next_btn.click(go_next, [crop_list, mods, page], [crops, status, page])
    load_btn.click(h.on_load, [current_job, label, sort, descending, mods], reloaded)
    relabel_btn.click(on_relabel, [crops, crop_list, mods, relabel_to, page], changed)
    delete_btn.click(on_delete, [crops, crop_list, mods, page], changed)
    adjust_btn.click(on_adjust, [crops, crop_list, mods, page, *adj], changed)
    crops.change(on_select, [crops, crop_list], adj)
    undo_btn.click(on_undo, [crop_list, mods, redo, page], changed)
    redo_btn.click(on_redo, [crop_list, mods, redo, page], changed)
    undo_all_btn.click(on_undo_all, [crop_list, mods, page], changed)
    apply_btn.click(h.on_apply, [current_job, label, sort, descending, mods], reloaded)
    cancel_btn.click(on_cancel, [crop_list, page], changed)
    return QuickReviewPage([header, label, relabel_to, crops, crop_list, mods, status], h.load)
