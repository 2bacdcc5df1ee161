"""Helpers shared by the shape formats (coco, voc, yolo, manifest for object detection and image
segmentation): collecting shapes per image with per-shape checks, image sizes, numbers.

Readers check each shape as it is read (the same rules as the import's validation: types the job
takes, at least 3 distinct points for a polygon, a positive size for a box, within the image
when the file declares its size) and report a refused shape with where it came from. An image
with a refused shape is imported without labels: its other shapes are not saved either (an image
is never saved with only part of its objects, which would read as "labeled, nothing else there").
The import then checks every shape again against the size of the image file itself.
"""
from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..core import Store
from ..errors import StoreError, ValidationError
from .common import ImportItem
from ..labelset import Label, LabelSet
from ..types import REGISTRY
from ..types.shapes import check_shape, shape_bbox

# The shape types an import may bring, by the types of shapes on an image (their shape_types)
ALLOWED = {t.id: t.shape_types for t in REGISTRY.values() if t.media == "image" and t.shape_types}
TYPE_TITLES = {type_id: REGISTRY[type_id].title.lower() for type_id in ALLOWED}
CIRCLE_POINTS = 32  # circles become polygons of this many points where a format has no circle


def num(v: float):
    """A coordinate as written to files: an int when whole, else rounded to 3 decimals."""
    v = round(float(v), 3)
    return int(v) if v == int(v) else v


def num_text(v: float) -> str:
    return str(num(v))


def _plain_message(msg: str) -> str:
    """`shape 1 (polygon) needs ...` -> `polygon needs ...` (the reader says where the shape is)."""
    msg = re.sub(r"^shape \d+ \(([a-z_]+)\)", r"\1", msg)
    return re.sub(r"^shape \d+: ", "", msg)


@dataclass
class _Image:
    item: ImportItem
    shapes: list[dict] = field(default_factory=list)
    refused: int = 0


class ShapeCollector:
    """Builds ImportItems (one per image file) from shapes read one at a time."""

    def __init__(self, type_id: str):
        self.type_id = type_id
        self.allowed = ALLOWED[type_id]
        self.images: dict[str, _Image] = {}
        self.problems: list[str] = []
        self.unmatched = 0  # annotation files / entries whose image was not found (counted as found)

    def image(self, uri: str, path: str) -> _Image:
        img = self.images.get(uri)
        if img is None:
            img = self.images[uri] = _Image(ImportItem(uri, path))
        return img

    def not_found(self, where: str, message: str) -> None:
        """An entry of the file whose image is not there: counted as found, said, skipped."""
        self.unmatched += 1
        self.problems.append(f"{where}: {message}")

    def refuse(self, uri: str | None, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")
        if uri is not None and uri in self.images:
            self.images[uri].refused += 1

    def add(self, uri: str, path: str, shape: dict, where: str, size: tuple[float, float] | None = None) -> bool:
        """Check one shape (dict of the shape schema) and keep it for the image; False if refused."""
        img = self.image(uri, path)
        kind = shape.get("type")
        if kind not in self.allowed:
            what = str(kind).replace("_", " ")
            self.refuse(uri, where, f"a {what} cannot be imported into an {TYPE_TITLES[self.type_id]} job "
                                    f"(it takes {', '.join(t.replace('_', ' ') for t in self.allowed)})")
            return False
        label = shape.get("label")
        if not isinstance(label, str) or not label.strip():
            self.refuse(uri, where, f"{kind} has no label name")
            return False
        label = label.strip()
        attrs = shape.get("attributes") or {}
        try:
            checked = check_shape({**shape, "label": label, "attributes": {}}, 0, LabelSet([Label(label)]),
                                  size, self.allowed)
        except ValidationError as e:
            self.refuse(uri, where, _plain_message(str(e)))
            return False
        checked.pop("id", None)  # ids are given by the import (s1, s2, ...)
        if attrs:
            checked["attributes"] = {str(k): str(v) for k, v in attrs.items() if v not in (None, "")}
        img.shapes.append(checked)
        return True

    def result(self) -> tuple[list[ImportItem], list[str], int]:
        """(items, problems, how many samples the input names)."""
        items = []
        for img in self.images.values():
            it = img.item
            if img.refused:
                rest = f"; its {len(img.shapes)} other shape(s) are not saved alone" if img.shapes else ""
                self.problems.append(f"{it.path}: imported without labels ({img.refused} refused above{rest}); "
                                     "fix the file and import it again")
            elif img.shapes:
                it.annotation = {"shapes": img.shapes}
                it.labels = list(dict.fromkeys(s["label"] for s in img.shapes))
            items.append(it)
        return items, self.problems, len(items) + self.unmatched


# -- image files ---------------------------------------------------------------------------------

def exists(store: Store, uri: str) -> bool:
    try:
        local = store.locations.local_path(uri)
        if local is not None:
            return local.is_file()
        obj_store, key = store.locations.resolve(uri)
        return obj_store.exists(key)
    except (StoreError, OSError):
        return False


def probe_size(store: Store, uri: str) -> tuple[int, int] | None:
    """Width and height from the image header (local files: only the header is read)."""
    from PIL import Image

    try:
        local = store.locations.local_path(uri)
        if local is not None:
            with Image.open(local) as img:
                return img.size
        with Image.open(io.BytesIO(store.locations.read(uri))) as img:
            return img.size
    except Exception:  # the import's file check says what is wrong with it
        return None


def sample_size(store: Store, sample) -> tuple[int, int] | None:
    meta = sample.meta or {}
    if meta.get("width") and meta.get("height"):
        return int(meta["width"]), int(meta["height"])
    return probe_size(store, sample.uri)


def sample_shapes(sample) -> list[dict]:
    ann = sample.annotation or {}
    shapes = ann.get("shapes") if isinstance(ann, dict) else None
    return [s for s in shapes or [] if isinstance(s, dict) and s.get("points")]


def circle_polygon(shape: dict, n: int = CIRCLE_POINTS) -> list[list[float]]:
    (cx, cy), r = shape["points"][0], shape["radius"]
    return [[cx + r * math.cos(2 * math.pi * i / n), cy + r * math.sin(2 * math.pi * i / n)] for i in range(n)]


def box(shape: dict) -> tuple[float, float, float, float]:
    return shape_bbox(shape)


class FileNames:
    """Unique file names inside an export folder: a second `a.png` becomes `<sample id>_a.png`."""

    def __init__(self):
        self.used: set[str] = set()
        self.stems: set[str] = set()

    def take(self, sample) -> str:
        name = sample.name
        stem = Path(name).stem.lower()
        if name.lower() in self.used or stem in self.stems:
            name = f"{sample.id}_{name}"
            stem = Path(name).stem.lower()
        self.used.add(name.lower())
        self.stems.add(stem)
        return name


def parent_uri(path: str) -> str:
    """The folder a file is in, as a prefix that relative names join onto."""
    if path.startswith("s3://"):
        return path.rsplit("/", 1)[0] + "/"
    return str(Path(path).expanduser().absolute().parent) + "/"


def join_uri(base: str, rel: str) -> str:
    from .common import resolve_reference

    rel = rel.strip()
    if base.startswith("s3://"):
        if rel.startswith(("s3://", "store://")):
            return rel
        parts: list[str] = []
        for part in rel.replace("\\", "/").split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if parts:
                    parts.pop()
                continue
            parts.append(part)
        return base + "/".join(parts)
    return resolve_reference(rel.replace("\\", "/"), Path(base))
