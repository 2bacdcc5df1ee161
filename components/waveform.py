"""The waveform segment editor (speech paragraph labeling, F3.10).

A gr.HTML widget; its JavaScript (assets/waveform.js) draws the waveform of the visible window
only (peaks fetched from ``/media/{id}/peaks?start=&end=&buckets=``, so a 2-hour file never loads
whole), plays the file (an <audio> element on ``/media/{id}/file``) or just one segment, and edits
segments. Its value is a dict:

    {"sample_id": int | None, "audio": url, "duration": seconds,
     "segments": [{"id": "S1", "start": s, "end": s,
                   "label": name                 (single-label mode: no classes)
                   "labels": {class: label}      (multi-label mode: classes given)
                   "content": str}],             (when speech_content)
     "labels": [{"name", "color"}], "classes": [{"name", "labels": [names]}],
     "speech_content": bool, "selected": segment id | None, "dirty": bool,
     "message": str | None, "action": "save" | "prev" | "next" | None}

Mouse: drag on the waveform to make a segment, drag a segment's edge to adjust it, click a
segment to select it. Segments may overlap; they must lie within [0, duration] (the widget
refuses others with a visible message). Keys (focus outside text fields, the widget visible):
Space play/pause, P play the selected segment, 1-9 give the selected segment a label (single-label
mode: the labels in order; multi-label mode: the labels of every class, class after class, so that
a class's key replaces the segment's label of that class; each select names its keys), Delete
remove it, Escape deselect, + / - zoom, Ctrl+S save, Alt+Left / Alt+Right previous / next file.

Events: ``.change`` (Gradio fires it whenever the value changes; do not output to the widget
from a .change handler), ``.save`` (Ctrl+S) and ``.navigate`` (``action`` "prev" / "next").
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import gradio as gr

from components.widget_js import widget_js

ASSETS = Path(__file__).resolve().parent.parent / "assets"
TEMPLATE = '<div class="wf-root" data-testid="waveform"></div>'
PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45"]
_HEX6 = re.compile(r"^#[0-9a-fA-F]{6}$")


def _asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def _css() -> str:
    css = _asset("waveform.css")
    for bad in ("`", "${", "{{", "\\"):  # css_template is a JS template string and a Handlebars template
        if bad in css:
            raise ValueError(f"assets/waveform.css must not contain {bad!r}")
    return css


def _labels(items) -> list[dict]:
    out, seen = [], set()
    for i, item in enumerate(items or []):
        name = item.get("name") if isinstance(item, dict) else getattr(item, "name", item)
        color = item.get("color") if isinstance(item, dict) else getattr(item, "color", "")
        if not isinstance(name, str) or name in seen:
            continue
        seen.add(name)
        out.append({"name": name, "color": color.lower() if isinstance(color, str) and _HEX6.match(color)
                    else PALETTE[i % len(PALETTE)]})
    return out


def _classes(items) -> list[dict]:
    out = []
    for c in items or []:
        name = c.get("name") if isinstance(c, dict) else getattr(c, "name", None)
        labels = c.get("labels") if isinstance(c, dict) else getattr(c, "labels", None)
        if isinstance(name, str) and isinstance(labels, (list, tuple)):
            out.append({"name": name, "labels": [str(x) for x in labels]})
    return out


def _num(x) -> float | None:
    try:
        return round(float(x), 3)
    except (TypeError, ValueError):
        return None


def segments_of(items, multi: bool, speech_content: bool) -> list[dict]:
    """Segments in the widget's shape (ids S1, S2... given where missing)."""
    out, used = [], set()
    for s in items or []:
        if isinstance(s, (list, tuple)) and len(s) >= 2:
            s = {"start": s[0], "end": s[1]}
        if not isinstance(s, dict):
            continue
        seg: dict[str, Any] = {"id": str(s["id"]) if s.get("id") not in (None, "") else None,
                               "start": _num(s.get("start")), "end": _num(s.get("end"))}
        if multi:
            seg["labels"] = dict(s.get("labels") or {}) if isinstance(s.get("labels"), dict) else {}
        else:
            seg["label"] = s.get("label") if isinstance(s.get("label"), str) else None
        if speech_content:
            seg["content"] = s.get("content") if isinstance(s.get("content"), str) else ""
        if isinstance(s.get("source"), str) and s["source"]:
            seg["source"] = s["source"]  # kept from an import (@modelarts:source)
        if seg["id"] in used:
            seg["id"] = None
        if seg["id"]:
            used.add(seg["id"])
        out.append(seg)
    n = 0
    for seg in out:
        if not seg["id"]:
            n += 1
            while f"S{n}" in used:
                n += 1
            seg["id"] = f"S{n}"
            used.add(seg["id"])
    return out


def waveform_value(sample_id, duration, annotation: dict | None, label_set=None, message: str | None = None,
                   segments=None, dirty: bool = False) -> dict:
    """The widget's value for one audio sample; ``annotation`` is the stored one (or None);
    ``segments`` (e.g. detected ones) replace the annotation's."""
    classes = _classes(getattr(label_set, "classes", None))
    speech = bool(getattr(label_set, "speech_content", False))
    ann = annotation if isinstance(annotation, dict) else {}
    labels = getattr(label_set, "labels", None) or []
    segs = segments_of(ann.get("segments") if segments is None else segments, bool(classes), speech)
    segs.sort(key=lambda s: (s["start"] if s["start"] is not None else 0, s["end"] or 0))
    return {
        "sample_id": int(sample_id) if sample_id is not None else None,
        "audio": f"/media/{int(sample_id)}/file" if sample_id is not None else "",
        "duration": float(duration or 0.0),
        "segments": segs,
        "labels": _labels(labels),
        "classes": classes,
        "speech_content": speech,
        "selected": None,
        "dirty": bool(dirty),
        "message": str(message) if message else None,
        "action": None,
    }


def annotation_of(value) -> dict:
    """What to save (validated by the store's type): {"segments": [...]}."""
    if not isinstance(value, dict):
        return {"segments": []}
    multi = bool(value.get("classes"))
    segs = segments_of(value.get("segments"), multi, bool(value.get("speech_content")))
    out = []
    for s in segs:
        seg = {"id": s["id"], "start": s["start"], "end": s["end"]}
        if multi:
            seg["labels"] = {k: v for k, v in s["labels"].items() if isinstance(v, str) and v}
        else:
            seg["label"] = s.get("label")
        for key in ("content", "source"):
            if key in s:
                seg[key] = s[key]
        out.append(seg)
    return {"segments": out}  # in the table's order: the store's messages number them the same way


def unlabeled_segments(value) -> list[int]:
    """1-based numbers (table order) of the segments without any label."""
    ann = annotation_of(value)
    return [i for i, s in enumerate(ann["segments"], start=1) if not (s.get("labels") or s.get("label"))]


def waveform(**kwargs) -> gr.HTML:
    """The widget. Events: ``.change``, ``.save``, ``.navigate`` (see the module doc)."""
    kwargs.setdefault("elem_id", "waveform")
    kwargs.setdefault("value", waveform_value(None, 0, None))
    kwargs.setdefault("apply_default_css", False)
    return gr.HTML(html_template=TEMPLATE, css_template=_css(), **widget_js("waveform", ("save", "navigate")), **kwargs)
