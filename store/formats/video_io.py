"""Video readers and writers of `manifest`, `jsonl` and `coco` (SPEC F3.11, F7.1, F8.2).

manifest: one line per video; one annotation per time point (shapes as in object detection):
    {"source": "/data/v.mp4", "usage": "TRAIN", "id": "7", "annotation": [
      {"type": "modelarts/object_detection", "annotation-loc": "<out>_annotations/v_000030.xml",
       "annotation-format": "PASCAL VOC",
       "property": {"@modelarts:time_in_video": "1.200", "@labelport:frame": 30,
                    "@labelport:tracks": ["car-1", null]}, "annotated-by": ..., "creation-time": ...}]}
  The PASCAL VOC XML of a time point holds its shapes (written to <manifest stem>_annotations/
  beside the manifest, named <video stem>_<frame:06d>.xml). "@labelport:tracks" (our extension)
  gives each object's track id, in the XML's order; "@labelport:outside" and "@labelport:occluded"
  its flags (store/tracks.py). Reading also takes inline shapes: an
  annotation with "name" and a property @modelarts:shape / @modelarts:feature (as for detection),
  grouped by @modelarts:time_in_video. Without @labelport:frame the frame is the time times the
  video's fps (the video is probed).
jsonl, one video a line:
    {"id": 7, "source": "/data/v.mp4", "fps": 25.0, "frame_count": 250, "width": 640, "height": 272,
     "frames": [{"frame": 30, "time": 1.2, "shapes": [{"type": "rectangle", "label": "car",
                 "points": [[x1, y1], [x2, y2]], "track": "car-1"}]}]}
  ("file", "video" and "path" are read as the source too).
coco: the JSON, and in images/ beside it a JPEG of every frame that has boxes, named
  <video stem>_<frame:06d>.jpg, including the frames between two keyframes of a track, which get
  the interpolated shapes (store/tracks.py; "keyframe": false, "labelport_interpolated": true).
  A track's annotations carry "track_id" (an integer, as in TAO and CVAT's COCO; "tracks" and
  "videos" list them) and "labelport_track" (our id); every annotation has "occluded" (0 or 1).
  Each image carries "video_id", "frame_id" and "labelport_video" {"source", "frame", "time",
  "outside": [the keyframes of tracks whose object left the view on this frame]} so that an import here puts the
  shapes back on their video (interpolated shapes are skipped: they follow from the keyframes).
"""
from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path

from ..core import Store
from ..errors import NotFound, StoreError, ValidationError
from .common import ImportItem
from .splits import in_split, per_split, split_field, usage_of
from .registry import FORMATS
from .common import export_ref, iter_job_samples, made_by, prepare_out_file, read_text_file, resolve_reference
from .manifest import DETECTION, _inline_shape, _time, read_manifest_lines

TYPE = "video_labeling"
SOURCE_KEYS = ("source", "file", "video", "path")
TIME_KEY, FRAME_KEY, TRACKS_KEY = "@modelarts:time_in_video", "@labelport:frame", "@labelport:tracks"
FLAG_KEYS = {"outside": "@labelport:outside", "occluded": "@labelport:occluded"}  # store/tracks.py


def _rel(source: str) -> str:
    return source.rsplit("/", 1)[-1] if source.startswith("s3://") else source


def _item(uri: str, rel: str, frames: list | None, meta: dict | None = None) -> ImportItem:
    if not frames:
        return ImportItem(uri, rel, meta=meta)
    names = [s.get("label") for fr in frames if isinstance(fr, dict)
             for s in fr.get("shapes") or [] if isinstance(s, dict)]
    names = list(dict.fromkeys(n for n in names if isinstance(n, str) and n.strip()))
    return ImportItem(uri, rel, {"frames": frames}, names, meta=meta)


def _probe(store: Store, uri: str, rel: str) -> dict | None:
    from ..video import probe_video

    try:
        local = store.locations.local_path(uri)
        if local is not None:
            return probe_video(local, rel) if local.is_file() else None
        return probe_video(store.locations.read(uri), rel)
    except (StoreError, OSError):
        return None


