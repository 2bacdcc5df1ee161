"""`coco`: COCO JSON for object detection and image segmentation (SPEC F7.1, F7.1b).

Reading: the JSON file; each image's `file_name` is relative to the JSON's folder, or to an
`images/` folder beside it (absolute paths and s3:// URLs work too). Categories become labels.
- object detection: an annotation with a polygon `segmentation` becomes a polygon shape (one per
  part when it has several), else a rectangle from its `bbox` (an RLE mask keeps its bbox). An
  annotation written by this exporter with a `labelport_shape` (circle, line, dashed line, point)
  gets that exact shape back.
- image segmentation: polygons from `segmentation`; an RLE mask or a bbox-only annotation is
  refused with a message (this type holds polygons).
Each refused annotation is reported with its id and image (unknown image or category id, a box of
negative size, a polygon of fewer than 3 points, a shape outside the image's declared size, ...);
an image with a refused annotation is imported without labels (see shape_io).

Writing: the JSON at the given path and a copy of each labeled image in `images/` beside it
(`file_name` = `images/<name>`); images with width/height, categories with ids (the job's labels in
order, from 1), one annotation per shape with `bbox` [x, y, w, h], `area`, `iscrowd` 0 and:
- rectangle: `segmentation` [];
- polygon: `segmentation` [[x1, y1, x2, y2, ...]];
- circle: `segmentation` = a 32-point polygon of the circle, bbox of the circle, area pi r^2;
- line, dashed line, point: `segmentation` [], `bbox` = their bounding box (a point's is
  [x, y, 0, 0]), area 0.
Circles, lines, dashed lines and points also carry `labelport_shape` {type, points, radius}: COCO
has no such shapes, so other tools see the polygon / box, and an import here restores the shape.
"""
from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

from ..core import Store
from ..errors import ValidationError
from .common import ImportItem
from ..types.shapes import shape_area
from .registry import Format, register
from .common import copy_sample_file, iter_job_samples, prepare_out_file, read_text_file
from .shape_io import (FileNames, ShapeCollector, box, circle_polygon, exists, join_uri, num, parent_uri,
                       sample_shapes, sample_size)

