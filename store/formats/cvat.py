"""CVAT 1.1 XML, format id `cvat`: CVAT for video (video labeling's tracks, SPEC F7.4, issue 16)
and CVAT for images (object detection and image segmentation, issue 17), both ways.

CVAT for images: `annotations.xml` with <meta><task> (mode annotation, the labels with colors and
attributes) and one <image id name width height> per labeled image holding its shapes: <box xtl
ytl xbr ybr>, <polygon points="x,y;...">, <polyline> (a dashed line has labelport_type
"dashed_line"), <points> (one point), <ellipse cx cy rx ry> (a circle, rx = ry; read back with
their mean), each with label, occluded, z_order (its place on the image) and <attribute>
children; the images copied into `images/` beside it (`name` = the file's name there). Import:
one XML file or a folder with `annotations.xml`; an image's `name` is found relative to the XML's
folder or in `images/` beside it; labels the file defines in <meta> are added with their colors
and attributes.

Export: a folder with one XML per video, `<video stem>.xml`, as CVAT writes a video task's
annotations.xml: <meta><task> with the frame count, the labels (colors, attributes) and the
original size, and <source> (the video's file: its path, or its s3:// URL). Every object is a
<track id label source>: its keyframes keyframe="1" (outside="1" where the object left the view),
the frames between them keyframe="0" with the interpolated shape (store/tracks.py), and an
outside="1" keyframe on the frame after the track's last keyframe (CVAT would otherwise carry
the object on to the end of the video). Shapes without a track are one-frame tracks, as CVAT
writes them. Kinds: rectangle <box xtl ytl xbr ybr>, polygon <polygon points="x,y;...">, line
<polyline>, point <points>, circle <ellipse cx cy rx ry> (rx = ry); a dashed line is a
<polyline> with labelport_type="dashed_line". Our track ids go in labelport_track (CVAT's own
track ids are numbers), z_order is a shape's place in its frame.

Import: one XML file, or a folder of them. The video is <source> (absolute, s3://, or relative
to the XML's folder; else <task><name> likewise). Keyframes (keyframe="1") are kept, the rest
follows from them; a track's last written shape becomes a keyframe when it is visible (CVAT's
tracks run on to the end of the task). A track of one visible frame is a shape without a track;
the track id is labelport_track, else CVAT's track id. Labels come from each track's label;
<attribute name="...">value</attribute> children are the shape's attributes.
"""
from __future__ import annotations

import math
import re
from functools import partial
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

from ..core import Store
from ..errors import ValidationError
from ..tracks import interpolate_tracks, keyframes
from .common import ImportItem, export_ref, iter_job_samples, prepare_out_dir, read_text_file, resolve_reference
from .splits import split_field
from .registry import Format, register

TYPE = "video_labeling"
KINDS = {"rectangle": "box", "polygon": "polygon", "line": "polyline", "dashed_line": "polyline",
         "point": "points", "circle": "ellipse"}
ELEMENTS = {"box", "polygon", "polyline", "points", "ellipse"}
MAX_CVAT_BYTES = 200 * 2**20  # a long video's tracks write every frame


def _num(v: float) -> str:
    return f"{float(v):.2f}"


def _geometry(shape: dict) -> dict[str, str]:
    kind = shape["type"]
    pts = shape["points"]
    if kind == "rectangle":
        (x1, y1), (x2, y2) = pts
        return {"xtl": _num(min(x1, x2)), "ytl": _num(min(y1, y2)), "xbr": _num(max(x1, x2)), "ybr": _num(max(y1, y2))}
    if kind == "circle":
        (cx, cy), r = pts[0], shape.get("radius") or 0
        return {"cx": _num(cx), "cy": _num(cy), "rx": _num(r), "ry": _num(r)}
    return {"points": ";".join(f"{_num(x)},{_num(y)}" for x, y in pts)}


def _shape_element(parent: ET.Element, shape: dict, frame: int, keyframe: bool, outside: bool,
                   z_order: int) -> None:
    attrs = {"frame": str(frame), "keyframe": "1" if keyframe else "0", "outside": "1" if outside else "0",
             "occluded": "1" if shape.get("occluded") else "0", **_geometry(shape), "z_order": str(z_order)}
    if shape["type"] == "dashed_line":
        attrs["labelport_type"] = "dashed_line"
    el = ET.SubElement(parent, KINDS[shape["type"]], attrs)
    for name, value in (shape.get("attributes") or {}).items():
        ET.SubElement(el, "attribute", {"name": str(name)}).text = str(value)