def _stem(sample) -> str:
    return Path(sample.name).stem


# -- jsonl ----------------------------------------------------------------------------------------
def read_video_jsonl(store: Store, path: str) -> tuple[list[ImportItem], list[str]]:
    text, base = read_text_file(store, path)
    items, problems = [], []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValidationError("each line is a JSON object")
            ref = next((row[k] for k in SOURCE_KEYS if isinstance(row.get(k), str) and row[k].strip()), None)
            if ref is None:
                raise ValidationError('each line needs a "source" (the video file)')
            frames = row.get("frames")
            if frames is not None and not isinstance(frames, list):
                raise ValidationError('"frames" must be a list of {"frame", "time", "shapes"}')
            items.append(_item(resolve_reference(ref, base), _rel(ref), frames))
        except json.JSONDecodeError as e:
            problems.append(f"line {n}: not valid JSON ({e.msg})")
        except ValidationError as e:
            problems.append(f"line {n}: {e}")
    return items, problems


def write_video_jsonl(store: Store, job, out: Path) -> int:
    out = prepare_out_file(out)
    n = 0
    with open(out, "w", encoding="utf-8") as f:
        for s in iter_job_samples(store, job.id):
            row: dict = {"id": s.id, **split_field(s), "source": export_ref(store, s.uri, out.parent)}
            for k in ("fps", "frame_count", "width", "height", "duration"):
                if s.meta.get(k) is not None:
                    row[k] = s.meta[k]
            row["frames"] = (s.annotation or {}).get("frames") or [] if s.labels else []
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


# -- manifest -------------------------------------------------------------------------------------
def _seconds(v, where: str) -> float:
    try:
        t = float(v)
    except (TypeError, ValueError):
        from .audio_io import parse_time

        t = parse_time(v, f"{where}: {TIME_KEY}")
    if not math.isfinite(t) or t < 0:
        raise ValidationError(f"{where}: {TIME_KEY} {str(v)[:40]!r} is not a time in seconds")
    return t


def read_video_manifest(store: Store, path: str) -> tuple[list[ImportItem], list[str]]:
    from .voc import ObjectError, parse_voc

    lines, base, problems = read_manifest_lines(store, path)
    items = []
    for n, row, uri in lines:
        rel = _rel(row["source"])
        anns = row.get("annotation") or []
        by_key: dict = {}  # (frame or None, time) -> shapes
        meta = None
        bad = []
        if not isinstance(anns, list):
            anns, bad = [], [f'line {n}: "annotation" must be a list']
        for k, a in enumerate(anns, start=1):
            where = f"line {n} annotation {k}"
            try:
                if not isinstance(a, dict):
                    raise ValidationError("not an object")
                if a.get("type", DETECTION) != DETECTION:
                    raise ValidationError(f"type {str(a.get('type'))[:60]!r} is not {DETECTION}")
                prop = a.get("property") if isinstance(a.get("property"), dict) else {}
                if TIME_KEY not in prop and FRAME_KEY not in prop:
                    raise ValidationError(f"property {TIME_KEY} (the time point) is missing")
                t = _seconds(prop[TIME_KEY], where) if TIME_KEY in prop else None
                frame = prop.get(FRAME_KEY)
                if frame is not None and (isinstance(frame, bool) or not isinstance(frame, int)):
                    raise ValidationError(f"{FRAME_KEY} must be a whole frame index")
                if frame is None:
                    if meta is None:
                        meta = _probe(store, uri, rel) or {}
                    if not meta.get("fps"):
                        raise ValidationError("the frame of this time point cannot be found (the video cannot be read)")
                    frame = min(int(round(t * meta["fps"])), max(0, int(meta.get("frame_count") or 1) - 1))
                shapes = []
                loc = a.get("annotation-loc")
                if loc:
                    xml_uri = resolve_reference(str(loc), base)
                    try:
                        voc = parse_voc(store.locations.read(xml_uri), str(loc))
                    except NotFound:
                        raise ValidationError(f"annotation-loc {str(loc)[:200]}: file not found") from None
                    tracks = prop.get(TRACKS_KEY) if isinstance(prop.get(TRACKS_KEY), list) else []
                    flags = {flag: prop[key] for flag, key in FLAG_KEYS.items() if isinstance(prop.get(key), list)}
                    for i, shape in voc.objects:
                        if isinstance(shape, ObjectError):
                            raise ValidationError(f"object {i}: {shape}")
                        if i - 1 < len(tracks) and tracks[i - 1] not in (None, ""):
                            shape["track"] = str(tracks[i - 1])
                        for flag, values in flags.items():
                            if i - 1 < len(values) and values[i - 1] is True:
                                shape[flag] = True
                        shapes.append(shape)
                else:
                    shape = _inline_shape(a)
                    if isinstance(prop.get("@labelport:track"), str):
                        shape["track"] = prop["@labelport:track"]
                    shapes.append(shape)
                entry = by_key.setdefault(frame, {"frame": frame, "shapes": []})
                if t is not None:
                    entry["time"] = t
                entry["shapes"].extend(shapes)
            except (ValidationError, StoreError, OSError) as e:
                bad.append(f"{where}: {e}")
        if bad:
            problems.extend(bad)
            problems.append(f"{rel}: imported without labels ({len(bad)} refused above); fix the file and import it again")
            items.append(_item(uri, rel, None, meta or None))
            continue
        items.append(_item(uri, rel, [by_key[f] for f in sorted(by_key)], meta or None))
    return items, problems


