"""What the two shape canvas pages share (the image page of object detection and image
segmentation, shapes.py; the video page, video.py): the canvas's value as a page reads it (the
open sample, unsaved changes), the labels the canvas offers, the labels drawn with a new name,
the Save button."""
from __future__ import annotations

import gradio as gr

from components.shape_canvas import new_labels_of
from store.annotations import add_labels_to_set
from store.labelset import Label

from ..common import acting_user


def canvas_labels(job) -> list[dict]:
    """The job's labels as the canvas offers them (name, color, attributes)."""
    return [{"name": lab.name, "color": lab.color or "#e6194b", "attributes": lab.attributes}
            for lab in job.label_set.labels]


def is_dirty(value) -> bool:
    """The canvas holds unsaved changes."""
    return isinstance(value, dict) and bool(value.get("dirty"))


def open_sample(value):
    """The sample open on the canvas, as the browser sent it (None: none)."""
    return value.get("sample_id") if isinstance(value, dict) else None


def open_if_dirty(value) -> int | None:
    """The open sample while it holds unsaved changes: a list that moves keeps it open."""
    sid = open_sample(value)
    return int(sid) if is_dirty(value) and sid is not None else None


def save_js(canvas: gr.HTML) -> str:
    """The Save button's click, in the browser: the canvas saves as on Ctrl+S (its save event sends
    the value once; a server step setting "action" first sent the whole value there and back)."""
    return (f"() => {{ const r = document.querySelector('#{canvas.elem_id} .sc-root');"
            " if (r && r.__shapeCanvas) r.__shapeCanvas.save(); }")


def wire_save(button: gr.Button, canvas: gr.HTML, handler, inputs: list, outputs: list) -> None:
    """Ctrl+S in the canvas and the Save button run `handler`."""
    canvas.save(handler, inputs, outputs)
    button.click(None, None, None, js=save_js(canvas))


def add_drawn_labels(store, job_id, value) -> None:
    """Labels named in the canvas that the job does not have yet join its label set."""
    new = [Label(lab["name"], lab.get("color") or "") for lab in new_labels_of(value)]
    if new:
        add_labels_to_set(store, job_id, new, acting_user())
