"""`label_studio`: Label Studio's JSON export (a list of tasks), both ways (issue 17).

One task per sample: {"id", "data": {<key>: <the file, or the text>}, "annotations": [{"result":
[...], "completed_by", "created_at"}], "predictions": [{"model_version", "score", "result"}]}.
The data key is "image", "text" or "audio" (its type's media). Results, as Label Studio writes them:

    image classification, text classification, sound classification
        {"type": "choices", "value": {"choices": [label, ...]}}
    object detection, image segmentation (x, y, width, height and points in percent of the image)
        rectangle   {"type": "rectanglelabels", "value": {"x", "y", "width", "height", "rotation": 0,
                     "rectanglelabels": [label]}}
        polygon     {"type": "polygonlabels", "value": {"points": [[x, y], ...], "polygonlabels": [label]}}
        circle      {"type": "ellipselabels", "value": {"x", "y", "radiusX", "radiusY", ...}} (radii
                    read back with their mean)
        point       {"type": "keypointlabels", "value": {"x", "y", "width": 0.5, "keypointlabels": [label]}}
        (Label Studio has no polyline on images: lines and dashed lines are left out)
    named entity recognition, text triplet
        {"type": "labels", "value": {"start", "end", "text", "labels": [label]}} (code-point offsets)
        and for triplets {"type": "relation", "from_id", "to_id", "direction": "right", "labels": [label]}
    speech labeling   {"type": "textarea", "value": {"text": [transcript]}}
    speech paragraph  {"type": "labels", "value": {"start", "end", "labels": [label]}} (seconds), its
                      content as a "textarea" result with the same id
    video labeling    one {"type": "videorectangle", "id": <track>, "value": {"sequence": [{"frame",
                      "x", "y", "width", "height", "enabled", "time", "rotation": 0}, ...], "labels":
                      [label], "framesCount", "duration"}} per track (frames 1-based, percent of the
                      video); an untracked box is a one-item sequence. Label Studio's video has
                      rectangles only: other shapes are left out. How the keyframes map:
                        - a keyframe followed by a visible one: "enabled": true (interpolated);
                        - a keyframe followed by "outside" on frame f: held, so "enabled": true and the
                          same box again on frame f-1 with "enabled": false (just "enabled": false
                          when f is the next frame);
                        - the last keyframe of a track: "enabled": false (a track ends there).
                      Read back the same way; a last item with "enabled": true lasts to the end of
                      the video (framesCount), as Label Studio shows it.

Export: Labeled samples in "annotations"; a To Be Confirmed sample's prediction in "predictions"
(kept apart, with the model and its confidence as "score") only when the export includes
predictions (`--include predictions`); a confirmed model label says so in the annotation
("labelport": {"annotated_by": model, "confirmed_by": user}). Files are named relative to the JSON.

Import: the last annotation of each task that was not cancelled ("was_cancelled"); predictions are
not labels and are not imported. A file is found from the data key's value: absolute, s3://,
relative to the JSON's folder, or Label Studio's upload URL ("/data/upload/3/ab12-cat.jpg", or
"/data/local-files/?d=..."): its name, beside the JSON or in images/ (audio/) beside it.
"""
from __future__ import annotations

import json
import math
from functools import partial
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from ..core import Store
from ..errors import ValidationError
from ..types import REGISTRY
from .common import ImportItem, export_ref, iter_job_samples, made_by, predictions_included, prepare_out_file, read_text_file
from .registry import Format, register
from .splits import split_field

TYPES = ("image_classification", "object_detection", "image_segmentation", "text_classification",
         "named_entity_recognition", "text_triplet", "sound_classification", "speech_labeling", "speech_paragraph",
         "video_labeling")
DATA_KEY = {"image": "image", "text": "text", "audio": "audio", "video": "video"}
MAX_TASKS = 1_000_000
# the control names of the labeling config the results belong to (LABEL_CONFIG)
FROM_NAMES = {"rectangle": "label", "polygon": "polygon", "circle": "ellipse", "point": "keypoint"}