def write_video_manifest(store: Store, job, out: Path) -> int:
    from .voc import voc_xml

    out = prepare_out_file(out)
    xml_dir = out.parent / f"{out.stem}_annotations"
    used: set[str] = set()
    n = 0
    with open(out, "w", encoding="utf-8") as f:
        for s in iter_job_samples(store, job.id):
            frames = (s.annotation or {}).get("frames") or [] if s.labels else []
            row = {"source": export_ref(store, s.uri, out.parent), "usage": usage_of(s, bool(frames)), **split_field(s),
                   "id": str(s.id)}
            common = {**made_by(s), "creation-time": _time(s.labeled_at),
                      **({"confidence": s.confidence} if s.confidence is not None else {})}
            stem = _stem(s)
            if stem.lower() in used:
                stem = f"{s.id}_{stem}"
            used.add(stem.lower())
            size = (int(s.meta["width"]), int(s.meta["height"])) if s.meta.get("width") else None
            anns = []
            for fr in frames:
                name = f"{stem}_{fr['frame']:06d}"
                xml_dir.mkdir(parents=True, exist_ok=True)
                xml_path = xml_dir / f"{name}.xml"
                xml_path.write_text(voc_xml(f"{name}.jpg", size, fr["shapes"], folder=""), encoding="utf-8")
                prop = {TIME_KEY: f"{float(fr.get('time') or 0):.3f}", FRAME_KEY: fr["frame"]}
                if any(sh.get("track") for sh in fr["shapes"]):
                    prop[TRACKS_KEY] = [sh.get("track") for sh in fr["shapes"]]
                for flag, key in FLAG_KEYS.items():  # per object, in the XML's order
                    if any(sh.get(flag) for sh in fr["shapes"]):
                        prop[key] = [bool(sh.get(flag)) for sh in fr["shapes"]]
                anns.append({"type": DETECTION, "annotation-loc": str(xml_path), "annotation-format": "PASCAL VOC",
                             "property": prop, **common})
            if anns:
                row["annotation"] = anns
            if s.hard:
                row["hard"] = "true"
                row["hard-coefficient"] = s.hard_coefficient
                row["hard-reasons"] = s.hard_reason
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


