"""SPEC F7.2 round trip, for every (type, format) pair that both reads and writes the type: a job
with representative annotations of the type -> export -> import into a fresh job on the same files
-> the same labels and annotations (order normalized). The pairs come from the format registry,
so a format that learns a type is checked here without a new test.

Where a format holds less by design, what it can hold is compared: yolo keeps each shape as its
bounding box (shapes of no area are not written); imagefolder holds a multi-label image as one copy
per class folder (the copies' labels are merged by file name)."""
from __future__ import annotations

import io
import math

import numpy as np
import pytest

from store.annotations import set_annotation
from store.exports import export_job
from store.formats import FORMATS
from store.formats.common import iter_job_samples
from store.imports import import_format, upload_files
from store.jobs import create_job
from store.labelset import Label, LabelSet, Relation
from store.types import REGISTRY
from tests.factories import image_bytes

PAIRS = [(t, f) for t in REGISTRY for f, fmt in FORMATS.items() if t in fmt.readers and t in fmt.writers]
FILE_EXTENSIONS = {"csv": "csv", "manifest": "manifest", "jsonl": "jsonl", "conll": "conll", "coco": "json",
                   "parquet": "parquet"}  # the others write a folder layout


def test_every_type_has_round_trip_pairs():
    assert {t for t, _ in PAIRS} == set(REGISTRY)
    assert all(("parquet" in [f for t2, f in PAIRS if t2 == t]) for t in REGISTRY)


# -- builders: a job of each type with representative annotations ---------------------------------
def _upload(store, job_id, files):
    rec = upload_files(store, job_id, files)
    assert rec.status == "succeeded", rec.errors
    return {s.name: s.id for s in iter_job_samples(store, job_id)}


def _annotate(store, job_id, by_name, anns):
    for name, data in anns.items():
        set_annotation(store, job_id, by_name[name], data, actor="alice")


def _images(n, size=(64, 48)):
    return [(f"img_{i}.png", image_bytes(size=size, seed=i)) for i in range(n)]


def _wav(seconds=2.0, rate=8000, seed=0) -> bytes:
    import wave

    t = np.arange(int(seconds * rate))
    pcm = (3000 * np.sin(2 * math.pi * (220 + 40 * seed) * t / rate)).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def _mp4(n_frames=5, size=(64, 48), seed=0) -> bytes:
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as c:
        st = c.add_stream("mpeg4", rate=10)
        st.width, st.height, st.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(n_frames):
            img = np.full((size[1], size[0], 3), (i * 40 + seed * 60) % 255, np.uint8)
            for p in st.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in st.encode():
            c.mux(p)
    return buf.getvalue()


def rect(x1, y1, x2, y2, label, **kw):
    return {"type": "rectangle", "label": label, "points": [[x1, y1], [x2, y2]], **kw}


def poly(points, label):
    return {"type": "polygon", "label": label, "points": points}


LABELS = {
    "image_classification": LabelSet([Label("cat"), Label("dog")]),
    "object_detection": LabelSet([Label("car", attributes={"color": ["red", "blue"]}), Label("person")]),
    "image_segmentation": LabelSet([Label("cell"), Label("nucleus")]),
    "text_classification": LabelSet([Label("sports"), Label("news")]),
    "named_entity_recognition": LabelSet([Label("person"), Label("place")]),
    "text_triplet": LabelSet(entities=[Label("drug"), Label("effect")],
                             relations=[Relation("causes", "drug", "effect")]),
    "sound_classification": LabelSet([Label("dog_bark"), Label("siren")]),
    "speech_labeling": LabelSet(),
    "speech_paragraph": LabelSet([Label("A"), Label("B")]),
    "video_labeling": LabelSet([Label("car"), Label("person")]),
}

TEXTS = ["Alice visited Paris today", "Bob met Alice in Rome", "Aspirin causes nausea in some patients",
         "Nothing to see here", "The match ended two to one"]


