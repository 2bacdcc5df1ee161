"""`voc`: PASCAL VOC XML for object detection (SPEC F7.1, F7.1b).

Reading is lenient. Layouts: a folder in the VOC layout (`Annotations/*.xml` + `JPEGImages/`,
found at any depth), a folder where each image's XML lies beside it (`a.jpg` + `a.xml`), or one
XML file (its image is `<filename>` beside it). Tag names are matched without regard to case
(`<BndBox>`, `<XMin>`), numbers may be floats, optional fields (`<size>`, `<filename>`, `<pose>`,
`<difficult>`, ...) may be missing. Objects:

    <bndbox><xmin/><ymin/><xmax/><ymax/></bndbox>                    rectangle
    <polygon><x1/><y1/><x2/><y2/>...</polygon> or <pt><x/><y/></pt>...  polygon
    <circle><cx/><cy/><r/></circle>                                  circle
    <line> / <polyline> (points as for polygons)                      line
    <dashed> / <dashed_line> (points as for polygons)                 dashed line
    <point><x1/><y1/></point> or <point><x/><y/></point>              point

plus optional `<attributes><attribute><name/><value/></attribute></attributes>`. An object with
a <bndbox> and another shape tag is that shape (the box is its extent). An object that lacks a
required field (its name, a shape, a coordinate) is reported with its file and number.

Coordinates: `<bndbox>` follows VOC's 1-based convention (xmin / ymin are the first pixel
counted from 1, xmax / ymax the last), so a box over pixels 0-9 of the store (x from 0 to 10) is
written xmin 1, xmax 10 and read back as x 0 to 10 (an xmin of 0, from a 0-based writer, reads as 0).
The other shape tags hold the store's pixel coordinates as they are (origin at the top-left corner).

Writing (the layout torchvision's VOCDetection and detectron2-style loaders open):
`Annotations/<id>.xml` and `JPEGImages/<id>.jpg` for each labeled image (JPEG images copied as
they are, others converted to JPEG, quality 95), `ImageSets/Main/<split>.txt` listing the ids
(`train.txt` with every image, or one file per split of the export and `trainval.txt`); every
object has a `<bndbox>` (its extent; a point's is the pixel it lies on) and, when it is not a
rectangle, its own tag too; `<segmented>` is 0 unless masks are written: with `--masks`,
`SegmentationClass/<id>.png` (each pixel its object's class index, 1 for the job's first label,
0 background) and `SegmentationObject/<id>.png` (each pixel its object's number, 1 for the first)
as palette PNGs with VOC's colormap, for the shapes with an area (rectangles, polygons, circles;
later shapes over earlier ones), listed in `ImageSets/Segmentation/<split>.txt`.
"""
from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import escape

from ..core import Store
from ..errors import ValidationError
from .common import ImportItem
from ..types.base import IMAGE_EXTENSIONS
from .registry import Format, register
from .common import copy_sample_file, iter_job_samples, prepare_out_dir
from ..types.shapes import shape_bbox
from .shape_io import (FileNames, ShapeCollector, exists, join_uri, num_text, parent_uri, sample_shapes,
                       sample_size)
from .splits import split_of
from .common import masks_asked

MAX_XML_BYTES = 50 * 2**20
SHAPE_TAGS = {"bndbox": "rectangle", "bbox": "rectangle", "polygon": "polygon", "circle": "circle",
              "line": "line", "polyline": "line", "dashed": "dashed_line", "dashed_line": "dashed_line",
              "dashedline": "dashed_line", "dashed-line": "dashed_line", "point": "point"}
WRITE_TAGS = {"rectangle": "bndbox", "polygon": "polygon", "circle": "circle", "line": "line",
              "dashed_line": "dashed", "point": "point"}


class ObjectError(Exception):
    pass


def _tag(el) -> str:
    return el.tag.rsplit("}", 1)[-1].strip().lower() if isinstance(el.tag, str) else ""


def _child(el, *names: str):
    for c in el:
        if _tag(c) in names:
            return c
    return None


