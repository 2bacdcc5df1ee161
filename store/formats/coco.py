"""`coco`: COCO JSON for object detection and image segmentation (SPEC F7.1, F7.1b).

Reading: the JSON file; each image's `file_name` is relative to the JSON's folder, or to an
`images/` folder beside it (absolute paths and s3:// URLs work too). Categories become labels.
- object detection: an annotation with a polygon `segmentation` becomes a polygon shape (one per
  part when it has several; a single axis-aligned 4-point polygon equal to its bbox is a
  rectangle), an RLE mask (`iscrowd` 1, compressed or not) is decoded with pycocotools and traced
  into polygons (OpenCV contours), else a rectangle from its `bbox`. An annotation written by this
  exporter with a `labelport_shape` (circle, line, dashed line, point) gets that exact shape back.
- image segmentation: polygons from `segmentation` (RLE masks traced likewise); a bbox-only
  annotation is refused with a message (this type holds polygons).
- every shape keeps what the source said of its object: `bbox`, `area`, `iscrowd` and the
  annotation's id (the shape's "coco" record, store/types/shapes.py), so an export writes the
  source's numbers back while the shape is unedited (COCOeval against the source: AP 1.0).
Each refused annotation is reported with its id and image (unknown image or category id, a box of
negative size, a polygon of fewer than 3 points, a shape outside the image's declared size, ...);
an image with a refused annotation is imported without labels (see shape_io).

Writing: the JSON at the given path and a copy of each labeled image in `images/` beside it
(`file_name` = `images/<name>`); images with width/height, categories with ids (the job's labels in
order, from 1), one annotation per shape (per source annotation for the unedited parts of one)
with `bbox` [x, y, w, h], `area`, `iscrowd` (the source's while unedited, else measured on the
shape, iscrowd 0) and:
- rectangle: `segmentation` the box as a polygon [[x1, y1, x2, y1, x2, y2, x1, y2]] (so
  pycocotools' annToMask works);
- an unedited crowd region (iscrowd 1): an RLE `segmentation` {"size", "counts"} encoded with
  pycocotools from its polygons;
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
from ..types.shapes import points_key, shape_area, shape_bbox
from .registry import Format, register
from .splits import in_split, per_split
from .common import copy_sample_file, iter_job_samples, prepare_out_file, read_text_file
from .shape_io import (FileNames, ShapeCollector, box, circle_polygon, exists, join_uri, num, parent_uri,
                       sample_shapes, sample_size)

EXTRA_SHAPES = ("circle", "line", "dashed_line", "point")
ALONE = object()  # a shape written as its own annotation (no unedited source annotation to rejoin)


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
            col.not_found(f"image {i} of the list", "needs an \"id\" and a \"file_name\"")
            continue
        iid, name = img["id"], img["file_name"].strip()
        if iid in images:
            col.not_found(f"image id {iid} ({name})", "the id is used twice; this entry was skipped")
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
    source = _source_record(ann)
    seg = ann.get("segmentation")
    if isinstance(seg, list) and seg and isinstance(seg[0], dict):
        seg = seg[0]
    if isinstance(seg, dict):
        try:
            seg = rle_polygons(seg)
        except ValidationError as e:
            col.refuse(uri, where, str(e))
            return
        if not seg:
            col.refuse(uri, where, "its RLE mask is empty")
            return
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
            kind = "polygon"
            if type_id == "object_detection" and len(parts) == 1 and _is_box(pts, ann.get("bbox")):
                xs, ys = sorted(p[0] for p in pts), sorted(p[1] for p in pts)
                kind, pts = "rectangle", [[xs[0], ys[0]], [xs[-1], ys[-1]]]
            yield _with_source({"type": kind, "label": label, "points": pts, "attributes": attrs}, source,
                               len(parts)), part
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
    pts = [[x, y], [x + w, y + h]]
    shape = {"type": "rectangle", "label": label, "points": pts, "attributes": attrs}
    yield (_with_source(shape, source, 1) if w > 0 and h > 0 else shape), ""


def _with_source(shape: dict, source: dict | None, parts: int) -> dict:
    """The shape with the source's record, unless the record says nothing its points do not (one
    part, not a crowd, the same bbox and area as measured on the shape)."""
    if not source:
        return shape
    x1, y1, x2, y2 = shape_bbox(shape)
    same = all(abs(a - b) < 0.01 for a, b in zip(source["bbox"], (x1, y1, x2 - x1, y2 - y1))) \
        and abs(source["area"] - shape_area(shape)) < 0.01
    if parts == 1 and same and not source["iscrowd"]:
        return shape
    return {**shape, "coco": {**source, "of": points_key(shape["points"])}}


def _source_record(ann: dict) -> dict | None:
    """What the source says of the object (bbox, area, iscrowd, its id), when it says it well."""
    bbox, area = ann.get("bbox"), ann.get("area")
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_number(v) for v in bbox)
            and bbox[2] >= 0 and bbox[3] >= 0 and _is_number(area) and area >= 0):
        return None
    aid = ann.get("id")
    crowd = 1 if ann.get("iscrowd") in (1, True) else 0
    out = {"bbox": [float(v) for v in bbox], "area": float(area), "iscrowd": crowd}
    if isinstance(aid, (int, str)) and not isinstance(aid, bool) and len(str(aid)) <= 64:
        out["ann"] = aid
    return out


def _is_box(pts: list, bbox) -> bool:
    """Four points going round an axis-aligned rectangle, which is the annotation's bbox."""
    if len(pts) != 4 or not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_number(v) for v in bbox)):
        return False
    xs, ys = {p[0] for p in pts}, {p[1] for p in pts}
    if len(xs) != 2 or len(ys) != 2 or any(pts[i][0] != pts[i - 1][0] and pts[i][1] != pts[i - 1][1] for i in range(4)):
        return False
    x, y, w, h = bbox
    return (abs(min(xs) - x) < 1e-3 and abs(min(ys) - y) < 1e-3 and abs(max(xs) - (x + w)) < 1e-3
            and abs(max(ys) - (y + h)) < 1e-3)