def build(store, type_id: str, name: str = "src"):
    job = create_job(store, name, type_id, label_set=LABELS[type_id])
    if type_id == "image_classification":
        ids = _upload(store, job.id, _images(4))
        _annotate(store, job.id, ids, {"img_0.png": {"labels": ["cat"]}, "img_1.png": {"labels": ["dog"]},
                                       "img_2.png": {"labels": ["cat", "dog"]}})
    elif type_id == "object_detection":
        ids = _upload(store, job.id, _images(4))
        _annotate(store, job.id, ids, {
            "img_0.png": {"shapes": [rect(2, 3, 30, 20, "car", attributes={"color": "red"}),
                                     rect(10, 10, 40, 40, "person")]},
            "img_1.png": {"shapes": [poly([[5, 5], [30, 6], [20, 30]], "car"),
                                     {"type": "circle", "label": "person", "points": [[32, 24]], "radius": 8},
                                     {"type": "line", "label": "car", "points": [[1, 1], [20, 30]]},
                                     {"type": "dashed_line", "label": "car", "points": [[3, 40], [50, 42]]},
                                     {"type": "point", "label": "person", "points": [[12, 13]]}]},
            "img_2.png": {"shapes": [rect(0, 0, 64, 48, "person")]}})
    elif type_id == "image_segmentation":
        ids = _upload(store, job.id, _images(3))
        _annotate(store, job.id, ids, {
            "img_0.png": {"shapes": [poly([[5, 5], [30, 6], [20, 30]], "cell"),
                                     poly([[40, 10], [60, 10], [60, 40], [40, 40]], "nucleus")]},
            "img_1.png": {"shapes": [poly([[1, 1], [63, 1], [63, 47], [1, 47]], "cell")]}})
    elif type_id in ("text_classification", "named_entity_recognition", "text_triplet"):
        ids = _upload(store, job.id, [("texts.txt", ("\n".join(TEXTS) + "\n").encode())])
        by_text = {s.text: s.id for s in iter_job_samples(store, job.id)}
        if type_id == "text_classification":
            anns = {TEXTS[0]: {"labels": ["news"]}, TEXTS[1]: {"labels": ["news", "sports"]},
                    TEXTS[4]: {"labels": ["sports"]}}
        elif type_id == "named_entity_recognition":
            anns = {TEXTS[0]: {"spans": [{"start": 0, "end": 5, "label": "person"},
                                         {"start": 14, "end": 19, "label": "place"}]},
                    TEXTS[1]: {"spans": [{"start": 0, "end": 3, "label": "person"},
                                         {"start": 8, "end": 13, "label": "person"},
                                         {"start": 17, "end": 21, "label": "place"}]}}
        else:
            anns = {TEXTS[2]: {"entities": [{"id": "E1", "start": 0, "end": 7, "label": "drug"},
                                            {"id": "E2", "start": 15, "end": 22, "label": "effect"}],
                               "relations": [{"id": "R1", "from": "E1", "to": "E2", "label": "causes"}]},
                    TEXTS[0]: {"entities": [{"id": "E1", "start": 14, "end": 19, "label": "effect"}], "relations": []}}
        _annotate(store, job.id, by_text, anns)
    elif type_id in ("sound_classification", "speech_labeling", "speech_paragraph"):
        ids = _upload(store, job.id, [(f"clip_{i}.wav", _wav(seed=i)) for i in range(3)])
        if type_id == "sound_classification":
            anns = {"clip_0.wav": {"labels": ["dog_bark"]}, "clip_1.wav": {"labels": ["dog_bark", "siren"]}}
        elif type_id == "speech_labeling":
            anns = {"clip_0.wav": {"content": "hello world"}, "clip_1.wav": {"content": "zwölf Äpfel, 12 apples"}}
        else:
            anns = {"clip_0.wav": {"segments": [{"start": 0.125, "end": 0.75, "label": "A", "content": "hi"},
                                                {"start": 0.5, "end": 1.875, "label": "B"}]},
                    "clip_1.wav": {"segments": [{"start": 1.0, "end": 1.5, "label": "B", "content": "bye"}]}}
        _annotate(store, job.id, ids, anns)
    elif type_id == "video_labeling":
        ids = _upload(store, job.id, [(f"clip_{i}.mp4", _mp4(seed=i)) for i in range(2)])
        _annotate(store, job.id, ids, {"clip_0.mp4": {"frames": [
            {"frame": 0, "shapes": [rect(2, 2, 30, 20, "car", track="c1"), rect(40, 5, 60, 30, "person")]},
            {"frame": 3, "shapes": [rect(10, 6, 38, 24, "car", track="c1"),
                                    poly([[1, 40], [20, 40], [10, 47]], "person")]}]}})
    else:  # a type added to the registry needs a builder here
        raise AssertionError(f"no round-trip builder for {type_id}")
    return job