def _meta(root: ET.Element, job, sample, source: str) -> None:
    meta = ET.SubElement(root, "meta")
    task = ET.SubElement(meta, "task")
    count = int(sample.meta.get("frame_count") or 0)
    for tag, text in (("id", sample.id), ("name", sample.name), ("size", count), ("mode", "interpolation"),
                      ("overlap", 0), ("flipped", "False"), ("start_frame", 0), ("stop_frame", max(0, count - 1)),
                      ("frame_filter", "")):
        ET.SubElement(task, tag).text = str(text)
    _labels_meta(task, job)
    size = ET.SubElement(task, "original_size")
    ET.SubElement(size, "width").text = str(int(sample.meta.get("width") or 0))
    ET.SubElement(size, "height").text = str(int(sample.meta.get("height") or 0))
    ET.SubElement(task, "source").text = source
    subset = split_field(sample).get("split")
    if subset:  # an export with splits: the video's split, as CVAT names a task's subset
        ET.SubElement(task, "subset").text = subset
    ET.SubElement(meta, "dumped").text = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f+00:00")
    ET.SubElement(meta, "source").text = source


def video_xml(job, sample, source: str) -> str:
    """One video's annotation as CVAT for video 1.1 XML."""
    ann = (sample.annotation or {}) if sample.labels else {}
    frames = ann.get("frames") or []
    count = int(sample.meta.get("frame_count") or 0)
    root = ET.Element("annotations")
    ET.SubElement(root, "version").text = "1.1"
    _meta(root, job, sample, source)
    z = {(fr["frame"], id(s)): i for fr in frames for i, s in enumerate(fr.get("shapes") or [])}
    between = interpolate_tracks(ann)
    objects: list[tuple[int, str | None, list[tuple[int, dict]]]] = []  # (first frame, track, keyframes)
    for track, items in keyframes(ann).items():
        objects.append((items[0][0], track, items))
    for fr in frames:
        for s in fr.get("shapes") or []:
            if not s.get("track"):
                objects.append((fr["frame"], None, [(fr["frame"], s)]))
    objects.sort(key=lambda o: o[0])
    for n, (_first, track, items) in enumerate(objects):
        el = ET.SubElement(root, "track", {"id": str(n), "label": items[0][1]["label"], "source": "manual",
                                           "labelport_track": track or ""})
        for k, (f, s) in enumerate(items):
            if s.get("outside"):  # its own place and attributes, as stored (CVAT draws nothing there)
                _shape_element(el, s, f, True, True, z.get((f, id(s)), 0))
                continue
            _shape_element(el, s, f, True, False, z.get((f, id(s)), 0))
            nxt = items[k + 1][0] if k + 1 < len(items) else None
            if nxt is not None and track is not None:
                for g in range(f + 1, nxt):
                    mine = next((b for b in between.get(g, []) if b.get("track") == track), None)
                    if mine is not None:
                        _shape_element(el, mine, g, False, False, z.get((f, id(s)), 0))
        end = items[-1]
        if not end[1].get("outside") and (count <= 0 or end[0] + 1 < count):
            _shape_element(el, end[1], end[0] + 1, True, True, z.get((end[0], id(end[1])), 0))
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_cvat_video(store: Store, job, out: Path) -> int:
    """A folder with `<video stem>.xml` for every video of the job (labeled or not)."""
    out = prepare_out_dir(out)
    used: set[str] = set()
    n = 0
    for s in iter_job_samples(store, job.id):
        stem = Path(s.name).stem or f"video_{s.id}"
        if stem.lower() in used:
            stem = f"{s.id}_{stem}"
        used.add(stem.lower())
        (out / f"{stem}.xml").write_text(video_xml(job, s, export_ref(store, s.uri, out)), encoding="utf-8")
        n += 1
    return n


# -- import ----------------------------------------------------------------------------------------
def _float(el: ET.Element, name: str) -> float:
    raw = el.get(name)
    try:
        v = float(raw)
    except (TypeError, ValueError):
        raise ValidationError(f"<{el.tag}> {name}={str(raw)[:40]!r} is not a number") from None
    if not math.isfinite(v):
        raise ValidationError(f"<{el.tag}> {name}={str(raw)[:40]!r} is not a number")
    return v


def _points(el: ET.Element) -> list[list[float]]:
    out = []
    for pair in (el.get("points") or "").split(";"):
        if not pair.strip():
            continue
        xy = pair.split(",")
        if len(xy) != 2:
            raise ValidationError(f"<{el.tag}> points {pair[:40]!r} is not x,y")
        try:
            x, y = float(xy[0]), float(xy[1])
        except ValueError:
            raise ValidationError(f"<{el.tag}> points {pair[:40]!r} is not x,y") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValidationError(f"<{el.tag}> points {pair[:40]!r} is not x,y")
        out.append([x, y])
    return out


