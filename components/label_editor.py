"""The label-set editor (issue 15): the labels of a job as rows, not a text box.

One row per label with its name, color, shortcut key (sound classification) and attributes
(detection, video: "name: value | value; other: value"); for text triplets, entity rows and
relation rows whose source and target are picked from the entities; for speech paragraphs, label
classes with their labels (multi-label mode) or plain labels. A quick-add box takes a comma list
(each name becomes a row, with the next free color and key); a JSON area shows the set as the
command line and the REST API write it (SPEC F8.4) and takes one pasted in. Colors and keys are
assigned by default and editable.

A gr.HTML widget (assets/label_editor.js renders it; text reaches the DOM as text, never as
HTML). Its value is a dict:

    {"features": {"colors", "shortcuts", "attributes", "entities_relations", "classes": bool},
     "labels": [{"name", "color", "shortcut", "attributes": {name: [values]}}],
     "entities": [{"name", "color"}], "relations": [{"name", "source", "target", "color"}],
     "classes": [{"name", "labels": [names]}], "message": str | None,
     "pending": the quick-add box's text not added as rows yet, "job_id": the job it was filled for}

Every edit in the browser sets the value (Gradio's .change); `label_set_of(value)` turns it into
a LabelSet for the store, which checks it (store/labelset.py: validate_label_set).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from components.widget_js import widget_js

from store.labelset import Label, LabelClass, LabelRules, LabelSet, Relation, split_label_list

ASSETS = Path(__file__).resolve().parent.parent / "assets"
TEMPLATE = '<div class="le-root" data-testid="label-editor"></div>'
FEATURES = ("colors", "shortcuts", "attributes", "entities_relations", "classes")


def features(rules: LabelRules) -> dict[str, bool]:
    return {name: bool(getattr(rules, name)) for name in FEATURES}


def editor_value(label_set: LabelSet | None, rules: LabelRules, message: str | None = None) -> dict:
    """The widget's value for a label set under a type's rules."""
    ls = label_set or LabelSet()
    return {
        "features": features(rules),
        "labels": [{"name": lab.name, "color": lab.color or "", "shortcut": lab.shortcut or "",
                    "attributes": {k: list(v) for k, v in (lab.attributes or {}).items()}} for lab in ls.labels],
        "entities": [{"name": e.name, "color": e.color or ""} for e in ls.entities],
        "relations": [{"name": r.name, "source": r.source, "target": r.target, "color": r.color or ""}
                      for r in ls.relations],
        "classes": [{"name": c.name, "labels": list(c.labels)} for c in ls.classes],
        "speech_content": bool(ls.speech_content),
        "message": message,
    }


def _text(v: Any) -> str:
    return v.strip() if isinstance(v, str) else ""


def _rows(value: Any, key: str) -> list[dict]:
    rows = value.get(key) if isinstance(value, dict) else None
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


def label_set_of(value: Any) -> LabelSet:
    """The LabelSet the widget holds (rows without a name are left out); the store validates it."""
    labels = []
    for r in _rows(value, "labels"):
        if not _text(r.get("name")):
            continue
        attrs = r.get("attributes") if isinstance(r.get("attributes"), dict) else {}
        labels.append(Label(_text(r.get("name")), _text(r.get("color")), _text(r.get("shortcut")),
                            {str(k): [str(x) for x in v] for k, v in attrs.items() if isinstance(v, list)}))
    entities = [Label(_text(r.get("name")), _text(r.get("color"))) for r in _rows(value, "entities")
                if _text(r.get("name"))]
    relations = [Relation(_text(r.get("name")), _text(r.get("source")), _text(r.get("target")), _text(r.get("color")))
                 for r in _rows(value, "relations") if _text(r.get("name"))]
    classes = [LabelClass(_text(r.get("name")), [str(x).strip() for x in r.get("labels") or [] if str(x).strip()])
               for r in _rows(value, "classes") if _text(r.get("name"))]
    speech = bool(value.get("speech_content")) if isinstance(value, dict) else False
    # names typed in the quick-add box but not added as rows yet (the form was sent right after)
    pending = value.get("pending") if isinstance(value, dict) and isinstance(value.get("pending"), str) else ""
    triplet = bool((value.get("features") or {}).get("entities_relations")) if isinstance(value, dict) else False
    have = {x.name for x in labels + entities}
    for name in dict.fromkeys(n.strip() for n in split_label_list(pending.replace("\n", ","))):
        if name and name not in have:
            (entities if triplet else labels).append(Label(name))
    return LabelSet(labels, entities, relations, classes, speech)


def label_editor(**kwargs) -> gr.HTML:
    """The editor. Its .change fires on every edit made in the browser."""
    kwargs.setdefault("elem_id", "label-editor")
    kwargs.setdefault("value", editor_value(None, LabelRules()))
    kwargs.setdefault("apply_default_css", False)
    css = (ASSETS / "label_editor.css").read_text(encoding="utf-8")
    for bad in ("`", "${", "{{", "\\"):  # Gradio reads css_template as a JS template and Handlebars
        if bad in css:
            raise ValueError(f"assets/label_editor.css must not contain {bad!r}")
    return gr.HTML(html_template=TEMPLATE, css_template=css, **widget_js("label_editor"), **kwargs)
