"""`manifest`: the platform's JSON-lines manifest, one line per sample (SPEC F7.1)."""
from __future__ import annotations

import json
from functools import partial
from pathlib import Path

from ..core import Store
from ..errors import ValidationError
from .common import ImportItem
from .splits import split_field, usage_of
from .registry import Format, register
from .common import export_ref, iter_job_samples, made_by, prepare_out_file, read_text_file, resolve_reference

CLASSIFICATION = "modelarts/image_classification"


def _time(value) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else None


def read_manifest_lines(store: Store, path: str) -> tuple[list[tuple[int, dict, str]], Path | None, list[str]]:
    """Parse lines: (line number, row, resolved uri); problems name the line."""
    text, base = read_text_file(store, path)
    out, problems = [], []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or not isinstance(row.get("source"), str):
                raise ValidationError('each line needs a "source"')
            out.append((n, row, resolve_reference(row["source"], base)))
        except json.JSONDecodeError as e:
            problems.append(f"line {n}: not valid JSON ({e.msg})")
        except ValidationError as e:
            problems.append(f"line {n}: {e}")
    return out, base, problems


def read_classification_manifest(store: Store, path: str) -> tuple[list[ImportItem], list[str]]:
    lines, _base, problems = read_manifest_lines(store, path)
    items: list[ImportItem] = []
    for n, row, uri in lines:
        names = [a.get("name") for a in row.get("annotation") or []
                 if isinstance(a, dict) and a.get("type", CLASSIFICATION) == CLASSIFICATION]
        names = [str(x) for x in names if x]
        rel = row["source"].rsplit("/", 1)[-1] if row["source"].startswith("s3://") else row["source"]
        items.append(ImportItem(uri, rel, {"labels": names} if names else None, names))
    return items, problems


def write_classification_manifest(store: Store, job, out: Path) -> int:
    out = prepare_out_file(out)
    n = 0
    with open(out, "w", encoding="utf-8") as f:
        for s in iter_job_samples(store, job.id):
            row = {"source": export_ref(store, s.uri, out.parent), "usage": usage_of(s, bool(s.labels)), **split_field(s),
                   "id": str(s.id)}
            if s.labels:
                row["annotation"] = [{"type": CLASSIFICATION, "name": name, **made_by(s),
                                      "creation-time": _time(s.labeled_at),
                                      **({"confidence": s.confidence} if s.confidence is not None else {})}
                                     for name in s.labels]
            if s.hard:
                row["hard"] = "true"
                row["hard-coefficient"] = s.hard_coefficient
                row["hard-reasons"] = s.hard_reason
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


# -- object detection and image segmentation ------------------------------------------------------
# Detection: one annotation a sample, {"type": "modelarts/object_detection", "annotation-loc": a
# PASCAL VOC XML, "annotation-format": "PASCAL VOC"}; the export writes the XML files beside the
# manifest, in the folder <manifest stem>_annotations/. Segmentation: one annotation a polygon,
# {"type": "modelarts/image_segmentation", "name": label, "property": {"@modelarts:shape": "polygon",
# "@modelarts:feature": [[x, y], ...]}}. Import reads both forms for both types (annotation-loc VOC
# or inline property with @modelarts:shape bndbox|polygon|circle|line|dashed|point).
DETECTION, SEGMENTATION = "modelarts/object_detection", "modelarts/image_segmentation"
SHAPE_ANNOTATION_TYPES = {"object_detection": DETECTION, "image_segmentation": SEGMENTATION}
INLINE_SHAPES = {"bndbox": "rectangle", "rectangle": "rectangle", "polygon": "polygon", "circle": "circle",
                 "line": "line", "polyline": "line", "dashed": "dashed_line", "dashed_line": "dashed_line",
                 "point": "point"}


def _inline_shape(a: dict) -> dict:
    """A shape from an annotation's property: @modelarts:shape and @modelarts:feature (points)."""
    prop = a.get("property") if isinstance(a.get("property"), dict) else {}
    kind = prop.get("@modelarts:shape") or prop.get("@modelarts:shape_type")
    feature = prop.get("@modelarts:feature")
    if kind is None and feature is None:
        raise ValidationError("has neither annotation-loc (a PASCAL VOC file) nor a property with "
                              "@modelarts:shape and @modelarts:feature")
    if str(kind).lower() not in INLINE_SHAPES:
        raise ValidationError(f"@modelarts:shape {str(kind)[:40]!r} is not one of {', '.join(INLINE_SHAPES)}")
    kind = INLINE_SHAPES[str(kind).lower()]
    if not isinstance(feature, list) or not feature:
        raise ValidationError("@modelarts:feature must be a list of points [[x, y], ...]")
    radius = prop.get("@modelarts:radius")
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in feature):  # flat x1, y1, x2, y2, ...
        if kind == "circle" and len(feature) == 3:
            feature, radius = [feature[:2]], feature[2]
        elif len(feature) % 2:
            raise ValidationError(f"@modelarts:feature has an odd count of coordinates ({len(feature)})")
        else:
            feature = [feature[i:i + 2] for i in range(0, len(feature), 2)]
    elif kind == "circle" and len(feature) == 1 and isinstance(feature[0], list) and len(feature[0]) == 3:
        feature, radius = [feature[0][:2]], feature[0][2]
    shape = {"type": kind, "label": a.get("name"), "points": feature}
    if kind == "circle":
        shape["radius"] = radius
    return shape