EXTRA_SHAPES = ("circle", "line", "dashed_line", "point")


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _load(store: Store, path: str) -> dict:
    text, _base = read_text_file(store, path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValidationError(f"{path}: not valid JSON (line {e.lineno}: {e.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise ValidationError(f"{path}: not a COCO file (a JSON object with an \"images\" list)")
    for key in ("annotations", "categories"):
        if not isinstance(data.get(key, []), list):
            raise ValidationError(f"{path}: \"{key}\" must be a list")
    return data


def _find_file(store: Store, base: str, file_name: str) -> str | None:
    name = file_name.replace("\\", "/")
    candidates = [join_uri(base, name)]
    if not name.startswith(("s3://", "/", "store://")):
        candidates.append(join_uri(base, "images/" + name))
        if "/" in name:
            candidates.append(join_uri(base, "images/" + name.rsplit("/", 1)[-1]))
    for uri in candidates:
        if exists(store, uri):
            return uri
    return None


def read_coco(store: Store, path: str, type_id: str = "object_detection") -> tuple[list[ImportItem], list[str], int]:
    data = _load(store, path)
    col = ShapeCollector(type_id)
    base = parent_uri(path)
    categories: dict = {}
    for c in data.get("categories", []):
        if isinstance(c, dict) and "id" in c and isinstance(c.get("name"), str) and c["name"].strip():
            categories[c["id"]] = c["name"].strip()
        else:
            col.problems.append(f"category {str(c)[:80]}: needs an \"id\" and a \"name\"")
    images: dict = {}  # image id -> (uri, file_name, declared size)
    for i, img in enumerate(data["images"], start=1):
        if not isinstance(img, dict) or "id" not in img or not isinstance(img.get("file_name"), str) \
                or not img["file_name"].strip():
            col.unmatched += 1
            col.problems.append(f"image {i} of the list: needs an \"id\" and a \"file_name\"")
            continue
        iid, name = img["id"], img["file_name"].strip()
        if iid in images:
            col.unmatched += 1
            col.problems.append(f"image id {iid} ({name}): the id is used twice; this entry was skipped")
            continue
        uri = _find_file(store, base, name)
        if uri is None:
            col.unmatched += 1
            images[iid] = None
            col.problems.append(f"image {iid} ({name}): file not found beside the JSON or in images/ beside it; "
                                "its annotations were skipped")
            continue
        w, h = img.get("width"), img.get("height")
        size = (float(w), float(h)) if _is_number(w) and _is_number(h) and w > 0 and h > 0 else None
        images[iid] = (uri, name, size)
        col.image(uri, name)
    for n, ann in enumerate(data.get("annotations", []), start=1):
        if not isinstance(ann, dict):
            col.problems.append(f"annotation {n} of the list: not an object")
            continue
        aid = ann.get("id", f"#{n}")
        iid = ann.get("image_id")
        if iid not in images:
            col.problems.append(f"annotation {aid}: unknown image id {str(iid)[:40]}")
            continue
        if images[iid] is None:
            continue  # its image file is missing: said once above
        uri, name, size = images[iid]
        where = f"annotation {aid} (image {iid}, {name})"
        label = categories.get(ann.get("category_id"))
        if label is None:
            col.refuse(uri, where, f"unknown category id {str(ann.get('category_id'))[:40]}")
            continue
        for shape, part in _shapes(ann, label, type_id, col, uri, where):
            col.add(uri, name, shape, where + part, size)
    return col.result()


def _shapes(ann: dict, label: str, type_id: str, col: ShapeCollector, uri: str, where: str):
    """Yield (shape dict, where suffix) for one annotation; refusals go to the collector."""
    attrs = ann.get("attributes") if isinstance(ann.get("attributes"), dict) else {}
    extra = ann.get("labelport_shape")
    if type_id == "object_detection" and isinstance(extra, dict) and extra.get("type") in EXTRA_SHAPES:
        shape = {"type": extra["type"], "label": label, "points": extra.get("points")}
        if extra["type"] == "circle":
            shape["radius"] = extra.get("radius")
        yield {**shape, "attributes": attrs}, ""
        return
    seg = ann.get("segmentation")
    if isinstance(seg, dict) or (isinstance(seg, list) and seg and isinstance(seg[0], dict)):
        if type_id == "image_segmentation":
            col.refuse(uri, where, "an RLE segmentation (a mask) cannot be imported: image segmentation "
                                   "holds polygons; convert the mask to polygons first")
            return
        seg = None  # detection: the box of the mask
    if isinstance(seg, list) and seg and _is_number(seg[0]):
        seg = [seg]  # a single flat polygon without the outer list
    if isinstance(seg, list) and seg:
        parts = seg
        for k, flat in enumerate(parts, start=1):
            part = f" part {k}" if len(parts) > 1 else ""
            if not isinstance(flat, list) or not all(_is_number(v) for v in flat):
                col.refuse(uri, where + part, "segmentation polygons are lists of numbers x1, y1, x2, y2, ...")
                continue
            if len(flat) % 2:
                col.refuse(uri, where + part, f"a polygon has an odd count of coordinates ({len(flat)})")
                continue
            pts = [[flat[i], flat[i + 1]] for i in range(0, len(flat), 2)]
            if len(pts) > 3 and pts[0] == pts[-1]:
                pts = pts[:-1]  # COCO polygons are closed implicitly
            if len(pts) < 3:
                col.refuse(uri, where + part, f"a polygon of {len(pts)} point(s): a polygon needs at least 3")
                continue
            yield {"type": "polygon", "label": label, "points": pts, "attributes": attrs}, part
        return
    if type_id == "image_segmentation":
        col.refuse(uri, where, "has no polygon segmentation (only a bbox): image segmentation holds polygons")
        return
    bbox = ann.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4 or not all(_is_number(v) for v in bbox):
        col.refuse(uri, where, f"needs a bbox [x, y, width, height] of numbers, got {str(bbox)[:60]}")
        return
    x, y, w, h = bbox
    if w < 0 or h < 0:
        col.refuse(uri, where, f"the box has a negative size (width {w:g}, height {h:g})")
        return
    yield {"type": "rectangle", "label": label, "points": [[x, y], [x + w, y + h]], "attributes": attrs}, ""


# -- writing -------------------------------------------------------------------------------------

def coco_annotation(shape: dict, ann_id: int, image_id: int, category_id: int) -> dict:
    kind = shape["type"]
    x1, y1, x2, y2 = box(shape)
    ann = {"id": ann_id, "image_id": image_id, "category_id": category_id,
           "bbox": [num(x1), num(y1), num(x2 - x1), num(y2 - y1)], "area": num(shape_area(shape)),
           "iscrowd": 0, "segmentation": []}
    if kind == "polygon":
        ann["segmentation"] = [[num(v) for p in shape["points"] for v in p]]
    elif kind == "circle":
        ann["segmentation"] = [[num(v) for p in circle_polygon(shape) for v in p]]
    if kind in EXTRA_SHAPES:
        ann["labelport_shape"] = {"type": kind, "points": [[num(x), num(y)] for x, y in shape["points"]],
                                  **({"radius": num(shape["radius"])} if kind == "circle" else {})}
    if shape.get("attributes"):
        ann["attributes"] = dict(shape["attributes"])
    return ann


def write_coco(store: Store, job, out: Path) -> int:
    """The JSON at `out`, the labeled images copied into `images/` beside it."""
    out = prepare_out_file(out)
    image_dir = out.parent / "images"
    names = FileNames()
    planned = []
    for sample in iter_job_samples(store, job.id, labeled_only=True):
        shapes = sample_shapes(sample)
        if shapes:
            planned.append((sample, names.take(sample), shapes))
    _check_image_dir(store, image_dir, planned)
    categories = {name: i for i, name in enumerate(job.label_set.names(), start=1)}
    images, annotations = [], []
    for image_id, (sample, name, shapes) in enumerate(planned, start=1):
        dest = image_dir / name
        if not dest.exists():
            copy_sample_file(store, sample, dest)
        w, h = sample_size(store, sample) or (0, 0)
        images.append({"id": image_id, "file_name": f"images/{name}", "width": w, "height": h})
        for shape in shapes:
            cat = categories.setdefault(shape["label"], len(categories) + 1)
            annotations.append(coco_annotation(shape, len(annotations) + 1, image_id, cat))
    doc = {"info": {"description": f"Labelport export of job {job.name}",
                    "date_created": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")},
           "licenses": [], "images": images, "annotations": annotations,
           "categories": [{"id": i, "name": name} for name, i in categories.items()]}
    out.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return len(images)


def _check_image_dir(store: Store, image_dir: Path, planned: list) -> None:
    """Never overwrite another export's image: a different file of the same name refuses the export."""
    if not image_dir.is_dir():
        return
    for sample, name, _shapes in planned:
        dest = image_dir / name
        if dest.exists() and not _same_file(store, sample, dest):
            raise ValidationError(f"{dest} already exists and is another file: export into a new or empty folder")


def _same_file(store: Store, sample, dest: Path) -> bool:
    local = store.locations.local_path(sample.uri)
    if local is not None and local.is_file():
        if local.resolve() == dest.resolve():
            return True
        return local.stat().st_size == dest.stat().st_size and local.read_bytes() == dest.read_bytes()
    return store.locations.read(sample.uri) == dest.read_bytes()


register(Format("coco", "COCO JSON",
                "A COCO JSON file (images, annotations with bbox / polygon segmentation, categories); "
                "file_name relative to the JSON's folder or to images/ beside it.",
                readers={"object_detection": read_coco,
                         "image_segmentation": partial(read_coco, type_id="image_segmentation")},
                writers={"object_detection": write_coco, "image_segmentation": write_coco},
                example="coco.json"))