def label_config(type_id: str, labels: list[str]) -> str:
    """A Label Studio labeling config (XML) for a type: the controls the export's results name."""
    from xml.sax.saxutils import quoteattr

    opts = "".join(f"<Label value={quoteattr(n)}/>" for n in labels)
    choices = "".join(f"<Choice value={quoteattr(n)}/>" for n in labels)
    if type_id in ("object_detection", "image_segmentation"):
        return ('<View><Image name="image" value="$image"/>'
                f'<RectangleLabels name="label" toName="image">{opts}</RectangleLabels>'
                f'<PolygonLabels name="polygon" toName="image">{opts}</PolygonLabels>'
                f'<EllipseLabels name="ellipse" toName="image">{opts}</EllipseLabels>'
                f'<KeyPointLabels name="keypoint" toName="image">{opts}</KeyPointLabels></View>')
    if type_id in ("image_classification", "text_classification", "sound_classification"):
        tag = {"image_classification": "Image", "text_classification": "Text", "sound_classification": "Audio"}[type_id]
        key = DATA_KEY[_media(type_id)]
        return (f'<View><{tag} name="{key}" value="${key}"/><Choices name="choice" toName="{key}" '
                f'choice="multiple">{choices}</Choices></View>')
    if type_id in ("named_entity_recognition", "text_triplet"):
        return f'<View><Labels name="label" toName="text">{opts}</Labels><Text name="text" value="$text"/></View>'
    if type_id == "video_labeling":
        return (f'<View><Labels name="videoLabels" toName="video">{opts}</Labels><Video name="video" value="$video"/>'
                '<VideoRectangle name="box" toName="video"/></View>')
    return (f'<View><Audio name="audio" value="$audio"/><Labels name="label" toName="audio">{opts}</Labels>'
            '<TextArea name="transcription" toName="audio" perRegion="true"/></View>')


def _media(type_id: str) -> str:
    return REGISTRY[type_id].media


def _pct(v: float, size: float) -> float:
    return round(100.0 * float(v) / float(size), 6) if size else 0.0