def _shape_of(el: ET.Element, label: str) -> dict:
    tag = el.tag
    if tag == "box":
        shape = {"type": "rectangle", "points": [[_float(el, "xtl"), _float(el, "ytl")],
                                                  [_float(el, "xbr"), _float(el, "ybr")]]}
    elif tag == "ellipse":
        rx, ry = _float(el, "rx"), _float(el, "ry")
        shape = {"type": "circle", "points": [[_float(el, "cx"), _float(el, "cy")]], "radius": round((rx + ry) / 2, 3)}
    elif tag == "polyline":
        shape = {"type": "dashed_line" if el.get("labelport_type") == "dashed_line" else "line", "points": _points(el)}
    elif tag == "points":
        pts = _points(el)
        if len(pts) != 1:
            raise ValidationError(f"<points> with {len(pts)} points: a point shape has one")
        shape = {"type": "point", "points": pts}
    else:
        shape = {"type": "polygon", "points": _points(el)}
    shape["label"] = label
    attrs = {a.get("name"): (a.text or "") for a in el if a.tag == "attribute" and a.get("name")}
    if attrs:
        shape["attributes"] = attrs
    if el.get("occluded") == "1":
        shape["occluded"] = True
    return shape


def _z_order(el: ET.Element) -> int:
    try:
        return int(el.get("z_order") or 0)
    except ValueError:
        return 0


def _frame(el: ET.Element) -> int:
    raw = el.get("frame")
    if raw is None or not raw.strip().isdigit():
        raise ValidationError(f"<{el.tag}> frame={str(raw)[:40]!r} is not a frame number")
    return int(raw)


HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def meta_labels(meta) -> dict[str, dict]:
    """The labels <meta><task|project><labels> defines: {name: {"color", "attributes"}} (a color
    only when it is #rrggbb; an attribute's values one per line, as CVAT writes them)."""
    out: dict[str, dict] = {}
    if meta is None:
        return out
    for lab in list(meta.iterfind("task/labels/label")) + list(meta.iterfind("project/labels/label")):
        name = (lab.findtext("name") or "").strip()
        if not name or name in out:
            continue
        d: dict = {}
        color = (lab.findtext("color") or "").strip()
        if HEX_COLOR.match(color):
            d["color"] = color.lower()
        attributes = {}
        for a in lab.iterfind("attributes/attribute"):
            an = (a.findtext("name") or "").strip()
            values = list(dict.fromkeys(v.strip() for v in (a.findtext("values") or "").splitlines() if v.strip()))
            if an and values and an not in attributes:
                attributes[an] = values
        if attributes:
            d["attributes"] = attributes
        out[name] = d
    return out


def parse_cvat_video(data: bytes, where: str) -> tuple[str | None, list[dict], list[str], list[str], dict]:
    """(the video named in <meta>, frames [{"frame", "shapes"}], label names, problems, the
    labels <meta> defines (meta_labels))."""
    from .voc import parse_xml

    root = parse_xml(data, where, MAX_CVAT_BYTES)
    if root.tag != "annotations":
        raise ValidationError(f"{where}: not a CVAT XML file (no <annotations> root)")
    meta = root.find("meta")
    source = None
    if meta is not None:
        source = next((e.text.strip() for e in (meta.find("source"), meta.find("task/source"), meta.find("task/name"))
                       if e is not None and e.text and e.text.strip()), None)
    if root.find("image") is not None and root.find("track") is None:
        raise ValidationError(f"{where}: a CVAT for images file (<image> elements): a video job imports CVAT for video")
    frames: dict[int, list[tuple[int, dict]]] = {}
    names: list[str] = []
    problems: list[str] = []
    for n, track in enumerate(root.iter("track"), start=1):
        label = (track.get("label") or "").strip()
        tid = track.get("labelport_track")
        try:
            if not label:
                raise ValidationError("no label")
            shapes_el = sorted(((_frame(e), e) for e in track if e.tag in ELEMENTS), key=lambda fe: fe[0])
            kept: list[tuple[int, dict, int]] = []  # (frame, shape, z)
            for k, (f, e) in enumerate(shapes_el):
                last = k == len(shapes_el) - 1
                if e.get("keyframe", "1") != "1" and not (last and e.get("outside") != "1"):
                    continue  # follows from the keyframes (the last shape of a track that runs on stays)
                shape = _shape_of(e, label)
                if e.get("outside") == "1":
                    shape["outside"] = True
                kept.append((f, shape, _z_order(e)))
        except ValidationError as e:
            problems.append(f"{where}: track {track.get('id', n)}: {e}")
            continue
        visible = [x for x in kept if not x[1].get("outside")]
        if not visible:
            continue
        if tid is None:  # a CVAT file: CVAT's track id, and one-frame tracks are plain shapes
            tid = "" if len(visible) == 1 else str(track.get("id", n))
        if tid:
            for _f, shape, _z in kept:
                shape["track"] = tid
            chosen = kept
        else:
            chosen = visible[:1]
        names.append(label)
        for f, shape, z in chosen:
            frames.setdefault(f, []).append((z, shape))
    out = [{"frame": f, "shapes": [s for _z, s in sorted(items, key=lambda t: t[0])]} for f, items in sorted(frames.items())]
    defs = meta_labels(meta)
    return source, out, list(dict.fromkeys(names + list(defs))), problems, defs


