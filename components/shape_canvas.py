"""The shape canvas: draw, select, move and resize shapes on an image (SPEC F3.2 / F3.3).

A gr.HTML widget; its JavaScript (assets/shape_canvas.js) builds the toolbar and draws the image
and every shape on one <canvas>. Its value is a dict:

    {"sample_id": int | None, "image": "/media/12/file", "width": W, "height": H,   # natural px
     "shapes": the JSON text of [{"id": str, "type": "rectangle"|"polygon"|"circle"|"line"|"dashed_line"|"point",
                 "label": str, "points": [[x, y], ...], "radius": r (circle only),
                 "attributes": {name: value}}] (one string, not nested lists: Gradio's front end
                 copies and watches a value deeply, seconds of the browser's time for 1,000
                 polygons; read it with shapes_of()),
     "labels": [{"name": str, "color": "#rrggbb", "attributes": {attr: [values]}, "new": bool}],
     "tools": ["rectangle", ...] (segmentation: ["polygon", "extreme_points"]),
     "tool": the drawing tool (one of tools), "label": current label name,
     "dirty": bool, "message": str | None, "action": str | None, "selected": shape id | None}

Coordinates are image pixels, origin top-left (rectangle: two corners, min first; circle: the
centre plus "radius"). Extreme points produce a polygon: there is no "extreme_points" shape.

Events, for the pages:
- ``.change``: Gradio dispatches it whenever the value changes, in the browser (every edit: shapes
  and ``dirty`` updated; also a tool / label choice or a label added) or from Python. Do not
  output to the canvas from a .change handler.
- ``.save``: Ctrl+S or the widget's Save button (``action == "save"``), or "Save" in the
  unsaved-changes bar (``action == "save_prev"`` / ``"save_next"``: save, then move on).
  After a successful save return a fresh ``canvas_value(...)`` (``dirty`` is False).
- ``.navigate``: A / D or the ◀ ▶ buttons with nothing unsaved, or "Discard" in the bar
  (``action`` "prev" / "next"; after Discard ``dirty`` is False).
Selecting and the select/move mode (V) stay in the browser; ``selected`` is sent with the next
edit, save or navigation. ``message`` set by Python is shown once in the widget's message area.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import gradio as gr

from components.widget_js import widget_js

ASSETS = Path(__file__).resolve().parent.parent / "assets"
SHAPE_TOOLS = ("rectangle", "polygon", "circle", "line", "dashed_line", "point")
ALL_TOOLS = SHAPE_TOOLS + ("extreme_points", "segment")  # segment: click to segment, with a SAM model
SEGMENTATION_TOOLS = ("polygon", "extreme_points")
ACTIONS = ("prev", "next", "save", "save_prev", "save_next")
PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45"]
TEMPLATE = '<div class="sc-root" data-testid="shape-canvas"></div>'
_HEX6 = re.compile(r"^#[0-9a-fA-F]{6}$")
_HEX3 = re.compile(r"^#[0-9a-fA-F]{3}$")


def _asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def _css() -> str:
    css = _asset("shape_canvas.css")
    # Gradio renders css_template as a JS template string and a Handlebars template
    for bad in ("`", "${", "{{", "\\"):
        if bad in css:
            raise ValueError(f"assets/shape_canvas.css must not contain {bad!r}")
    return css


def _color(c: Any, i: int) -> str:
    if isinstance(c, str) and _HEX6.match(c):
        return c.lower()
    if isinstance(c, str) and _HEX3.match(c):
        return ("#" + "".join(ch * 2 for ch in c[1:])).lower()
    return PALETTE[i % len(PALETTE)]


def _label(item: Any, i: int) -> dict | None:
    """A label for the widget from a dict, a store ``Label`` or a bare name."""
    if isinstance(item, str):
        name, color, attrs, new = item, "", {}, False
    elif isinstance(item, dict):
        name, color, attrs, new = item.get("name"), item.get("color"), item.get("attributes"), item.get("new")
    else:
        name, color, attrs, new = (getattr(item, "name", None), getattr(item, "color", ""),
                                   getattr(item, "attributes", {}), False)
    if name is None:
        return None
    attrs = attrs if isinstance(attrs, dict) else {}
    return {"name": str(name), "color": _color(color, i),
            "attributes": {str(k): [str(x) for x in v] for k, v in attrs.items() if isinstance(v, (list, tuple))},
            "new": bool(new)}


def _labels(items) -> list[dict]:
    out, seen = [], set()
    for i, item in enumerate(items or []):
        lab = _label(item, i)
        if lab is not None and lab["name"] not in seen:
            seen.add(lab["name"])
            out.append(lab)
    return out


def _num(v: Any) -> Any:
    if isinstance(v, bool):
        return v
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v  # left as is: the store's validator names the problem
    return int(f) if f.is_integer() and abs(f) < 2 ** 53 else f


def _coord(v: Any) -> Any:
    """_num for a point's coordinate, without its calls where nothing changes (a large image's
    1,000 polygons hold ~20,000 of them)."""
    t = type(v)
    return v if t is int or (t is float and not v.is_integer()) else _num(v)


def _shape(s: dict, i: int) -> dict:
    out: dict = {"id": str(s.get("id") or f"s{i + 1}"), "type": s.get("type"), "label": s.get("label")}
    pts = s.get("points")
    if isinstance(pts, list):
        pts = [[_coord(p[0]), _coord(p[1])] if isinstance(p, (list, tuple)) and len(p) == 2 else p for p in pts]
    out["points"] = pts
    if s.get("type") == "circle" or "radius" in s:
        out["radius"] = _num(s.get("radius"))
    attrs = s.get("attributes")
    out["attributes"] = dict(attrs) if isinstance(attrs, dict) else {}
    return out


def _shapes(items) -> list[dict]:
    return [_shape(s, i) for i, s in enumerate(items or []) if isinstance(s, dict)]


def canvas_value(sample_id, image_url, width, height, shapes, labels, tools, tool=None, label=None,
                 message=None) -> dict:
    """The widget's value for one image. ``tool`` / ``label`` not in ``tools`` / ``labels`` are
    dropped: the widget then uses the tool kept in the browser (localStorage) or the first tool,
    and the first label."""
    tool_list = [t for t in dict.fromkeys(tools or SHAPE_TOOLS) if t in ALL_TOOLS] or list(SHAPE_TOOLS)
    labs = _labels(labels)
    names = {lab["name"] for lab in labs}
    return {
        "sample_id": int(sample_id) if sample_id is not None else None,
        "image": image_url or "",
        "width": _num(width or 0),
        "height": _num(height or 0),
        "shapes": json.dumps(_shapes(shapes), separators=(",", ":")),  # one string: see the module doc
        "labels": labs,
        "tools": tool_list,
        "tool": tool if tool in tool_list else None,
        "label": label if label in names else None,
        "dirty": False,
        "message": str(message) if message else None,
        "action": None,
        "selected": None,
    }


def shapes_of(value) -> list[dict]:
    """The shapes in the browser, as {"id", "type", "label", "points", ["radius"], "attributes"}
    (not validated: store.types.shapes checks them when saved). The value holds them as a JSON
    string (a list is read too)."""
    shapes = value.get("shapes") if isinstance(value, dict) else None
    if isinstance(shapes, str):
        try:
            shapes = json.loads(shapes)
        except ValueError:  # not JSON: nothing the widget wrote
            return []
    return _shapes(shapes) if isinstance(shapes, list) else []


def new_labels_of(value) -> list[dict]:
    """Labels added in the widget ({"name", "color", "attributes"}), to add to the label set."""
    if not isinstance(value, dict):
        return []
    out = []
    for lab in _labels(value.get("labels")):
        if lab["new"] and lab["name"].strip():
            out.append({"name": lab["name"].strip(), "color": lab["color"], "attributes": lab["attributes"]})
    return out


def action_of(value) -> str | None:
    """"prev" | "next" | "save" | "save_prev" | "save_next", or None."""
    action = value.get("action") if isinstance(value, dict) else None
    return action if action in ACTIONS else None


def shape_canvas(**kwargs) -> gr.HTML:
    """The drawing widget. Events: ``.change``, ``.save``, ``.navigate`` (see the module doc)."""
    kwargs.setdefault("elem_id", "shape-canvas")
    kwargs.setdefault("value", canvas_value(None, "", 0, 0, [], [], SHAPE_TOOLS))
    kwargs.setdefault("apply_default_css", False)
    return gr.HTML(html_template=TEMPLATE, css_template=_css(), **widget_js("shape_canvas", ("save", "navigate")),
                   **kwargs)