MAX_RLE_PIXELS = 100_000_000


def rle_polygons(seg: dict) -> list[list[float]]:
    """An RLE mask ({"size": [h, w], "counts": str | [int]}) traced into flat polygons."""
    import cv2
    import numpy as np
    from pycocotools import mask as mask_utils

    size, counts = seg.get("size"), seg.get("counts")
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and not isinstance(v, bool)
                                                                and v > 0 for v in size)):
        raise ValidationError("an RLE segmentation needs \"size\": [height, width]")
    if size[0] * size[1] > MAX_RLE_PIXELS:
        raise ValidationError(f"an RLE mask of {size[0]}x{size[1]} pixels is too large")
    try:
        if isinstance(counts, list):
            if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in counts) \
                    or sum(counts) != size[0] * size[1]:
                raise ValidationError("RLE counts must be whole numbers that add up to height x width")
            rle = mask_utils.frPyObjects({"size": size, "counts": counts}, size[0], size[1])
        elif isinstance(counts, str):
            rle = {"size": size, "counts": counts.encode("ascii")}
        else:
            raise ValidationError("RLE counts are a list of run lengths or a compressed string")
        mask = mask_utils.decode(rle)
    except ValidationError:
        raise
    except Exception:  # a malformed compressed string
        raise ValidationError(f"the RLE mask cannot be decoded: its counts do not make a {size[0]}x{size[1]} "
                              "mask") from None
    contours, _ = cv2.findContours(np.ascontiguousarray(mask, dtype=np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    out = []
    for c in contours:
        pts = c.reshape(-1, 2)
        if len(pts) >= 3:
            out.append([float(v) for p in pts for v in p])
    return out


def rle_of(polygons: list[list[float]], width: int, height: int) -> dict:
    """Flat polygons rasterized and encoded as one compressed RLE (pycocotools)."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.merge(mask_utils.frPyObjects(polygons, int(height), int(width)))
    return {"size": [int(height), int(width)], "counts": rle["counts"].decode("ascii")}


# -- writing -------------------------------------------------------------------------------------

def kept_record(shape: dict) -> dict | None:
    """The source's COCO record of a shape, while its points are those it was measured on."""
    rec = shape.get("coco")
    return rec if isinstance(rec, dict) and rec.get("of") == points_key(shape["points"]) else None


def _flat(shape: dict) -> list:
    if shape["type"] == "rectangle":
        (x1, y1), (x2, y2) = shape["points"]
        return [num(x1), num(y1), num(x2), num(y1), num(x2), num(y2), num(x1), num(y2)]
    return [num(v) for p in shape["points"] for v in p]


def coco_group(shapes: list[dict], ann_id: int, image_id: int, category_id: int, size) -> dict:
    """One annotation for the unedited parts of one source annotation: its bbox, area, iscrowd."""
    rec = kept_record(shapes[0])
    polygons = [_flat(s) for s in shapes]
    ann = {"id": ann_id, "image_id": image_id, "category_id": category_id,
           "bbox": [num(v) for v in rec["bbox"]], "area": num(rec["area"]), "iscrowd": rec["iscrowd"],
           "segmentation": polygons}
    if rec["iscrowd"] and size and size[0] and size[1]:
        ann["segmentation"] = rle_of(polygons, size[0], size[1])
    attrs = next((s["attributes"] for s in shapes if s.get("attributes")), None)
    if attrs:
        ann["attributes"] = dict(attrs)
    return ann


def coco_annotation(shape: dict, ann_id: int, image_id: int, category_id: int) -> dict:
    kind = shape["type"]
    x1, y1, x2, y2 = box(shape)
    rec = kept_record(shape)
    ann = {"id": ann_id, "image_id": image_id, "category_id": category_id,
           "bbox": [num(x1), num(y1), num(x2 - x1), num(y2 - y1)], "area": num(shape_area(shape)),
           "iscrowd": 0, "segmentation": []}
    if rec is not None:
        ann["bbox"], ann["area"] = [num(v) for v in rec["bbox"]], num(rec["area"])
    if kind in ("polygon", "rectangle"):
        ann["segmentation"] = [_flat(shape)]
    elif kind == "circle":
        ann["segmentation"] = [[num(v) for p in circle_polygon(shape) for v in p]]
    if kind in EXTRA_SHAPES:
        ann["labelport_shape"] = {"type": kind, "points": [[num(x), num(y)] for x, y in shape["points"]],
                                  **({"radius": num(shape["radius"])} if kind == "circle" else {})}
    if shape.get("attributes"):
        ann["attributes"] = dict(shape["attributes"])
    return ann


def write_coco(store: Store, job, out: Path) -> int:
    """The JSON at `out`, the labeled images copied into `images/` beside it; an export with
    splits writes `<out stem>_<split>.json` per split instead (the images in one folder)."""
    return per_split(out, lambda path, split: _write_coco(store, job, prepare_out_file(path), split), ".json")


def _write_coco(store: Store, job, out: Path, split: str | None) -> int:
    image_dir = out.parent / "images"
    names = FileNames()
    planned = []
    for sample in iter_job_samples(store, job.id, labeled_only=True):
        shapes = sample_shapes(sample)
        if shapes and in_split(sample, split):
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
        groups: dict = {}  # the unedited parts of one source annotation are written as one again
        for shape in shapes:
            rec = kept_record(shape)
            key = (rec.get("ann"), shape["label"]) if rec is not None and rec.get("ann") is not None else None
            if key is not None and shape["type"] in ("polygon", "rectangle"):
                groups.setdefault(key, []).append(shape)
            else:
                groups[(ALONE, id(shape))] = [shape]
        for key, group in groups.items():
            cat = categories.setdefault(group[0]["label"], len(categories) + 1)
            if key[0] is ALONE:
                annotations.append(coco_annotation(group[0], len(annotations) + 1, image_id, cat))
            else:
                annotations.append(coco_group(group, len(annotations) + 1, image_id, cat, (w, h)))
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