def read_cvat_video(store: Store, path: str) -> tuple[list[ImportItem], list[str]]:
    from .shape_io import parent_uri

    path = path.strip()
    if path.lower().endswith(".xml"):
        text, _base = read_text_file(store, path)  # the same checks as every annotation file
        files = [(path if path.startswith("s3://") else str(Path(path).expanduser().absolute()),
                  path.rsplit("/", 1)[-1], text.encode("utf-8"))]
    else:
        src = path if path.startswith("s3://") else str(Path(path).expanduser().absolute())
        files = sorted(((uri, rel, None) for uri, rel, _size in store.locations.list_source(src)
                        if rel.lower().endswith(".xml") and not rel.rsplit("/", 1)[-1].startswith(".")),
                       key=lambda x: x[1])
        if not files:
            raise ValidationError(f"{path}: no CVAT XML files found")
    items, problems = [], []
    for uri, rel, data in files:
        try:
            source, frames, names, bad, defs = parse_cvat_video(data if data is not None else store.locations.read(uri), rel)
            problems.extend(bad)
            if source is None:
                raise ValidationError(f"{rel}: no <source> in <meta>: which video these tracks are on is not said")
            base = Path(parent_uri(uri)) if not uri.startswith("s3://") else None
            video = resolve_reference(source, base) if base is not None or source.startswith("s3://") \
                else parent_uri(uri) + source
            items.append(ImportItem(video, source.rsplit("/", 1)[-1], {"frames": frames} if frames else None, names,
                                    label_defs=defs))
        except ValidationError as e:
            problems.append(str(e))
    return items, problems


# -- CVAT for images 1.1 (object detection, image segmentation) --------------------------------------
IMAGE_TYPES = ("object_detection", "image_segmentation")


def images_xml(job, images: list[tuple[int, str, tuple[int, int] | None, list[dict], str | None]]) -> str:
    """CVAT for images 1.1 XML of (id, name, size, shapes, subset) per image (subset: its split in
    an export with splits, as CVAT's project exports write it; None without)."""
    root = ET.Element("annotations")
    ET.SubElement(root, "version").text = "1.1"
    meta = ET.SubElement(root, "meta")
    task = ET.SubElement(meta, "task")
    for tag, text in (("name", job.name), ("size", len(images)), ("mode", "annotation"), ("overlap", 0),
                      ("flipped", "False")):
        ET.SubElement(task, tag).text = str(text)
    _labels_meta(task, job)
    ET.SubElement(meta, "dumped").text = datetime.now(timezone.utc).isoformat()
    for image_id, name, size, shapes, subset in images:
        w, h = size or (0, 0)
        img = ET.SubElement(root, "image", {"id": str(image_id), "name": name, **({"subset": subset} if subset else {}),
                                            "width": str(int(w)), "height": str(int(h))})
        for z, shape in enumerate(shapes):
            attrs = {"label": shape["label"], "source": "manual", "occluded": "0", **_geometry(shape),
                     "z_order": str(z)}
            if shape["type"] == "dashed_line":
                attrs["labelport_type"] = "dashed_line"
            el = ET.SubElement(img, KINDS[shape["type"]], attrs)
            for name_, value in (shape.get("attributes") or {}).items():
                ET.SubElement(el, "attribute", {"name": str(name_)}).text = str(value)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_cvat_images(store: Store, job, out: Path) -> int:
    """`annotations.xml` and the labeled images copied into `images/` beside it."""
    from .common import copy_sample_file
    from .shape_io import FileNames, sample_shapes, sample_size

    out = prepare_out_dir(out)
    names = FileNames()
    images = []
    for sample in iter_job_samples(store, job.id, labeled_only=True):
        shapes = sample_shapes(sample)
        if not shapes:
            continue
        name = names.take(sample)
        copy_sample_file(store, sample, out / "images" / name)
        images.append((len(images), name, sample_size(store, sample), shapes, split_field(sample).get("split")))
    (out / "annotations.xml").write_text(images_xml(job, images), encoding="utf-8")
    return len(images)