# -- normalized annotations -----------------------------------------------------------------------
def _shape(s: dict) -> tuple:
    return (s["type"], s["label"], tuple((round(float(x), 1), round(float(y), 1)) for x, y in s["points"]),
            round(float(s.get("radius") or 0), 1), tuple(sorted((s.get("attributes") or {}).items())),
            s.get("track"))


def _bbox_only(s: dict) -> dict | None:
    if s["type"] == "circle":
        (cx, cy), r = s["points"][0], s["radius"]
        pts = [[cx - r, cy - r], [cx + r, cy + r]]
    else:
        pts = s["points"]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    if max(xs) <= min(xs) or max(ys) <= min(ys):
        return None  # no area: yolo cannot hold it
    return rect(min(xs), min(ys), max(xs), max(ys), s["label"])


def normalize(type_id: str, fmt: str, ann: dict | None) -> object:
    ann = ann or {}
    if type_id in ("image_classification", "text_classification", "sound_classification"):
        return tuple(sorted(ann.get("labels") or []))
    if type_id in ("object_detection", "image_segmentation"):
        shapes = ann.get("shapes") or []
        if fmt == "yolo" and type_id == "object_detection":
            shapes = [b for b in map(_bbox_only, shapes) if b]
        elif fmt == "yolo":  # segmentation polygons: YOLO holds no attributes
            shapes = [{k: v for k, v in s.items() if k != "attributes"} for s in shapes]
        elif fmt == "label_studio":  # Label Studio has no polylines on images; region attributes are not written
            shapes = [{k: v for k, v in s.items() if k != "attributes"} for s in shapes
                      if s["type"] not in ("line", "dashed_line")]
        return tuple(sorted(_shape(s) for s in shapes))
    if type_id == "named_entity_recognition":
        return tuple(sorted((s["start"], s["end"], s["label"]) for s in ann.get("spans") or []))
    if type_id == "text_triplet":
        ents = {e["id"]: (e["start"], e["end"], e["label"]) for e in ann.get("entities") or []}
        return (tuple(sorted(ents.values())),
                tuple(sorted((ents[r["from"]], ents[r["to"]], r["label"]) for r in ann.get("relations") or [])))
    if type_id == "speech_labeling":
        return ann.get("content") or ""
    if type_id == "speech_paragraph":
        return tuple(sorted((round(s["start"], 3), round(s["end"], 3), s.get("label"),
                             tuple(sorted((s.get("labels") or {}).items())), s.get("content") or "")
                            for s in ann.get("segments") or []))
    if type_id == "video_labeling":  # mot and Label Studio hold boxes only
        return tuple(sorted((fr["frame"], tuple(sorted(_shape(s) for s in fr.get("shapes") or []
                                                       if fmt not in ("mot", "label_studio")
                                                       or s["type"] == "rectangle")))
                            for fr in ann.get("frames") or []))
    raise AssertionError(type_id)


