"""`yolo`: YOLO txt (ultralytics' layout) for object detection (boxes) and image segmentation
(polygons) (SPEC F7.1, F7.1b; issue 17).

Layout: a folder with `images/`, `labels/` (same relative paths, `.txt` for each image, also in
sub-folders such as `images/train` + `labels/train`) and the class names in `classes.txt` (one a
line) or `data.yaml` (`names: [a, b]`, a block list, or `names: {0: a, 1: b}`). A label line is
a box `class cx cy w h` or a polygon `class x1 y1 x2 y2 ... xn yn` (n >= 3, YOLO segmentation),
normalized to 0..1 by the image's width and height: an object detection job takes both (a polygon
line is a polygon), an image segmentation job takes polygons (a box line becomes its 4-corner
polygon). An image without a label file is imported unlabeled.

Reading refuses, line by line with the file and line number: a wrong count of fields, a class
that is not an index of the names, values that are not numbers or lie outside 0..1, boxes of no
size or that extend outside the image (more than half a pixel). An image with a refused line is
imported without labels (see shape_io).

Writing, as ultralytics expects it: `images/<split>/` (copies of the labeled images),
`labels/<split>/<stem>.txt` (split `train` unless the export has splits: `--split
train=0.8,val=0.2`), `classes.txt` and a `data.yaml` with the export folder's absolute `path`, a
`train` / `val` (/ `test`) entry per split (val is train's folder when there is no val split) and
the class names (the job's labels, in order): `check_det_dataset("<out>/data.yaml")` resolves it
from any working directory. Object detection writes boxes: every other shape as its bounding box
(a polygon, a circle, a line: the box around it); shapes whose box has no area (a point, a
horizontal or vertical line) are left out. Image segmentation writes polygon lines.
"""
from __future__ import annotations

import json
import math
from functools import partial
from pathlib import Path

from ..core import Store
from ..errors import ValidationError
from .common import ImportItem
from ..types.base import IMAGE_EXTENSIONS
from .registry import Format, register
from .common import copy_sample_file, iter_job_samples, prepare_out_dir
from .shape_io import FileNames, ShapeCollector, box, probe_size, sample_shapes, sample_size
from .splits import split_of

MAX_LABEL_BYTES = 20 * 2**20


def parse_names_yaml(text: str) -> list[str] | None:
    """The `names` of a YOLO data.yaml: a list, or a mapping of index -> name."""
    try:
        import yaml

        data = yaml.safe_load(text)
    except ImportError:  # pragma: no cover - PyYAML comes with the app's dependencies
        data = _mini_yaml_names(text)
    except Exception as e:
        raise ValidationError(f"data.yaml is not valid YAML ({str(e).splitlines()[0][:120]})") from None
    names = data.get("names") if isinstance(data, dict) else None
    if isinstance(names, dict):
        try:
            idx = sorted((int(k), str(v)) for k, v in names.items())
        except (TypeError, ValueError):
            raise ValidationError("data.yaml: the keys of `names` must be class indexes 0, 1, 2, ...") from None
        if [i for i, _ in idx] != list(range(len(idx))):
            raise ValidationError("data.yaml: the class indexes of `names` must be 0, 1, 2, ... without gaps")
        return [n for _, n in idx]
    if isinstance(names, list):
        return [str(n) for n in names]
    return None


def _mini_yaml_names(text: str) -> dict:  # pragma: no cover - used only without PyYAML
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("names:"):
            rest = line.split(":", 1)[1].strip()
            if rest.startswith("["):
                return {"names": [x.strip().strip("'\"") for x in rest.strip("[]").split(",") if x.strip()]}
            out: dict | list = []
            for sub in lines[i + 1:]:
                s = sub.strip()
                if not s or not sub[:1].isspace():
                    break
                if s.startswith("- "):
                    out.append(s[2:].strip().strip("'\""))
                elif ":" in s:
                    out = out if isinstance(out, dict) else {}
                    k, v = s.split(":", 1)
                    out[k.strip()] = v.strip().strip("'\"")
            return {"names": out}
    return {}