def read_cvat_images(store: Store, path: str, type_id: str = "object_detection"
                     ) -> tuple[list[ImportItem], list[str], int]:
    from .coco import _find_file
    from .shape_io import ShapeCollector, parent_uri
    from .voc import parse_xml

    path = path.strip()
    xml_path = path if path.lower().endswith(".xml") else path.rstrip("/") + "/annotations.xml"
    text, _base = read_text_file(store, xml_path)
    root = parse_xml(text.encode("utf-8"), xml_path.rsplit("/", 1)[-1], MAX_CVAT_BYTES)
    if root.tag != "annotations":
        raise ValidationError(f"{xml_path}: not a CVAT XML file (no <annotations> root)")
    if root.find("image") is None and root.find("track") is not None:
        raise ValidationError(f"{xml_path}: a CVAT for video file (<track> elements): an image job imports "
                              "CVAT for images (<image> elements)")
    if root.find("track") is not None:
        raise ValidationError(f"{xml_path}: <track> elements are CVAT's video tracks: export the task as "
                              "CVAT for images")
    base = parent_uri(xml_path if xml_path.startswith("s3://") else str(Path(xml_path).expanduser().absolute()))
    col = ShapeCollector(type_id)
    defs = meta_labels(root.find("meta"))
    for n, img in enumerate(root.iter("image"), start=1):
        name = (img.get("name") or "").strip()
        where = f"image {img.get('id', n)} ({name or 'no name'})"
        if not name:
            col.not_found(where, "no name")
            continue
        uri = _find_file(store, base, name)
        if uri is None:
            col.not_found(where, "file not found beside the XML or in images/ beside it; its shapes were skipped")
            continue
        try:
            w, h = _float(img, "width"), _float(img, "height")
            size = (w, h) if w > 0 and h > 0 else None
        except ValidationError:
            size = None
        col.image(uri, name)
        elements = sorted((e for e in img if e.tag in ELEMENTS), key=_z_order)
        for k, el in enumerate(elements, start=1):
            label = (el.get("label") or "").strip()
            try:
                if not label:
                    raise ValidationError("no label")
                shape = _shape_of(el, label)
            except ValidationError as e:
                col.refuse(uri, f"{where}: <{el.tag}> {k}", str(e))
                continue
            shape.pop("occluded", None)
            col.add(uri, name, shape, f"{where}: <{el.tag}> {k}", size)
    items, problems, found = col.result()
    for it in items:
        it.labels = list(dict.fromkeys(it.labels + list(defs)))
        it.label_defs = defs
    return items, problems, found


def _labels_meta(task: ET.Element, job) -> None:
    labels = ET.SubElement(task, "labels")
    for lab in job.label_set.labels:
        el = ET.SubElement(labels, "label")
        ET.SubElement(el, "name").text = lab.name
        if lab.color:
            ET.SubElement(el, "color").text = lab.color
        ET.SubElement(el, "type").text = "any"
        attributes = ET.SubElement(el, "attributes")
        for name, values in (lab.attributes or {}).items():
            a = ET.SubElement(attributes, "attribute")
            ET.SubElement(a, "name").text = name
            ET.SubElement(a, "mutable").text = "True"
            ET.SubElement(a, "input_type").text = "select"
            ET.SubElement(a, "default_value").text = values[0] if values else ""
            ET.SubElement(a, "values").text = "\n".join(values)


register(Format("cvat", "CVAT 1.1 XML",
                "CVAT for video: one XML per video (<track> with <box>/<polygon>/<polyline>/<points>/<ellipse> per "
                "frame: keyframe, outside, occluded); <source> names the video, relative to the XML or absolute. "
                "CVAT for images: annotations.xml (<image> with its shapes) and images/.",
                readers={TYPE: read_cvat_video, **{t: partial(read_cvat_images, type_id=t) for t in IMAGE_TYPES}},
                writers={TYPE: write_cvat_video, **{t: write_cvat_images for t in IMAGE_TYPES}},
                example="cvat_video.xml"))