def _text(el, *names: str) -> str | None:
    c = _child(el, *names)
    if c is None or c.text is None or not c.text.strip():
        return None
    return c.text.strip()


def _number(el, name: str, shape_tag: str, *aliases: str) -> float:
    c = _child(el, name, *aliases)
    if c is None or c.text is None or not c.text.strip():
        raise ObjectError(f"<{shape_tag}> lacks <{name}>")
    return _value(c, shape_tag)


def _value(c, shape_tag: str) -> float:
    """The number in element `c` (a child of <shape_tag>)."""
    name, raw = _tag(c), (c.text or "").strip()
    if not raw:
        raise ObjectError(f"<{shape_tag}> <{name}> is empty")
    try:
        v = float(raw)
    except ValueError:
        raise ObjectError(f"<{shape_tag}> <{name}> is not a number: {raw[:40]!r}") from None
    if not math.isfinite(v):
        raise ObjectError(f"<{shape_tag}> <{name}> is not a finite number: {raw[:40]!r}")
    return v


def _points(el, shape_tag: str) -> list[list[float]]:
    """x1, y1, x2, y2, ... children, or <pt>/<point> children with <x> and <y>."""
    xs, ys = {}, {}
    for c in el:
        m = re.fullmatch(r"([xy])(\d+)", _tag(c))
        if m:
            (xs if m.group(1) == "x" else ys).setdefault(int(m.group(2)), c)
    if xs or ys:
        missing = sorted(set(xs) ^ set(ys))
        if missing:
            i = missing[0]
            have, lack = ("x", "y") if i in xs else ("y", "x")
            raise ObjectError(f"<{shape_tag}> has <{have}{i}> but lacks <{lack}{i}>")
        return [[_value(xs[i], shape_tag), _value(ys[i], shape_tag)] for i in sorted(xs)]
    pts = []
    for c in el:
        if _child(c, "x") is not None or _child(c, "y") is not None:
            pts.append([_number(c, "x", shape_tag), _number(c, "y", shape_tag)])
    if not pts and _child(el, "x") is not None:  # <point><x/><y/></point>
        pts.append([_number(el, "x", shape_tag), _number(el, "y", shape_tag)])
    if not pts:
        raise ObjectError(f"<{shape_tag}> has no points (<x1>, <y1>, <x2>, <y2>, ... or <pt><x/><y/></pt>)")
    return pts


def parse_object(obj) -> dict:
    """One <object> as a shape dict; ObjectError names what is missing."""
    name = _text(obj, "name", "label")
    if name is None:
        raise ObjectError("no <name> (the label)")
    geom = None
    for c in obj:  # the shape's own tag first: a <bndbox> beside it is its extent
        if _tag(c) in SHAPE_TAGS and SHAPE_TAGS[_tag(c)] != "rectangle":
            geom = c
            break
    if geom is None:
        geom = next((c for c in obj if _tag(c) in SHAPE_TAGS), None)
    if geom is None:
        raise ObjectError(f"{name!r} has no shape: none of <bndbox>, <polygon>, <circle>, <line>, <dashed>, <point>")
    gtag = _tag(geom)
    kind = SHAPE_TAGS[gtag]
    try:
        if kind == "rectangle":
            x1, y1 = _number(geom, "xmin", gtag), _number(geom, "ymin", gtag)
            x2, y2 = _number(geom, "xmax", gtag), _number(geom, "ymax", gtag)
            if x2 < x1 or y2 < y1:
                raise ObjectError(f"<{gtag}> has a negative size (xmin {x1:g}, xmax {x2:g}, ymin {y1:g}, ymax {y2:g})")
            shape = {"type": kind, "points": [[max(0.0, x1 - 1), max(0.0, y1 - 1)], [x2, y2]]}  # 1-based
        elif kind == "circle":
            shape = {"type": kind, "points": [[_number(geom, "cx", gtag), _number(geom, "cy", gtag)]],
                     "radius": _number(geom, "r", gtag, "radius")}
        else:
            shape = {"type": kind, "points": _points(geom, gtag)}
    except ObjectError as e:
        raise ObjectError(f"{name!r}: {e}") from None
    shape["label"] = name
    attrs = _child(obj, "attributes")
    if attrs is not None:
        values = {}
        for a in attrs:
            k, v = _text(a, "name", "key"), _text(a, "value")
            if k and v is not None:
                values[k] = v
        if values:
            shape["attributes"] = values
    return shape