def read_shape_manifest(store: Store, path: str, type_id: str = "object_detection"
                        ) -> tuple[list[ImportItem], list[str], int]:
    from ..errors import NotFound, StoreError
    from .shape_io import ShapeCollector
    from .voc import add_voc_shapes, parse_voc

    lines, base, problems = read_manifest_lines(store, path)
    col = ShapeCollector(type_id)
    col.problems.extend(problems)
    col.unmatched = len(problems)
    for n, row, uri in lines:
        rel = row["source"].rsplit("/", 1)[-1] if row["source"].startswith("s3://") else row["source"]
        col.image(uri, rel)
        anns = row.get("annotation") or []
        if not isinstance(anns, list):
            col.refuse(uri, f"line {n}", "\"annotation\" must be a list")
            continue
        for k, a in enumerate(anns, start=1):
            where = f"line {n} annotation {k}"
            if not isinstance(a, dict):
                col.refuse(uri, where, "not an object")
                continue
            atype = a.get("type", SHAPE_ANNOTATION_TYPES[type_id])
            if atype not in (DETECTION, SEGMENTATION):
                col.refuse(uri, where, f"type {str(atype)[:60]!r} is not a shape annotation ({DETECTION} or {SEGMENTATION})")
                continue
            loc = a.get("annotation-loc")
            if loc:
                fmt = str(a.get("annotation-format") or "PASCAL VOC")
                if fmt.upper().replace("_", " ").replace("-", " ") not in ("PASCAL VOC", "PASCALVOC", "VOC"):
                    col.refuse(uri, where, f"annotation-format {fmt[:40]!r} cannot be read (PASCAL VOC can)")
                    continue
                try:
                    xml_uri = resolve_reference(str(loc), base)
                    voc = parse_voc(store.locations.read(xml_uri), str(loc))
                except NotFound:
                    col.refuse(uri, where, f"annotation-loc {str(loc)[:200]}: file not found ({xml_uri[:300]})")
                    continue
                except (StoreError, OSError) as e:
                    col.refuse(uri, where, f"annotation-loc {str(loc)[:200]}: {e}")
                    continue
                add_voc_shapes(col, uri, rel, voc, f"line {n} ({str(loc).rsplit('/', 1)[-1][:80]})")
                continue
            try:
                shape = _inline_shape(a)
            except ValidationError as e:
                col.refuse(uri, where, str(e))
                continue
            col.add(uri, rel, shape, f"{where} ({shape['type'].replace('_', ' ')})")
    return col.result()


def write_shape_manifest(store: Store, job, out: Path, type_id: str = "object_detection") -> int:
    from .shape_io import FileNames, num, sample_shapes, sample_size
    from .voc import voc_xml

    out = prepare_out_file(out)
    xml_dir = out.parent / f"{out.stem}_annotations"
    names = FileNames()
    n = 0
    with open(out, "w", encoding="utf-8") as f:
        for s in iter_job_samples(store, job.id):
            shapes = sample_shapes(s) if s.labels else []
            row = {"source": export_ref(store, s.uri, out.parent), "usage": usage_of(s, bool(shapes)), **split_field(s),
                   "id": str(s.id)}
            common = {**made_by(s), "creation-time": _time(s.labeled_at),
                      **({"confidence": s.confidence} if s.confidence is not None else {})}
            if shapes and type_id == "object_detection":
                name = names.take(s)
                xml_dir.mkdir(parents=True, exist_ok=True)
                xml_path = xml_dir / f"{Path(name).stem}.xml"
                xml_path.write_text(voc_xml(name, sample_size(store, s), shapes, folder=""), encoding="utf-8")
                row["annotation"] = [{"type": DETECTION, "annotation-loc": export_ref(store, str(xml_path), out.parent),
                                      "annotation-format": "PASCAL VOC", **common}]
            elif shapes:
                row["annotation"] = [{"type": SEGMENTATION, "name": sh["label"],
                                      "property": {"@modelarts:shape": "polygon",
                                                   "@modelarts:feature": [[num(x), num(y)] for x, y in sh["points"]]},
                                      **common} for sh in shapes if sh["type"] == "polygon"]
            if s.hard:
                row["hard"] = "true"
                row["hard-coefficient"] = s.hard_coefficient
                row["hard-reasons"] = s.hard_reason
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


register(Format("manifest", "Manifest (JSON lines)",
                "One JSON object a line: source, usage, id, annotation[] (type, name, property, ...).",
                readers={"image_classification": read_classification_manifest,
                         "object_detection": read_shape_manifest,
                         "image_segmentation": partial(read_shape_manifest, type_id="image_segmentation")},
                writers={"image_classification": write_classification_manifest,
                         "object_detection": write_shape_manifest,
                         "image_segmentation": partial(write_shape_manifest, type_id="image_segmentation")},
                example="manifest.jsonl"))
