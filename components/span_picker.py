"""The span picker: one text with its labeled spans (named entity recognition, F3.6) or its
entities and relations (text triplet, F3.7).

A gr.HTML widget; its JavaScript (assets/span_picker.js) renders the text, the label buttons and
the relation list. Its value is a dict:

    {"sample_id": int | None, "text": str, "mode": "ner" | "triplet",
     "spans": [{"id": "T1", "start": int, "end": int, "label": str}]            (mode "ner")
     "entities": [{"id": "E1", "start", "end", "label"}],                        (mode "triplet")
     "relations": [{"id": "R1", "from": "E1", "to": "E2", "label": str}],        (mode "triplet")
     "labels": [{"name", "color"}],              # entity labels, keys 1-9 pick the first nine
     "relations_allowed": [{"name", "source", "target"}],   # triplet: relationship labels
     "dirty": bool, "message": str | None, "action": "save" | None}

Offsets are code points into ``text`` (Python str indices), end exclusive; the browser converts
from UTF-16. Spans never overlap (the widget refuses an overlapping selection).

Events: ``.change`` (Gradio fires it whenever the value changes, in the browser or from Python;
do not output to the widget from a .change handler) and ``.save`` (Ctrl+S). After a save return
a fresh ``picker_value(...)`` (``dirty`` False).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import gradio as gr

from components.widget_js import widget_js

ASSETS = Path(__file__).resolve().parent.parent / "assets"
TEMPLATE = '<div class="sp-root" data-testid="span-picker"></div>'
PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45"]
_HEX6 = re.compile(r"^#[0-9a-fA-F]{6}$")


def _asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def _css() -> str:
    css = _asset("span_picker.css")
    for bad in ("`", "${", "{{", "\\"):  # css_template is a JS template string and a Handlebars template
        if bad in css:
            raise ValueError(f"assets/span_picker.css must not contain {bad!r}")
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


def _relations_allowed(items) -> list[dict]:
    out = []
    for r in items or []:
        get = r.get if isinstance(r, dict) else (lambda k, r=r: getattr(r, k, None))
        if all(isinstance(get(k), str) for k in ("name", "source", "target")):
            out.append({"name": get("name"), "source": get("source"), "target": get("target")})
    return out


def picker_value(sample_id, text: str | None, annotation: dict | None, labels, relations_allowed=(),
                 mode: str = "ner", message: str | None = None) -> dict:
    """The widget's value for one record; ``annotation`` is the stored one (or None)."""
    ann = annotation if isinstance(annotation, dict) else {}
    value: dict[str, Any] = {
        "sample_id": int(sample_id) if sample_id is not None else None,
        "text": text or "",
        "mode": "triplet" if mode == "triplet" else "ner",
        "labels": _labels(labels),
        "relations_allowed": _relations_allowed(relations_allowed) if mode == "triplet" else [],
        "dirty": False,
        "message": str(message) if message else None,
        "action": None,
    }
    if value["mode"] == "triplet":
        value["entities"] = _spans(ann.get("entities"))
        value["relations"] = _rels(ann.get("relations"))
    else:
        value["spans"] = _spans(ann.get("spans"))
    return value


def _spans(items) -> list[dict]:
    return [{"id": str(s.get("id")), "start": s.get("start"), "end": s.get("end"), "label": s.get("label")}
            for s in items or [] if isinstance(s, dict)]


def _rels(items) -> list[dict]:
    return [{"id": str(r.get("id")), "from": r.get("from"), "to": r.get("to"), "label": r.get("label")}
            for r in items or [] if isinstance(r, dict)]


def annotation_of(value) -> dict:
    """What to save (not validated here: the store's type checks it): {"spans": [...]} or
    {"entities": [...], "relations": [...]}."""
    if not isinstance(value, dict):
        return {"spans": []}
    if value.get("mode") == "triplet":
        return {"entities": _spans(value.get("entities")), "relations": _rels(value.get("relations"))}
    return {"spans": _spans(value.get("spans"))}


def span_picker(**kwargs) -> gr.HTML:
    """The widget. Events: ``.change``, ``.save`` (see the module doc)."""
    kwargs.setdefault("elem_id", "span-picker")
    kwargs.setdefault("value", picker_value(None, "", None, []))
    kwargs.setdefault("apply_default_css", False)
    return gr.HTML(html_template=TEMPLATE, css_template=_css(), **widget_js("span_picker", ("save",)), **kwargs)