class VocFile:
    def __init__(self, filename: str | None, size: tuple[float, float] | None, objects: list):
        self.filename = filename
        self.size = size
        self.objects = objects  # [(number, shape dict | ObjectError)]


def parse_xml(data: bytes, where: str, max_bytes: int = MAX_XML_BYTES) -> ET.Element:
    """The root of an annotation XML file; refused (ValidationError): too large, a DTD or entities
    (no annotation format needs them: entity expansion is how XML bombs work), not XML."""
    if len(data) > max_bytes:
        raise ValidationError(f"{where}: {len(data) / 2**20:.0f} MB is too large for an annotation file")
    head = data[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in data.lower():
        raise ValidationError(f"{where}: XML with a DTD or entities is not read (annotation files need neither)")
    try:
        return ET.fromstring(data)
    except ET.ParseError as e:
        raise ValidationError(f"{where}: not valid XML ({e})") from None


def parse_voc(data: bytes, where: str) -> VocFile:
    """Parse one VOC XML; raises ValidationError when the file as a whole cannot be read."""
    root = parse_xml(data, where)
    if _tag(root) != "annotation":
        ann = next((c for c in root.iter() if _tag(c) == "annotation"), None)
        if ann is None:
            raise ValidationError(f"{where}: not a PASCAL VOC file (no <annotation> element)")
        root = ann
    size = None
    size_el = _child(root, "size")
    if size_el is not None:
        try:
            w, h = float(_text(size_el, "width") or 0), float(_text(size_el, "height") or 0)
            size = (w, h) if w > 0 and h > 0 and math.isfinite(w) and math.isfinite(h) else None
        except ValueError:
            size = None
    objects = []
    for i, obj in enumerate((c for c in root if _tag(c) == "object"), start=1):
        try:
            objects.append((i, parse_object(obj)))
        except ObjectError as e:
            objects.append((i, e))
    return VocFile(_text(root, "filename"), size, objects)


def add_voc_shapes(col: ShapeCollector, uri: str, path: str, voc: VocFile, where: str) -> None:
    col.image(uri, path)
    for i, shape in voc.objects:
        if isinstance(shape, ObjectError):
            col.refuse(uri, f"{where}: object {i}", str(shape))
        else:
            col.add(uri, path, shape, f"{where}: object {i} ({shape['label'][:60]!r})", voc.size)


def _dir(rel: str) -> str:
    return rel.rsplit("/", 1)[0] if "/" in rel else ""


def _stem(name: str) -> str:
    return name.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()


def read_voc(store: Store, path: str, type_id: str = "object_detection") -> tuple[list[ImportItem], list[str], int]:
    col = ShapeCollector(type_id)
    path = path.strip()
    if path.lower().endswith(".xml"):
        return _read_one_xml(store, path, col)
    src = path if path.startswith("s3://") else str(Path(path).expanduser().absolute())
    listing = [(uri, rel) for uri, rel, _size in store.locations.list_source(src)
               if not rel.rsplit("/", 1)[-1].startswith(".")]
    xmls = [(uri, rel) for uri, rel in listing if rel.lower().endswith(".xml")]
    images = [(uri, rel) for uri, rel in listing if rel.lower().endswith(IMAGE_EXTENSIONS)]
    if not xmls and not images:
        raise ValidationError(f"{path}: no images and no VOC XML files found")
    voc_layout = any(_dir(rel).rsplit("/", 1)[-1].lower() == "annotations" for _, rel in xmls)
    by_dir: dict[str, dict[str, tuple[str, str]]] = {}
    stems: dict[str, dict[str, tuple[str, str]]] = {}
    for uri, rel in images:
        d = _dir(rel).lower()
        by_dir.setdefault(d, {}).setdefault(rel.rsplit("/", 1)[-1].lower(), (uri, rel))
        stems.setdefault(d, {}).setdefault(_stem(rel), (uri, rel))

    def image_dirs(xml_rel: str) -> list[str]:
        d = _dir(xml_rel)
        if d.rsplit("/", 1)[-1].lower() == "annotations":
            parent = d.rsplit("/", 1)[0] if "/" in d else ""
            pre = parent + "/" if parent else ""
            return [(pre + "jpegimages").lower(), (pre + "images").lower(), parent.lower()]
        return [d.lower()]

    if voc_layout:  # masks of VOC segmentation (SegmentationClass/...) are not samples
        img_dirs = {d for _, rel in xmls for d in image_dirs(rel)[:2]}
        for uri, rel in images:
            if _dir(rel).lower() in img_dirs:
                col.image(uri, rel)
    else:
        for uri, rel in images:
            col.image(uri, rel)
    for xml_uri, xml_rel in sorted(xmls, key=lambda x: x[1]):
        try:
            voc = parse_voc(store.locations.read(xml_uri), xml_rel)
        except ValidationError as e:
            found = _find_image(by_dir, stems, image_dirs(xml_rel), None, xml_rel)
            if found:
                col.image(*found)
            else:
                col.unmatched += 1
            col.refuse(found[0] if found else None, xml_rel, str(e).split(": ", 1)[-1])
            continue
        found = _find_image(by_dir, stems, image_dirs(xml_rel), voc.filename, xml_rel)
        if found is None:
            col.unmatched += 1
            in_voc = _dir(xml_rel).rsplit("/", 1)[-1].lower() == "annotations"
            col.problems.append(f"{xml_rel}: its image ({voc.filename or _stem(xml_rel) + '.*'}) was not found "
                                f"{'in JPEGImages/ or images/ beside Annotations/' if in_voc else 'beside it'}; "
                                "its objects were not imported")
            continue
        add_voc_shapes(col, found[0], found[1], voc, xml_rel)
    return col.result()


def _find_image(by_dir, stems, dirs: list[str], filename: str | None, xml_rel: str):
    names = []
    if filename:
        names.append(filename.replace("\\", "/").rsplit("/", 1)[-1].lower())
    for d in dirs:
        files = by_dir.get(d, {})
        for n in names:
            if n in files:
                return files[n]
        if _stem(xml_rel) in stems.get(d, {}):
            return stems[d][_stem(xml_rel)]
    return None


def _read_one_xml(store: Store, path: str, col: ShapeCollector) -> tuple[list[ImportItem], list[str], int]:
    from .common import read_text_file

    text, _base = read_text_file(store, path)  # checks local access, says "file not found"
    where = path.rsplit("/", 1)[-1]
    voc = parse_voc(text.encode("utf-8"), where)
    base = parent_uri(path)
    candidates = [voc.filename] if voc.filename else []
    candidates += [_stem(where) + ext for ext in IMAGE_EXTENSIONS]
    for name in candidates:
        uri = join_uri(base, name.replace("\\", "/").rsplit("/", 1)[-1])
        if exists(store, uri):
            add_voc_shapes(col, uri, uri.rsplit("/", 1)[-1], voc, where)
            return col.result()
    raise ValidationError(f"{where}: its image ({voc.filename or _stem(where) + '.*'}) is not beside it")


# -- writing -------------------------------------------------------------------------------------

def _el(tag: str, value, indent: str) -> str:
    return f"{indent}<{tag}>{escape(str(value))}</{tag}>\n"


def _points_xml(points, indent: str) -> str:
    return "".join(_el(f"x{i}", num_text(x), indent) + _el(f"y{i}", num_text(y), indent)
                   for i, (x, y) in enumerate(points, start=1))


def bndbox_1_based(shape: dict) -> tuple[float, float, float, float]:
    """The shape's extent in VOC's convention: first and last pixel, counted from 1."""
    x1, y1, x2, y2 = shape_bbox(shape)
    x1, y1 = math.floor(x1 * 1000 + 1e-6) / 1000 + 1, math.floor(y1 * 1000 + 1e-6) / 1000 + 1
    return x1, y1, max(x1, x2), max(y1, y2)


def object_xml(shape: dict) -> str:
    kind = shape["type"]
    tag = WRITE_TAGS[kind]
    out = "  <object>\n" + _el("name", shape["label"], "    ")
    out += _el("pose", "Unspecified", "    ") + _el("truncated", 0, "    ") + _el("occluded", 0, "    ")
    out += _el("difficult", 0, "    ")
    out += "    <bndbox>\n"
    for k, v in zip(("xmin", "ymin", "xmax", "ymax"), bndbox_1_based(shape)):
        out += _el(k, num_text(v), "      ")
    out += "    </bndbox>\n"
    if kind == "rectangle":
        pass  # the box is the shape
    elif kind == "circle":
        out += f"    <{tag}>\n"
        (cx, cy), r = shape["points"][0], shape["radius"]
        out += _el("cx", num_text(cx), "      ") + _el("cy", num_text(cy), "      ") + _el("r", num_text(r), "      ")
    else:
        out += f"    <{tag}>\n" + _points_xml(shape["points"], "      ")
    if kind != "rectangle":
        out += f"    </{tag}>\n"
    attrs = shape.get("attributes") or {}
    if attrs:
        out += "    <attributes>\n"
        for k, v in attrs.items():
            out += "      <attribute>\n" + _el("name", k, "        ") + _el("value", v, "        ") + "      </attribute>\n"
        out += "    </attributes>\n"
    return out + "  </object>\n"


def voc_xml(filename: str, size: tuple[int, int] | None, shapes: list[dict], folder: str = "JPEGImages",
            depth: int = 3) -> str:
    w, h = size or (0, 0)
    out = '<?xml version="1.0" encoding="UTF-8"?>\n<annotation>\n'
    out += _el("folder", folder, "  ") + _el("filename", filename, "  ")
    out += "  <source>\n" + _el("database", "Labelport", "    ") + "  </source>\n"
    out += "  <size>\n" + _el("width", w, "    ") + _el("height", h, "    ") + _el("depth", depth, "    ") + "  </size>\n"
    out += _el("segmented", 0, "  ")  # no SegmentationClass / SegmentationObject masks are written
    out += "".join(object_xml(s) for s in shapes)
    return out + "</annotation>\n"


def _depth(sample) -> int:
    mode = (sample.meta or {}).get("mode") or "RGB"
    return {"1": 1, "L": 1, "P": 3, "I": 1, "I;16": 1, "F": 1, "LA": 2, "RGBA": 4, "CMYK": 4}.get(mode, 3)


def write_jpeg(store: Store, sample, dest: Path) -> None:
    """The sample's image as a JPEG at `dest`: a JPEG file copied as it is, any other converted."""
    if Path(sample.name).suffix.lower() in (".jpg", ".jpeg"):
        copy_sample_file(store, sample, dest)
        return
    import io

    from PIL import Image

    dest.parent.mkdir(parents=True, exist_ok=True)
    local = store.locations.local_path(sample.uri)
    data = local.read_bytes() if local is not None and local.is_file() else store.locations.read(sample.uri)
    with Image.open(io.BytesIO(data)) as im:
        if im.mode not in ("RGB", "L"):
            im = im.convert("RGBA").convert("RGB") if "A" in im.getbands() or im.mode == "P" else im.convert("RGB")
        im.save(dest, "JPEG", quality=95)


def write_voc(store: Store, job, out: Path) -> int:
    """Annotations/*.xml + JPEGImages/*.jpg of the labeled images + ImageSets/Main/<split>.txt."""
    out = prepare_out_dir(out)
    names = FileNames()
    by_split: dict[str, list[str]] = {}
    stems: set[str] = set()
    seg_split: dict[str, list[str]] = {}
    for sample in iter_job_samples(store, job.id, labeled_only=True):
        shapes = sample_shapes(sample)
        if not shapes:
            continue
        stem = Path(names.take(sample)).stem
        if stem.lower() in stems:  # a.png and a.jpg are both a.jpg here
            stem = f"{sample.id}_{stem}"
        stems.add(stem.lower())
        write_jpeg(store, sample, out / "JPEGImages" / f"{stem}.jpg")
        xml = voc_xml(f"{stem}.jpg", sample_size(store, sample), shapes, depth=3 if _depth(sample) != 1 else 1)
        size = sample_size(store, sample)
        masked = masks_asked() and size and write_masks(out, stem, size, shapes, job.label_set.names())
        if masked:
            xml = xml.replace("<segmented>0</segmented>", "<segmented>1</segmented>", 1)
            seg_split.setdefault(split_of(sample), []).append(stem)
        (out / "Annotations").mkdir(exist_ok=True)
        (out / "Annotations" / f"{stem}.xml").write_text(xml, encoding="utf-8")
        by_split.setdefault(split_of(sample), []).append(stem)
    main = out / "ImageSets" / "Main"
    main.mkdir(parents=True, exist_ok=True)
    for split, ids in by_split.items():
        (main / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
    if set(by_split) >= {"train", "val"}:
        (main / "trainval.txt").write_text("".join(f"{i}\n" for i in by_split["train"] + by_split["val"]),
                                           encoding="utf-8")
    if seg_split:
        seg = out / "ImageSets" / "Segmentation"
        seg.mkdir(parents=True, exist_ok=True)
        for split, ids in seg_split.items():
            (seg / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
    return len(stems)


def voc_palette() -> list[int]:
    """PASCAL VOC's colormap: 256 RGB entries (0 black, 1 (128, 0, 0), 2 (0, 128, 0), ...)."""
    out = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        out += [r, g, b]
    return out


def write_masks(out: Path, stem: str, size: tuple[int, int], shapes: list[dict], labels: list[str]) -> bool:
    """SegmentationClass/<stem>.png and SegmentationObject/<stem>.png of the shapes with an area;
    False when none has one (no masks written)."""
    from PIL import Image, ImageDraw

    filled = [s for s in shapes if s["type"] in ("rectangle", "polygon", "circle")]
    if not filled:
        return False
    index = {n: i for i, n in enumerate(labels, start=1)}
    w, h = int(size[0]), int(size[1])
    cls, obj = Image.new("P", (w, h), 0), Image.new("P", (w, h), 0)
    dc, do = ImageDraw.Draw(cls), ImageDraw.Draw(obj)
    for n, s in enumerate(filled, start=1):
        c = min(255, index.get(s["label"], len(index) + 1))
        for draw, value in ((dc, c), (do, min(255, n))):
            if s["type"] == "rectangle":
                (x1, y1), (x2, y2) = s["points"]
                draw.rectangle([x1, y1, x2 - 1, y2 - 1], fill=value)  # pixels whose top-left lies inside
            elif s["type"] == "circle":
                (cx, cy), r = s["points"][0], s["radius"]
                draw.ellipse([cx - r, cy - r, cx + r - 1, cy + r - 1], fill=value)
            else:
                draw.polygon([tuple(p) for p in s["points"]], fill=value)
    palette = voc_palette()
    for folder, im in (("SegmentationClass", cls), ("SegmentationObject", obj)):
        im.putpalette(palette)
        (out / folder).mkdir(exist_ok=True)
        im.save(out / folder / f"{stem}.png")
    return True


register(Format("voc", "PASCAL VOC",
                "Annotations/*.xml + JPEGImages/, or each image's XML beside it: bndbox, polygon, circle, "
                "line, dashed, point.",
                readers={"object_detection": read_voc}, writers={"object_detection": write_voc},
                example="voc.xml"))