def labeled(store, job_id: int, type_id: str, fmt: str) -> dict:
    """{sample key: normalized annotation} of the labeled samples (key: text, else file name)."""
    out: dict = {}
    for s in iter_job_samples(store, job_id, labeled_only=True):
        key = s.text if REGISTRY[type_id].media == "text" else s.name
        if fmt == "voc":  # VOC's images are JPEG: a.png comes back as a.jpg
            key = key.rsplit(".", 1)[0]
        value = normalize(type_id, fmt, s.annotation)
        if fmt == "imagefolder" and key in out:  # one copy per class folder
            value = tuple(sorted(set(out[key]) | set(value)))
        out[key] = value
    if fmt == "yolo":
        out = {k: v for k, v in out.items() if v}
    return out


@pytest.mark.parametrize("type_id,fmt", PAIRS, ids=[f"{t}-{f}" for t, f in PAIRS])
def test_export_then_import_gives_the_same_labels(store, tmp_path, type_id, fmt):
    job = build(store, type_id)
    want = labeled(store, job.id, type_id, fmt)
    assert want, "the builder labeled nothing"
    ext = FILE_EXTENSIONS.get(fmt)
    out = tmp_path / fmt / (f"export.{ext}" if ext else "export")
    export_job(store, job.id, fmt, out)
    back = create_job(store, "back", type_id, label_set=LABELS[type_id])
    rec = import_format(store, back.id, fmt, str(out))
    assert rec.status == "succeeded", (rec.status, rec.errors[:5])
    assert labeled(store, back.id, type_id, fmt) == want


def _export_text(root) -> str:
    """Every path under an export and every file's text (Parquet: its rows), to look for split names."""
    import pyarrow.parquet as pq

    paths = [root] if root.is_file() else sorted(p for p in root.parent.rglob("*") if p.is_file())
    out = []
    for p in paths:
        out.append(str(p.relative_to(root.parent)))
        if p.suffix == ".parquet":
            out.append(str(pq.read_table(p).to_pylist()))
        elif p.suffix.lower() not in (".png", ".jpg", ".jpeg", ".wav", ".mp4"):
            out.append(p.read_bytes().decode("utf-8", "replace"))
    return "\n".join(out)


@pytest.mark.parametrize("type_id,fmt", PAIRS, ids=[f"{t}-{f}" for t, f in PAIRS])
def test_every_export_lays_out_splits_and_reads_back(store, tmp_path, type_id, fmt):
    """Issue 17: every (type, format) export takes --split; the splits show in what it writes (a
    column, a field, a file or a folder per split, CVAT's subset), and the export still reads back
    as the same labels (a format of one file per split: every file imported)."""
    job = build(store, type_id)
    if type_id == "video_labeling":  # a second labeled video, so that each split holds one
        _annotate(store, job.id, {s.name: s.id for s in iter_job_samples(store, job.id)}, {"clip_1.mp4": {"frames": [
            {"frame": 1, "shapes": [rect(4, 4, 20, 20, "person", track="p1")]},
            {"frame": 2, "shapes": [rect(6, 6, 22, 22, "person", track="p1")]}]}})
    want = labeled(store, job.id, type_id, fmt)
    assert len(want) >= 2, "a split of one labeled sample shows nothing"
    ext = FILE_EXTENSIONS.get(fmt)
    out = tmp_path / fmt / (f"export.{ext}" if ext else "export")
    export_job(store, job.id, fmt, out, split="fit=0.5,holdout=0.5", seed=1)
    files = [out] if out.exists() else sorted(out.parent.glob(f"{out.stem}_*{out.suffix}"))
    assert files, f"{fmt} wrote nothing at {out}"
    seen = "\n".join(_export_text(f) for f in files)
    assert "fit" in seen and "holdout" in seen, f"{type_id} {fmt}: the splits are nowhere in the export"
    back = create_job(store, "back", type_id, label_set=LABELS[type_id])
    for f in files:
        rec = import_format(store, back.id, fmt, str(f))
        assert rec.status == "succeeded", (f.name, rec.status, rec.errors[:5])
    assert labeled(store, back.id, type_id, fmt) == want