def _px(v, size: float, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValidationError(f"{where}: {str(v)[:30]!r} is not a number")
    return round(float(v) * float(size) / 100.0, 3)


# -- export ------------------------------------------------------------------------------------------
def _shape_result(shape: dict, n: int, size: tuple[int, int], to_name: str = "image") -> dict | None:
    w, h = size
    kind, pts, label = shape["type"], shape["points"], shape["label"]
    base = {"id": f"r{n}", "from_name": FROM_NAMES.get(kind, "label"), "to_name": to_name, "original_width": w,
            "original_height": h, "image_rotation": 0}
    if kind == "rectangle":
        (x1, y1), (x2, y2) = pts
        value = {"x": _pct(min(x1, x2), w), "y": _pct(min(y1, y2), h), "width": _pct(abs(x2 - x1), w),
                 "height": _pct(abs(y2 - y1), h), "rotation": 0, "rectanglelabels": [label]}
        rtype = "rectanglelabels"
    elif kind == "polygon":
        value = {"points": [[_pct(x, w), _pct(y, h)] for x, y in pts], "closed": True, "polygonlabels": [label]}
        rtype = "polygonlabels"
    elif kind == "circle":
        (cx, cy), r = pts[0], shape["radius"]
        value = {"x": _pct(cx, w), "y": _pct(cy, h), "radiusX": _pct(r, w), "radiusY": _pct(r, h), "rotation": 0,
                 "ellipselabels": [label]}
        rtype = "ellipselabels"
    elif kind == "point":
        value = {"x": _pct(pts[0][0], w), "y": _pct(pts[0][1], h), "width": 0.5, "keypointlabels": [label]}
        rtype = "keypointlabels"
    else:
        return None  # Label Studio has no polyline on images
    return {**base, "type": rtype, "value": value}


def results_of(type_id: str, ann: dict, labels: list[str], size: tuple[int, int] | None, text: str | None,
               meta: dict | None = None) -> list:
    key = DATA_KEY[_media(type_id)]
    if type_id == "video_labeling":
        return video_results(ann, meta or {}) if size else []
    if type_id in ("image_classification", "text_classification", "sound_classification"):
        return [{"id": "r1", "type": "choices", "from_name": "choice", "to_name": key,
                 "value": {"choices": list(labels)}}] if labels else []
    if type_id in ("object_detection", "image_segmentation"):
        if not size:
            return []
        out = [_shape_result(s, n, size) for n, s in enumerate(ann.get("shapes") or [], start=1)]
        return [r for r in out if r]
    if type_id == "named_entity_recognition":
        return [{"id": f"r{n}", "type": "labels", "from_name": "label", "to_name": "text",
                 "value": {"start": s["start"], "end": s["end"], "text": (text or "")[s["start"]:s["end"]],
                           "labels": [s["label"]]}} for n, s in enumerate(ann.get("spans") or [], start=1)]
    if type_id == "text_triplet":
        out = [{"id": e["id"], "type": "labels", "from_name": "label", "to_name": "text",
                "value": {"start": e["start"], "end": e["end"], "text": (text or "")[e["start"]:e["end"]],
                          "labels": [e["label"]]}} for e in ann.get("entities") or []]
        out += [{"type": "relation", "from_id": r["from"], "to_id": r["to"], "direction": "right",
                 "labels": [r["label"]]} for r in ann.get("relations") or []]
        return out
    if type_id == "speech_labeling":
        content = ann.get("content") or ""
        return [{"id": "r1", "type": "textarea", "from_name": "transcription", "to_name": "audio",
                 "value": {"text": [content]}}] if content else []
    out = []
    for n, seg in enumerate(ann.get("segments") or [], start=1):
        rid = str(seg.get("id") or f"S{n}")
        value = {"start": seg["start"], "end": seg["end"], "channel": 0}
        if seg.get("labels"):  # multi-label mode: class -> label
            value["labels"] = list(seg["labels"].values())
            value["labelport_classes"] = dict(seg["labels"])
        else:
            value["labels"] = [seg.get("label")]
        out.append({"id": rid, "type": "labels", "from_name": "label", "to_name": "audio", "value": value})
        if seg.get("content"):
            out.append({"id": rid, "type": "textarea", "from_name": "transcription", "to_name": "audio",
                        "value": {"start": seg["start"], "end": seg["end"], "text": [seg["content"]]}})
    return out


def _box_value(points: list, w: float, h: float) -> dict:
    (x1, y1), (x2, y2) = points
    return {"x": _pct(min(x1, x2), w), "y": _pct(min(y1, y2), h), "width": _pct(abs(x2 - x1), w),
            "height": _pct(abs(y2 - y1), h), "rotation": 0}


def video_results(ann: dict, meta: dict) -> list:
    """One videorectangle per track (and per untracked box) of a video annotation."""
    from ..tracks import keyframes

    w, h = meta["size"]
    fps = meta.get("fps") if isinstance(meta.get("fps"), (int, float)) and meta.get("fps") > 0 else None

    def item(frame: int, shape: dict, enabled: bool) -> dict:
        return {"frame": frame + 1, "enabled": enabled, **_box_value(shape["points"], w, h),
                **({"time": round(frame / fps, 6)} if fps else {})}

    def region(rid: str, label: str, sequence: list) -> dict:
        value = {"sequence": sequence, "labels": [label]}
        if meta.get("frame_count"):
            value["framesCount"] = int(meta["frame_count"])
        if meta.get("duration"):
            value["duration"] = float(meta["duration"])
        return {"id": rid, "type": "videorectangle", "from_name": "box", "to_name": "video", "origin": "manual",
                "original_width": w, "original_height": h, "value": value}

    out = []
    for track, items in keyframes(ann).items():
        items = [(f, s) for f, s in items if s.get("outside") or s.get("type") == "rectangle"]
        sequence = []
        for i, (f, s) in enumerate(items):
            if s.get("outside"):
                continue
            nxt = items[i + 1] if i + 1 < len(items) else None
            if nxt is None:
                sequence.append(item(f, s, False))  # a track ends at its last keyframe
            elif not nxt[1].get("outside"):
                sequence.append(item(f, s, True))
            elif nxt[0] == f + 1:
                sequence.append(item(f, s, False))
            else:  # held up to the frame before "outside"
                sequence += [item(f, s, True), item(nxt[0] - 1, s, False)]
        if sequence:
            label = next(s["label"] for _f, s in items if not s.get("outside"))
            out.append(region(track, label, sequence))
    for fr in ann.get("frames") or []:
        for n, s in enumerate(fr.get("shapes") or [], start=1):
            if not s.get("track") and s.get("type") == "rectangle":
                out.append(region(f"f{fr['frame']}s{n}", s["label"], [item(int(fr["frame"]), s, False)]))
    return out


def write_label_studio(store: Store, job, out: Path, type_id: str) -> int:
    from .shape_io import sample_size

    out = prepare_out_file(out)
    key = DATA_KEY[_media(type_id)]
    shapes = type_id in ("object_detection", "image_segmentation", "video_labeling")
    tasks = []
    for s in iter_job_samples(store, job.id):
        data = {key: s.text or "" if key == "text" else export_ref(store, s.uri, out.parent), **split_field(s)}
        task: dict = {"id": s.id, "data": data, "annotations": [], "predictions": []}
        size = sample_size(store, s) if shapes and s.labels else None
        result = results_of(type_id, s.annotation or {}, list(s.labels or []), size, s.text,
                            {**(s.meta or {}), "size": size}) if s.labels else []
        if s.status == "labeled" and result:
            who = made_by(s)
            entry = {"id": s.id, "result": result, "was_cancelled": False, "completed_by": s.labeled_by or "human",
                     "created_at": s.labeled_at.isoformat() if s.labeled_at else None}
            if "confirmed-by" in who:
                entry["labelport"] = {"annotated_by": who["annotated-by"], "confirmed_by": who["confirmed-by"]}
            task["annotations"].append(entry)
        elif s.status == "to_be_confirmed" and result and predictions_included():
            task["predictions"].append({"model_version": s.model or "model", "score": s.confidence,
                                        "result": result})
        tasks.append(task)
    out.write_text(json.dumps(tasks, ensure_ascii=False, indent=1), encoding="utf-8")
    return len(tasks)


# -- import ------------------------------------------------------------------------------------------
def _file_ref(value: str) -> str:
    """A file reference from a task's data: Label Studio's upload and local-files URLs give a name."""
    if value.startswith(("/data/local-files", "data/local-files")):
        # relative to Label Studio's LOCAL_FILES_DOCUMENT_ROOT, whether or not it starts with "/"
        d = parse_qs(urlparse(value).query).get("d")
        return unquote(d[0]).lstrip("/") or value if d else value
    if value.startswith(("/data/upload/", "data/upload/")):
        name = unquote(value.rsplit("/", 1)[-1])
        # Label Studio prefixes uploads with 8 hex digits and a dash: "ab12cd34-cat.jpg"
        return name[9:] if len(name) > 9 and name[8] == "-" and all(c in "0123456789abcdef" for c in name[:8]) else name
    if value.startswith(("http://", "https://")):
        return unquote(urlparse(value).path.rsplit("/", 1)[-1])
    return value


def _find(store: Store, base: str, ref: str, media: str) -> str | None:
    from .coco import _find_file
    from .shape_io import exists, join_uri

    uri = _find_file(store, base, ref)
    if uri is None and not ref.startswith(("s3://", "/", "store://")):
        name = ref.rsplit("/", 1)[-1]
        uri = next((c for c in (join_uri(base, name), join_uri(base, f"{media}/{name}")) if exists(store, c)), None)
    return uri


def _chosen(task: dict) -> list:
    """The result of the last annotation that was not cancelled ([] without one)."""
    anns = [a for a in task.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]
    res = anns[-1].get("result") if anns else []
    return res if isinstance(res, list) else []


def _labels_of(value: dict, *keys: str) -> list[str]:
    for k in keys:
        v = value.get(k)
        if isinstance(v, list) and v:
            return [str(x) for x in v if isinstance(x, str) and x.strip()]
    return []


def _shape_of(r: dict, size: tuple[float, float] | None, where: str) -> dict | None:
    """A shape from an image result (None: not a shape result)."""
    rtype, v = r.get("type"), r.get("value")
    if rtype not in ("rectanglelabels", "polygonlabels", "ellipselabels", "keypointlabels", "rectangle", "polygon",
                     "ellipse", "keypoint") or not isinstance(v, dict):
        return None
    w, h = r.get("original_width"), r.get("original_height")
    if not (isinstance(w, (int, float)) and isinstance(h, (int, float)) and w > 0 and h > 0):
        if size is None:
            raise ValidationError(f"{where}: no original_width / original_height and the image's size is unknown")
        w, h = size
    names = _labels_of(v, rtype, "labels", "rectanglelabels", "polygonlabels", "ellipselabels", "keypointlabels")
    if not names:
        raise ValidationError(f"{where}: {rtype} has no label")
    kind = rtype.replace("labels", "")
    if kind == "rectangle":
        if v.get("rotation") not in (None, 0, 0.0):
            raise ValidationError(f"{where}: a rotated rectangle ({v.get('rotation')}°) cannot be imported")
        x, y = _px(v.get("x"), w, where), _px(v.get("y"), h, where)
        shape = {"type": "rectangle", "points": [[x, y], [x + _px(v.get("width"), w, where),
                                                          y + _px(v.get("height"), h, where)]]}
    elif kind == "polygon":
        pts = v.get("points")
        if not isinstance(pts, list) or not all(isinstance(p, list) and len(p) == 2 for p in pts):
            raise ValidationError(f"{where}: polygon points are [[x, y], ...] in percent")
        shape = {"type": "polygon", "points": [[_px(p[0], w, where), _px(p[1], h, where)] for p in pts]}
    elif kind == "ellipse":
        rx, ry = _px(v.get("radiusX"), w, where), _px(v.get("radiusY"), h, where)
        shape = {"type": "circle", "points": [[_px(v.get("x"), w, where), _px(v.get("y"), h, where)]],
                 "radius": round((rx + ry) / 2, 3)}
    else:
        shape = {"type": "point", "points": [[_px(v.get("x"), w, where), _px(v.get("y"), h, where)]]}
    return {**shape, "label": names[0]}


def _annotation(type_id: str, result: list, where: str) -> dict | None:
    """A non-image annotation from a task's result (None: no labels)."""
    if type_id in ("image_classification", "text_classification", "sound_classification"):
        labels = [n for r in result if isinstance(r, dict) and isinstance(r.get("value"), dict)
                  for n in _labels_of(r["value"], "choices")]
        labels = list(dict.fromkeys(labels))
        return {"labels": labels} if labels else None
    regions = [r for r in result if isinstance(r, dict) and isinstance(r.get("value"), dict)]
    if type_id == "named_entity_recognition":
        spans = [{"start": r["value"].get("start"), "end": r["value"].get("end"),
                  "label": (_labels_of(r["value"], "labels", "hypertextlabels") or [None])[0]}
                 for r in regions if r.get("type") in ("labels", "hypertextlabels")]
        return {"spans": spans} if spans else None
    if type_id == "text_triplet":
        ents = [{"id": str(r.get("id")), "start": r["value"].get("start"), "end": r["value"].get("end"),
                 "label": (_labels_of(r["value"], "labels") or [None])[0]} for r in regions if r.get("type") == "labels"]
        rels = [{"id": f"R{n}", "from": str(r.get("from_id")), "to": str(r.get("to_id")),
                 "label": (_labels_of(r, "labels") or [None])[0]}
                for n, r in enumerate((r for r in result if isinstance(r, dict) and r.get("type") == "relation"), start=1)]
        return {"entities": ents, "relations": rels} if ents else None
    if type_id == "speech_labeling":
        texts = [t for r in regions if r.get("type") == "textarea" for t in r["value"].get("text") or []
                 if isinstance(t, str)]
        content = "\n".join(texts)
        return {"content": content} if content.strip() else None
    segs: dict[str, dict] = {}
    for n, r in enumerate(regions, start=1):
        rid = str(r.get("id") or f"S{n}")
        v = r["value"]
        if r.get("type") == "labels":
            seg = segs.setdefault(rid, {"id": rid})
            seg.update({"start": v.get("start"), "end": v.get("end")})
            if isinstance(v.get("labelport_classes"), dict):
                seg["labels"] = dict(v["labelport_classes"])
            else:
                seg["label"] = (_labels_of(v, "labels") or [None])[0]
        elif r.get("type") == "textarea":
            texts = [t for t in v.get("text") or [] if isinstance(t, str)]
            if texts:
                segs.setdefault(rid, {"id": rid})["content"] = "\n".join(texts)
    out = [s for s in segs.values() if "start" in s]
    return {"segments": out} if out else None


def _video_frames(result: list, size: tuple[float, float] | None, where: str) -> list[dict]:
    """The frames of a video annotation from a task's videorectangle results (see the module's doc)."""
    frames: dict[int, list[dict]] = {}
    tracks: set[str] = set()
    for k, r in enumerate(result, start=1):
        if not isinstance(r, dict) or r.get("type") != "videorectangle":
            continue
        at = f"{where} result {k}"
        v = r.get("value")
        seq = v.get("sequence") if isinstance(v, dict) else None
        if not isinstance(seq, list) or not seq or not all(isinstance(x, dict) for x in seq):
            raise ValidationError(f"{at}: a videorectangle needs a \"sequence\" of keyframes")
        w, h = r.get("original_width"), r.get("original_height")
        if not (isinstance(w, (int, float)) and isinstance(h, (int, float)) and w > 0 and h > 0):
            if size is None:
                raise ValidationError(f"{at}: no original_width / original_height and the video's size is unknown")
            w, h = size
        names = _labels_of(v, "labels", "videorectangle", "rectanglelabels")
        if not names:
            raise ValidationError(f"{at}: the videorectangle has no label")
        items = []
        for x in seq:
            f = x.get("frame")
            if isinstance(f, bool) or not isinstance(f, int) or f < 1:
                raise ValidationError(f"{at}: a keyframe's \"frame\" is a number from 1, got {str(f)[:20]!r}")
            if x.get("rotation") not in (None, 0, 0.0):
                raise ValidationError(f"{at}: a rotated box ({x.get('rotation')}°) cannot be imported")
            x0, y0 = _px(x.get("x"), w, at), _px(x.get("y"), h, at)
            pts = [[x0, y0], [x0 + _px(x.get("width"), w, at), y0 + _px(x.get("height"), h, at)]]
            items.append((f - 1, pts, x.get("enabled", True) is not False))
        items.sort(key=lambda t: t[0])
        if len(items) == 1 and not items[0][2]:  # one frame only: a box without a track
            frames.setdefault(items[0][0], []).append({"type": "rectangle", "label": names[0], "points": items[0][1]})
            continue
        track = str(r.get("id") or f"T{k}").strip()[:64] or f"T{k}"
        while track in tracks:
            track += "+"
        tracks.add(track)
        count = v.get("framesCount")
        last_frame = int(count) - 1 if isinstance(count, int) and not isinstance(count, bool) and count > 0 else None
        for i, (f, pts, enabled) in enumerate(items):
            prev = items[i - 1] if i else None
            nxt = items[i + 1] if i + 1 < len(items) else None
            hold = (not enabled and prev is not None and prev[2] and prev[1] == pts
                    and (nxt is None or nxt[0] > f + 1))  # the same box again ends a held keyframe
            if not hold:
                frames.setdefault(f, []).append({"type": "rectangle", "label": names[0], "points": pts, "track": track})
            if (not enabled and nxt is not None and nxt[0] > f + 1) or (hold and nxt is None):
                frames.setdefault(f + 1, []).append({"type": "rectangle", "label": names[0], "points": pts,
                                                     "track": track, "outside": True})
            elif enabled and nxt is None and last_frame is not None and last_frame > f:
                # Label Studio shows an enabled last keyframe to the end of the video
                frames.setdefault(last_frame, []).append({"type": "rectangle", "label": names[0], "points": pts,
                                                          "track": track})
    return [{"frame": f, "shapes": shapes} for f, shapes in sorted(frames.items())]


def read_label_studio(store: Store, path: str, type_id: str) -> tuple[list[ImportItem], list[str], int]:
    from ..texts import record_path, record_uri
    from .shape_io import ShapeCollector, parent_uri, probe_size
    from .text_io import item_from_annotation

    text, base_dir = read_text_file(store, path)
    try:
        tasks = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValidationError(f"{path}: not valid JSON (line {e.lineno}: {e.msg})") from None
    if isinstance(tasks, dict):
        tasks = [tasks]
    if not isinstance(tasks, list):
        raise ValidationError(f"{path}: a Label Studio export is a JSON list of tasks")
    if len(tasks) > MAX_TASKS:
        raise ValidationError(f"{path}: {len(tasks):,} tasks: at most {MAX_TASKS:,} in one file")
    media = _media(type_id)
    key = DATA_KEY[media]
    base = parent_uri(path if path.startswith("s3://") else str(Path(path).expanduser().absolute()))
    shapes = type_id in ("object_detection", "image_segmentation")
    col = ShapeCollector(type_id) if shapes else None
    items: list[ImportItem] = []
    problems: list[str] = []
    unmatched = 0
    for n, task in enumerate(tasks, start=1):
        where = f"task {task.get('id', n) if isinstance(task, dict) else n}"
        data = task.get("data") if isinstance(task, dict) else None
        if not isinstance(data, dict):
            problems.append(f"{where}: no \"data\" object")
            unmatched += 1
            continue
        value = data.get(key)
        if value is None:
            value = next((v for v in data.values() if isinstance(v, str)), None)
        if not isinstance(value, str) or (media != "text" and not value.strip()):
            problems.append(f"{where}: data has no \"{key}\"")
            unmatched += 1
            continue
        result = _chosen(task)
        try:
            if media == "text":
                items.append(item_from_annotation(type_id, record_uri(path, n), record_path(path, n), value,
                                                  _annotation(type_id, result, where)))
                continue
            ref = _file_ref(value.strip())
            uri = _find(store, base, ref, media)
            if uri is None:
                problems.append(f"{where}: file {ref[:120]!r} not found beside the JSON or in images/ beside it")
                unmatched += 1
                continue
            name = ref.rsplit("/", 1)[-1]
            if media == "video":
                from .video_io import _item as video_item, _probe

                meta = None
                if any(isinstance(r, dict) and r.get("type") == "videorectangle"
                       and not (r.get("original_width") and r.get("original_height")) for r in result):
                    meta = _probe(store, uri, name)
                size = (meta["width"], meta["height"]) if meta and meta.get("width") and meta.get("height") else None
                items.append(video_item(uri, name, _video_frames(result, size, where)))
                continue
            if not shapes:
                from .audio_io import _item as audio_item

                ann = _annotation(type_id, result, where)
                if media == "audio":
                    items.append(audio_item(type_id, uri, name, ann))
                else:
                    items.append(ImportItem(uri, name, ann, list((ann or {}).get("labels") or [])))
                continue
            col.image(uri, name)
            size = None
            for k, r in enumerate(result, start=1):
                if not isinstance(r, dict):
                    continue
                try:
                    if size is None and not (r.get("original_width") and r.get("original_height")):
                        size = probe_size(store, uri)
                    shape = _shape_of(r, size, f"{where} result {k}")
                except ValidationError as e:
                    col.refuse(uri, f"{where} result {k}", str(e).split(": ", 1)[-1])
                    continue
                if shape is not None:
                    col.add(uri, name, shape, f"{where} result {k}")
        except ValidationError as e:
            problems.append(f"{where}: {e}")
    if shapes:
        got, more, found = col.result()
        return got, problems + more, found + unmatched
    return items, problems, len(items) + unmatched


register(Format("label_studio", "Label Studio JSON",
                "Label Studio's JSON export: a list of tasks with data (image / text / audio) and annotations "
                "(choices, rectanglelabels, polygonlabels, ellipselabels, keypointlabels, labels, relation, "
                "textarea); predictions kept apart.",
                readers={t: partial(read_label_studio, type_id=t) for t in TYPES},
                writers={t: partial(write_label_studio, type_id=t) for t in TYPES}, example="label_studio.json"))
