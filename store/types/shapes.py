"""Shapes on an image (object detection, image segmentation, video frames): one schema, one check.

An annotation is {"shapes": [shape, ...]} where a shape is
    {"id": str, "type": rectangle|polygon|circle|line|dashed_line|point, "label": name,
     "points": [[x, y], ...], "radius": r (circles only), "attributes": {name: value}}
in image pixels, origin top-left. rectangle: two corners; polygon: >= 3 points; circle: the
centre and a radius; line / dashed_line: >= 2 points; point: one point.

A shape imported from COCO may carry what the source said of its object (issue 17):
    "coco": {"bbox": [x, y, w, h], "area": a, "iscrowd": 0 | 1, "ann": source annotation id,
             "of": points_key(points)}
The COCO writer uses bbox, area and iscrowd only while the points are still those ("of"): an edited
shape is measured again. Shapes of one source annotation (its parts) are written as one again.
"""
from __future__ import annotations

import hashlib
import json
import math

from ..errors import ValidationError
from ..labelset import LabelSet
from .base import Annotation

SHAPE_TYPES = ("rectangle", "polygon", "circle", "line", "dashed_line", "point")
MIN_POINTS = {"rectangle": 2, "polygon": 3, "circle": 1, "line": 2, "dashed_line": 2, "point": 1}
MAX_POINTS = {"rectangle": 2, "circle": 1, "point": 1}
MAX_SHAPES = 10_000
MAX_POLYGON_POINTS = 100_000