def _read(store: Store, uri: str, where: str) -> str:
    data = store.locations.read(uri)
    if len(data) > MAX_LABEL_BYTES:
        raise ValidationError(f"{where}: {len(data) / 2**20:.0f} MB is too large for a label file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(f"{where} is not UTF-8 text") from None


def _class_names(store: Store, files: dict[str, str], path: str) -> list[str]:
    for rel in ("classes.txt", "labels/classes.txt", "obj.names"):
        if rel in files:
            names = [ln.strip() for ln in _read(store, files[rel], rel).splitlines() if ln.strip()]
            if names:
                return names
    for rel in ("data.yaml", "data.yml", "dataset.yaml", "dataset.yml"):
        if rel in files:
            names = parse_names_yaml(_read(store, files[rel], rel))
            if names:
                return names
    raise ValidationError(f"{path}: no class names: put classes.txt (one name a line) or data.yaml "
                          "(names: [...]) in the folder")


def read_yolo(store: Store, path: str, type_id: str = "object_detection") -> tuple[list[ImportItem], list[str], int]:
    src = path if path.startswith("s3://") else str(Path(path).expanduser().absolute())
    listing = [(uri, rel) for uri, rel, _size in store.locations.list_source(src)
               if not rel.rsplit("/", 1)[-1].startswith(".")]
    files = {rel.lower(): uri for uri, rel in listing}
    images = [(uri, rel) for uri, rel in listing
              if rel.lower().startswith("images/") and rel.lower().endswith(IMAGE_EXTENSIONS)]
    label_files = {rel.lower(): (uri, rel) for uri, rel in listing
                   if rel.lower().startswith("labels/") and rel.lower().endswith(".txt")
                   and rel.lower() != "labels/classes.txt"}
    if not images:
        raise ValidationError(f"{path}: no images/ folder with images (YOLO layout: images/, labels/, classes.txt)")
    names = _class_names(store, files, path)
    col = ShapeCollector(type_id)
    used = set()
    for uri, rel in sorted(images, key=lambda x: x[1]):
        col.image(uri, rel)
        key = "labels/" + rel[len("images/"):].rsplit(".", 1)[0].lower() + ".txt"
        if key not in label_files:
            continue
        used.add(key)
        luri, lrel = label_files[key]
        try:
            text = _read(store, luri, lrel)
        except ValidationError as e:
            col.refuse(uri, lrel, str(e).split(": ", 1)[-1] if str(e).startswith(lrel) else str(e))
            continue
        lines = [(n, ln.split()) for n, ln in enumerate(text.splitlines(), start=1) if ln.strip()]
        if not lines:
            continue
        size = probe_size(store, uri)
        if size is None:
            continue  # the file check says what is wrong with the image
        w, h = size
        for n, fields in lines:
            where = f"{lrel} line {n}"
            shape = _polygon(fields, names, w, h) if len(fields) > 5 else _box(fields, names, w, h)
            if isinstance(shape, dict) and type_id == "image_segmentation" and shape["type"] == "rectangle":
                (x1, y1), (x2, y2) = shape["points"]
                shape = {**shape, "type": "polygon", "points": [[x1, y1], [x2, y1], [x2, y2], [x1, y2]]}
            if isinstance(shape, str):
                col.refuse(uri, where, shape)
            else:
                col.add(uri, rel, shape, where, (w, h))
    for key, (_uri, lrel) in sorted(label_files.items()):
        if key not in used:
            col.unmatched += 1
            col.problems.append(f"{lrel}: no image of that name in images/; its boxes were not imported")
    return col.result()


def _class(field: str, names: list[str]) -> int | str:
    try:
        cls = int(field)
    except ValueError:
        return f"the class {field[:20]!r} is not an index of the class names"
    if not 0 <= cls < len(names):
        return f"class {cls} is not an index of the {len(names)} class names (0..{len(names) - 1})"
    return cls


def _polygon(fields: list[str], names: list[str], w: int, h: int) -> dict | str:
    """A polygon shape from `class x1 y1 ... xn yn` (YOLO segmentation), or why the line is refused."""
    if len(fields) % 2 == 0 or len(fields) < 7:
        return (f"{len(fields)} fields: a YOLO line is a box `class cx cy w h` or a polygon "
                "`class x1 y1 x2 y2 x3 y3 ...` (at least 3 points)")
    cls = _class(fields[0], names)
    if isinstance(cls, str):
        return cls
    try:
        values = [float(v) for v in fields[1:]]
    except ValueError:
        return "polygon coordinates must be numbers"
    bad = next((v for v in values if not (math.isfinite(v) and 0 <= v <= 1)), None)
    if bad is not None:
        return f"value {bad:g} is outside 0..1 (YOLO coordinates are normalized by the image size)"
    pts = [[values[i] * w, values[i + 1] * h] for i in range(0, len(values), 2)]
    return {"type": "polygon", "label": names[cls], "points": pts}


def _box(fields: list[str], names: list[str], w: int, h: int) -> dict | str:
    """A rectangle shape from `class cx cy w h`, or the reason the line is refused."""
    if len(fields) != 5:
        return f"{len(fields)} fields: a YOLO box line is `class cx cy w h` (5 fields)"
    cls = _class(fields[0], names)
    if isinstance(cls, str):
        return cls
    try:
        cx, cy, bw, bh = (float(v) for v in fields[1:])
    except ValueError:
        return "cx cy w h must be numbers"
    values = (cx, cy, bw, bh)
    if not all(math.isfinite(v) and 0 <= v <= 1 for v in values):
        bad = next(v for v in values if not (math.isfinite(v) and 0 <= v <= 1))
        return f"value {bad:g} is outside 0..1 (YOLO coordinates are normalized by the image size)"
    if bw == 0 or bh == 0:
        return f"the box has no size (w {bw:g}, h {bh:g})"
    x1, x2 = (cx - bw / 2) * w, (cx + bw / 2) * w
    y1, y2 = (cy - bh / 2) * h, (cy + bh / 2) * h
    # rounding in 6-decimal files puts edges a hair outside: keep within half a pixel
    x1, y1 = (0.0 if -0.5 < x1 < 0 else x1), (0.0 if -0.5 < y1 < 0 else y1)
    x2, y2 = (float(w) if w < x2 < w + 0.5 else x2), (float(h) if h < y2 < h + 0.5 else y2)
    return {"type": "rectangle", "label": names[cls], "points": [[x1, y1], [x2, y2]]}


# -- writing -------------------------------------------------------------------------------------

def _norm(v: float) -> str:
    return f"{min(1.0, max(0.0, v)):.6f}"


def write_yolo(store: Store, job, out: Path) -> int:
    out = prepare_out_dir(out)
    classes = list(job.label_set.names())
    index = {name: i for i, name in enumerate(classes)}
    names = FileNames()
    n = 0
    splits: list[str] = []
    segments = job.type == "image_segmentation"
    for sample in iter_job_samples(store, job.id, labeled_only=True):
        shapes = sample_shapes(sample)
        size = sample_size(store, sample)
        if not shapes or not size:
            continue
        w, h = size
        lines = []
        for shape in shapes:
            if shape["label"] not in index:
                index[shape["label"]] = len(classes)
                classes.append(shape["label"])
            if segments and shape["type"] == "polygon":
                lines.append(f"{index[shape['label']]} " + " ".join(f"{_norm(x / w)} {_norm(y / h)}"
                                                                     for x, y in shape["points"]))
                continue
            x1, y1, x2, y2 = box(shape)
            x1, y1, x2, y2 = max(0.0, x1), max(0.0, y1), min(float(w), x2), min(float(h), y2)
            if x2 - x1 <= 0 or y2 - y1 <= 0:
                continue  # a point, a straight horizontal / vertical line: no box
            lines.append(f"{index[shape['label']]} {_norm((x1 + x2) / 2 / w)} {_norm((y1 + y2) / 2 / h)} "
                         f"{_norm((x2 - x1) / w)} {_norm((y2 - y1) / h)}")
        name = names.take(sample)
        split = split_of(sample)
        if split not in splits:
            splits.append(split)
        copy_sample_file(store, sample, out / "images" / split / name)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split / f"{Path(name).stem}.txt").write_text("".join(ln + "\n" for ln in lines),
                                                                      encoding="utf-8")
        n += 1
    (out / "classes.txt").write_text("".join(c + "\n" for c in classes), encoding="utf-8")
    entries = {s: f"images/{s}" for s in splits}
    entries.setdefault("train", entries.get("train") or f"images/{splits[0] if splits else 'train'}")
    entries.setdefault("val", entries["train"])  # ultralytics needs a val: train's images without a val split
    lines = [f"# YOLO dataset exported by Labelport (job {json.dumps(job.name, ensure_ascii=False)})",
             f"path: {json.dumps(str(out.absolute()), ensure_ascii=False)}"]
    lines += [f"{key}: {value}" for key, value in entries.items() if key in ("train", "val", "test")]
    lines += [f"# other splits: {key}: {value}" for key, value in entries.items() if key not in ("train", "val", "test")]
    lines += [f"nc: {len(classes)}", f"names: {json.dumps(classes, ensure_ascii=False)}"]
    (out / "data.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return n


register(Format("yolo", "YOLO",
                "images/<split>/, labels/<split>/*.txt (class cx cy w h, or class x1 y1 ... for polygons, "
                "normalized), classes.txt and data.yaml (absolute path): detection boxes, segmentation polygons.",
                readers={"object_detection": read_yolo,
                         "image_segmentation": partial(read_yolo, type_id="image_segmentation")},
                writers={"object_detection": write_yolo, "image_segmentation": write_yolo},
                example="yolo.txt"))
