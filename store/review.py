"""Quick review of shapes (SPEC F3.4): every shape of one label as a crop, sorted by area or
aspect ratio; relabel, adjust or delete them, then apply all modifications at once."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from .core import Store
from .errors import NotFound, ValidationError
from .events import record_event
from .jobs import get_job
from .types.shapes import shape_area, shape_bbox
from .access import require_job

SORTS = ("area", "aspect_ratio")
MAX_CROPS = 2000


@dataclass(frozen=True)
class ShapeCrop:
    sample_id: int
    shape_id: str
    label: str
    type: str
    bbox: tuple[float, float, float, float]
    area: float
    aspect_ratio: float
    file: str
    points: list
    radius: float | None = None


@dataclass
class Modification:
    """What the reviewer did to one shape: relabel (label), adjust (points/radius) or delete."""
    sample_id: int
    shape_id: str
    action: str  # relabel | adjust | delete
    label: str | None = None
    points: list | None = None
    radius: float | None = None
    extra: dict = field(default_factory=dict)


def shapes_of_label(store: Store, job_id: int, label: str, sort: str = "area", descending: bool = True,
                    limit: int = MAX_CROPS, actor: str | None = None) -> list[ShapeCrop]:
    require_job(store, actor, job_id, "read")
    job = get_job(store, job_id)
    t = job.labeling_type  # shapes on an image: object detection, image segmentation
    if t.relabel is None or t.media != "image" or not t.shape_types:
        raise ValidationError("quick review is for object detection and image segmentation jobs")
    if sort not in SORTS:
        raise ValidationError(f"sort by one of: {', '.join(SORTS)}")
    rows = store.db.fetchall(
        "SELECT js.sample_id, js.annotation, s.path FROM job_samples js JOIN samples s ON s.id = js.sample_id "
        "WHERE js.job_id = ? AND list_contains(js.labels, ?) ORDER BY js.sample_id", [job_id, label])
    out = []
    for sample_id, raw, path in rows:
        for shape in json.loads(raw or "{}").get("shapes", []):
            if shape.get("label") != label:
                continue
            x1, y1, x2, y2 = shape_bbox(shape)
            w, h = max(x2 - x1, 1e-9), max(y2 - y1, 1e-9)
            out.append(ShapeCrop(sample_id, shape["id"], label, shape["type"], (x1, y1, x2, y2),
                                 shape_area(shape) or w * h, w / h, path.rsplit("/", 1)[-1], shape["points"],
                                 shape.get("radius")))
    key = (lambda c: c.area) if sort == "area" else (lambda c: c.aspect_ratio)
    out.sort(key=key, reverse=descending)
    return out[:limit]


def apply_modifications(store: Store, job_id: int, modifications: list[Modification],
                        actor: str | None = None) -> int:
    """Overwrite the shapes the reviewer changed, all in one transaction; every changed image is
    validated again (labels, points inside the image). Returns the number of images changed."""

    require_job(store, actor, job_id, "label")  # store/access.py decides
    from .annotations import _write_annotations

    job = get_job(store, job_id)
    if not modifications:
        raise ValidationError("there are no modifications to apply")
    by_sample: dict[int, list[Modification]] = {}
    for m in modifications:
        if m.action not in ("relabel", "adjust", "delete"):
            raise ValidationError(f"unknown modification {m.action!r}")
        by_sample.setdefault(int(m.sample_id), []).append(m)
    # the shapes are patched by id on what is stored when the change is written (read under the
    # write lock, in the same transaction): a shape someone else changed meanwhile keeps their
    # change beside the reviewer's, one they deleted is refused (NotFound), nothing is overwritten blind
    with store.db.transaction() as cur:
        rows = []
        for sample_id, mods in by_sample.items():
            r = store.db.fetchone("SELECT js.annotation, s.meta FROM job_samples js "
                                  "JOIN samples s ON s.id = js.sample_id "
                                  "WHERE js.job_id = ? AND js.sample_id = ?", [job_id, sample_id])
            if r is None:
                raise NotFound(f"sample {sample_id} is no longer in this job")
            shapes = {s["id"]: dict(s) for s in json.loads(r[0] or "{}").get("shapes", [])}
            for m in mods:
                if m.shape_id not in shapes:
                    raise NotFound(f"shape {m.shape_id} of sample {sample_id} no longer exists (changed elsewhere?)")
                if m.action == "delete":
                    shapes.pop(m.shape_id)
                elif m.action == "relabel":
                    shapes[m.shape_id]["label"] = m.label
                    shapes[m.shape_id].pop("attributes", None)
                else:
                    shapes[m.shape_id]["points"] = m.points
                    if m.radius is not None:
                        shapes[m.shape_id]["radius"] = m.radius
            ann = job.labeling_type.validate({"shapes": list(shapes.values())}, job.label_set,
                                             json.loads(r[1]) if r[1] else None)
            rows.append((sample_id, ann))
        _write_annotations(cur, job_id, rows, actor)
        record_event(cur, actor, "quick_review", job_id, images=len(rows), modifications=len(modifications))
    return len(rows)