def _number(v, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValidationError(f"{what}: coordinates must be finite numbers, got {v!r}"[:200])
    return round(float(v), 3)


def _points(raw, what: str) -> list[list[float]]:
    if not isinstance(raw, list):
        raise ValidationError(f"{what}: points must be a list of [x, y] pairs")
    out = []
    for p in raw:
        if not isinstance(p, (list, tuple)) or len(p) != 2:
            raise ValidationError(f"{what}: each point is an [x, y] pair, got {p!r}"[:200])
        out.append([_number(p[0], what), _number(p[1], what)])
    return out


def image_size(data: dict, meta: dict | None) -> tuple[float, float] | None:
    meta = meta or {}
    w, h = meta.get("width") or data.get("width"), meta.get("height") or data.get("height")
    return (float(w), float(h)) if w and h else None


def points_key(points) -> str:
    """A short fingerprint of a shape's points (what a kept COCO bbox / area was measured on)."""
    norm = [[round(float(x), 3), round(float(y), 3)] for x, y in points]
    return hashlib.sha1(json.dumps(norm, separators=(",", ":")).encode()).hexdigest()[:16]


def _coco_record(raw, what: str) -> dict:
    if not isinstance(raw, dict):
        raise ValidationError(f"{what}: \"coco\" must be an object (bbox, area, iscrowd, ann, of)")
    bbox = raw.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4:
        raise ValidationError(f"{what}: coco bbox must be [x, y, width, height]")
    bbox = [_number(v, what) for v in bbox]
    if bbox[2] < 0 or bbox[3] < 0:
        raise ValidationError(f"{what}: coco bbox has a negative size")
    area = _number(raw.get("area", 0), what)
    crowd = raw.get("iscrowd", 0)
    if crowd not in (0, 1) or isinstance(crowd, bool) or area < 0:
        raise ValidationError(f"{what}: coco iscrowd is 0 or 1 and area is not negative")
    ann, of = raw.get("ann"), raw.get("of")
    if ann is not None and (isinstance(ann, bool) or not isinstance(ann, (int, str)) or len(str(ann)) > 64):
        raise ValidationError(f"{what}: coco ann is the source annotation's id")
    if not isinstance(of, str) or len(of) > 40:
        raise ValidationError(f"{what}: coco of is the fingerprint of the points it was measured on")
    return {"bbox": bbox, "area": area, "iscrowd": crowd, **({"ann": ann} if ann is not None else {}), "of": of}


def check_shape(shape, i: int, label_set: LabelSet, size: tuple[float, float] | None,
                allowed: tuple[str, ...]) -> dict:
    what = f"shape {i + 1}"
    if not isinstance(shape, dict):
        raise ValidationError(f"{what} is not an object")
    kind = shape.get("type")
    if kind not in allowed:
        raise ValidationError(f"{what}: type {kind!r} is not one of {', '.join(allowed)}")
    what = f"{what} ({kind})"
    label = shape.get("label")
    labels = {lab.name: lab for lab in label_set.labels}
    if not isinstance(label, str) or label not in labels:
        raise ValidationError(f"{what}: label {str(label)[:80]!r} is not in this job's label set")
    pts = _points(shape.get("points"), what)
    if len(pts) < MIN_POINTS[kind]:
        raise ValidationError(f"{what} needs at least {MIN_POINTS[kind]} points, got {len(pts)}")
    if kind in MAX_POINTS and len(pts) != MAX_POINTS[kind]:
        raise ValidationError(f"{what} has exactly {MAX_POINTS[kind]} point(s), got {len(pts)}")
    if len(pts) > MAX_POLYGON_POINTS:
        raise ValidationError(f"{what} has more than {MAX_POLYGON_POINTS:,} points")
    out: dict = {"id": str(shape.get("id") or f"s{i + 1}")[:64], "type": kind, "label": label}
    if kind == "rectangle":
        (x1, y1), (x2, y2) = pts
        x1, x2 = sorted((x1, x2))
        y1, y2 = sorted((y1, y2))
        if x2 - x1 <= 0 or y2 - y1 <= 0:
            raise ValidationError(f"{what} has no area (width {x2 - x1:g}, height {y2 - y1:g})")
        pts = [[x1, y1], [x2, y2]]
    if kind == "polygon" and len({tuple(p) for p in pts}) < 3:
        raise ValidationError(f"{what} needs at least 3 distinct points")
    extent = pts
    if kind == "circle":
        r = _number(shape.get("radius"), what)
        if r <= 0:
            raise ValidationError(f"{what}: the radius must be positive, got {r:g}")
        out["radius"] = r
        (cx, cy), = pts
        extent = [[cx - r, cy - r], [cx + r, cy + r]]
    if size is not None:
        w, h = size
        for x, y in extent:
            if x < 0 or y < 0 or x > w or y > h:
                raise ValidationError(f"{what} lies outside the image ({w:g}x{h:g}): point ({x:g}, {y:g}); "
                                      "shapes must lie within the image")
    out["points"] = pts
    attrs = shape.get("attributes") or {}
    if not isinstance(attrs, dict):
        raise ValidationError(f"{what}: attributes must be an object of name: value")
    allowed_attrs = labels[label].attributes
    clean = {}
    for name, value in attrs.items():
        if name not in allowed_attrs:
            raise ValidationError(f"{what}: label {label[:60]!r} has no attribute {str(name)[:60]!r}")
        if value in (None, ""):
            continue
        if str(value) not in allowed_attrs[name]:
            raise ValidationError(f"{what}: {str(value)[:60]!r} is not a value of attribute {name!r} "
                                  f"({', '.join(allowed_attrs[name][:10])})")
        clean[name] = str(value)
    if clean:
        out["attributes"] = clean
    if shape.get("coco") is not None:
        out["coco"] = _coco_record(shape["coco"], what)
    return out


def validate_shapes(data: dict, label_set: LabelSet, meta: dict | None, allowed: tuple[str, ...]) -> Annotation:
    if not isinstance(data, dict) or not isinstance(data.get("shapes"), list):
        raise ValidationError('a shape annotation is {"shapes": [...]}')
    shapes = data["shapes"]
    if len(shapes) > MAX_SHAPES:
        raise ValidationError(f"{len(shapes):,} shapes on one image: the limit is {MAX_SHAPES:,}")
    size = image_size(data, meta)
    out = [check_shape(s, i, label_set, size, allowed) for i, s in enumerate(shapes)]
    seen: set[str] = set()
    for i, s in enumerate(out):  # ids stay unique so the UI can address each shape
        if s["id"] in seen:
            s["id"] = f"s{i + 1}-{len(seen)}"
        seen.add(s["id"])
    labels = list(dict.fromkeys(s["label"] for s in out))
    return Annotation({"shapes": out}, labels)


def shape_bbox(shape: dict) -> tuple[float, float, float, float]:
    """(x_min, y_min, x_max, y_max) of any shape."""
    if shape["type"] == "circle":
        (cx, cy), r = shape["points"][0], shape["radius"]
        return cx - r, cy - r, cx + r, cy + r
    xs = [p[0] for p in shape["points"]]
    ys = [p[1] for p in shape["points"]]
    return min(xs), min(ys), max(xs), max(ys)


def shape_area(shape: dict) -> float:
    """Area in square pixels (polygons by the shoelace formula; lines and points: 0)."""
    kind = shape["type"]
    if kind == "rectangle":
        (x1, y1), (x2, y2) = shape["points"]
        return abs(x2 - x1) * abs(y2 - y1)
    if kind == "circle":
        return math.pi * shape["radius"] ** 2
    if kind == "polygon":
        pts = shape["points"]
        return abs(sum(pts[i][0] * pts[(i + 1) % len(pts)][1] - pts[(i + 1) % len(pts)][0] * pts[i][1]
                       for i in range(len(pts)))) / 2
    return 0.0


def relabel_shapes(data: dict, old: str, new: str | None) -> dict:
    shapes = []
    for shape in data.get("shapes", []):
        if shape.get("label") == old:
            if new is None:
                continue
            shape = {**shape, "label": new}
        shapes.append(shape)
    return {**data, "shapes": shapes}


def shape_label_names(data: dict) -> list[str]:
    return list(dict.fromkeys(s["label"] for s in data.get("shapes", [])))