# -- coco -----------------------------------------------------------------------------------------
def _open(store: Store, uri: str):
    import io

    import av

    local = store.locations.local_path(uri)
    return av.open(str(local)) if local is not None and local.is_file() else av.open(io.BytesIO(store.locations.read(uri)))


def write_video_coco(store: Store, job, out: Path) -> int:
    """The JSON at `out` and a JPEG of each frame with boxes in images/ beside it (with splits, one
    JSON per split: `<out stem>_<split>.json`, the frames in one images/)."""
    used: set[str] = set()  # image stems, across the splits' files
    return per_split(out, lambda path, split: _write_video_coco(store, job, prepare_out_file(path), split, used),
                     ".json")


def _write_video_coco(store: Store, job, out: Path, split: str | None, used: set[str]) -> int:
    from ..video import frames_with_interpolation
    from .coco import coco_annotation

    image_dir = out.parent / "images"
    categories = {name: i for i, name in enumerate(job.label_set.names(), start=1)}
    images, annotations = [], []
    video_ids: dict[int, int] = {}
    track_ids: dict[tuple[int, str], int] = {}
    for s in iter_job_samples(store, job.id, labeled_only=True):
        if not in_split(s, split):
            continue
        per_frame = frames_with_interpolation(s.annotation or {})
        outside: dict[int, list[dict]] = {}  # frames where a track's object left the view: its keyframe
        for fr in (s.annotation or {}).get("frames") or []:
            for sh in fr.get("shapes") or []:
                if sh.get("outside"):
                    outside.setdefault(int(fr["frame"]), []).append({k: v for k, v in sh.items() if k != "id"})
                    per_frame.setdefault(int(fr["frame"]), [])
        if not per_frame:
            continue
        stem = _stem(s)
        if stem.lower() in used:
            stem = f"{s.id}_{stem}"
        used.add(stem.lower())
        fps = float(s.meta.get("fps") or 0)
        wanted = set(per_frame)
        image_dir.mkdir(parents=True, exist_ok=True)
        container = _open(store, s.uri)
        try:
            container.streams.video[0].thread_type = "AUTO"
            last = max(wanted)
            for i, frame in enumerate(container.decode(video=0)):  # presentation order = frame index
                if i in wanted:
                    name = f"{stem}_{i:06d}.jpg"
                    frame.to_image().save(image_dir / name, "JPEG", quality=92)
                    image_id = len(images) + 1
                    video = {"source": export_ref(store, s.uri, out.parent), "frame": i,
                             "time": round(i / fps, 6) if fps else None}
                    if outside.get(i):
                        video["outside"] = outside[i]
                    images.append({"id": image_id, "file_name": f"images/{name}", "width": frame.width,
                                   "height": frame.height, "video_id": video_ids.setdefault(s.id, len(video_ids) + 1),
                                   "frame_id": i, "labelport_video": video})
                    for shape in per_frame[i]:
                        cat = categories.setdefault(shape["label"], len(categories) + 1)
                        ann = coco_annotation(shape, len(annotations) + 1, image_id, cat)
                        if shape.get("track"):  # TAO / CVAT style: an integer track id, ours beside it
                            ann["track_id"] = track_ids.setdefault((s.id, shape["track"]), len(track_ids) + 1)
                            ann["labelport_track"] = shape["track"]
                        ann["occluded"] = 1 if shape.get("occluded") else 0
                        ann["keyframe"] = not shape.get("interpolated")
                        if shape.get("interpolated"):
                            ann["labelport_interpolated"] = True
                        annotations.append(ann)
                if i >= last:
                    break
        finally:
            container.close()
    doc = {"info": {"description": f"Labelport export of job {job.name}",
                    "date_created": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")},
           "licenses": [], "images": images, "annotations": annotations,
           "categories": [{"id": i, "name": name} for name, i in categories.items()],
           "videos": [{"id": v, "labelport_sample": sid} for sid, v in video_ids.items()],
           "tracks": [{"id": t, "video_id": video_ids[sid], "labelport_track": name,
                       "category_id": next((a["category_id"] for a in annotations if a.get("track_id") == t), None)}
                      for (sid, name), t in track_ids.items()]}
    out.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return len(images)


def read_video_coco(store: Store, path: str) -> tuple[list[ImportItem], list[str]]:
    """Images with "labelport_video" (written by this exporter) go back onto their video."""
    from .coco import _load, _shapes
    from .shape_io import ShapeCollector, parent_uri

    data = _load(store, path)
    base = Path(parent_uri(path)) if not path.startswith("s3://") else None
    cats = {c["id"]: c["name"] for c in data.get("categories", []) if isinstance(c, dict) and "id" in c
            and isinstance(c.get("name"), str)}
    problems: list[str] = []
    images: dict = {}  # image id -> (video uri, rel, frame, time)
    videos: dict[str, dict] = {}
    for img in data["images"]:
        v = img.get("labelport_video") if isinstance(img, dict) else None
        if not isinstance(v, dict) or not isinstance(v.get("source"), str) or not isinstance(v.get("frame"), int):
            problems.append(f"image {str(img.get('id') if isinstance(img, dict) else img)[:40]}: no labelport_video "
                            "(source, frame): a video job imports COCO files exported from a video job")
            continue
        try:
            uri = resolve_reference(v["source"], base)
        except ValidationError as e:
            problems.append(f"image {img.get('id')}: {e}")
            continue
        images[img.get("id")] = (uri, v["frame"], v.get("time"))
        videos.setdefault(uri, {"rel": _rel(v["source"]), "frames": {}, "outside": []})
        for kept in v["outside"] if isinstance(v.get("outside"), list) else []:  # outside keyframes, as written
            if isinstance(kept, dict) and isinstance(kept.get("track"), str):
                videos[uri]["outside"].append((v["frame"], kept, v.get("time")))
    col = ShapeCollector("object_detection")
    for n, ann in enumerate(data.get("annotations", []), start=1):
        if not isinstance(ann, dict) or ann.get("labelport_interpolated"):
            continue
        if ann.get("image_id") not in images:
            problems.append(f"annotation {ann.get('id', n)}: unknown image id {str(ann.get('image_id'))[:40]}")
            continue
        uri, frame, t = images[ann["image_id"]]
        label = cats.get(ann.get("category_id"))
        if label is None:
            problems.append(f"annotation {ann.get('id', n)}: unknown category id {str(ann.get('category_id'))[:40]}")
            continue
        for shape, _part in _shapes(ann, label, "object_detection", col, uri, f"annotation {ann.get('id', n)}"):
            if isinstance(ann.get("labelport_track"), str):
                shape["track"] = ann["labelport_track"]
            if ann.get("occluded") in (1, True):
                shape["occluded"] = True
            entry = videos[uri]["frames"].setdefault(frame, {"frame": frame, "shapes": []})
            if isinstance(t, (int, float)):
                entry["time"] = t
            entry["shapes"].append(shape)
    problems.extend(col.problems)
    for v in videos.values():  # outside keyframes (the store checks them as any shape)
        for frame, kept, t in v["outside"]:
            entry = v["frames"].setdefault(frame, {"frame": frame, "shapes": []})
            if isinstance(t, (int, float)):
                entry["time"] = t
            entry["shapes"].append({**kept, "outside": True})
    items = [_item(uri, v["rel"], [v["frames"][f] for f in sorted(v["frames"])]) for uri, v in videos.items()]
    return items, problems


def _register() -> None:
    FORMATS["jsonl"].readers[TYPE] = read_video_jsonl
    FORMATS["jsonl"].writers[TYPE] = write_video_jsonl
    FORMATS["manifest"].readers[TYPE] = read_video_manifest
    FORMATS["manifest"].writers[TYPE] = write_video_manifest
    FORMATS["coco"].readers[TYPE] = read_video_coco
    FORMATS["coco"].writers[TYPE] = write_video_coco


_register()
