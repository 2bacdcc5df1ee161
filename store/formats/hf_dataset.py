"""Training-ready Parquet for a published version (issue 17): the labeled samples of a job as a
Hugging Face dataset, with its `features` in the file's "huggingface" metadata, so that
`datasets.load_dataset("parquet", data_files=...)` and `load_dataset(<version folder>)` give typed
columns without any conversion:

    image classification   image: Image, labels: List(ClassLabel), label: ClassLabel (one-label jobs)
    text classification    text: string, labels / label as above
    sound classification   audio: Audio, labels / label as above
    object detection       image: Image, width, height: int32, objects: {bbox: List(List(float32, 4))
                           in COCO order [x, y, w, h], category: List(ClassLabel), shape: List(string)}
    image segmentation     the same, with objects.segmentation: List(List(float32)) (x1, y1, x2, ...)
    named entity recogn.   tokens: List(string), ner_tags: List(ClassLabel(O, B-x, I-x, ...)), text
    text triplet           text, entities: List({start, end, label: ClassLabel}), relations:
                           List({head, tail: int32 (index in entities), label: ClassLabel})
    speech labeling        audio: Audio, transcription: string
    speech paragraph       audio: Audio, segments: List({start, end: float64, label, content: string})
    video labeling         video: string (where the file is), frames: string (the annotation as JSON)

Every row also has `id` (the sample id). Images and audio are embedded as bytes (the version is
self-contained) unless `reference` asks for the files' URIs (Image / Audio with a path only).
Predictions (To Be Confirmed) are not in it: only labeled samples.
"""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..core import Store

BATCH = 256
CLASSIFICATION = ("image_classification", "text_classification", "sound_classification")


def _cls(names: list[str]) -> dict:
    return {"names": list(names), "_type": "ClassLabel"}


def _list(feature: dict, length: int | None = None) -> dict:
    return {"feature": feature, **({"length": length} if length else {}), "_type": "List"}


def _value(dtype: str) -> dict:
    return {"dtype": dtype, "_type": "Value"}


MEDIA = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


def ner_names(label_set) -> list[str]:
    return ["O"] + [f"{p}-{n}" for n in label_set.names() for p in ("B", "I")]


def features(job, single_label: bool) -> tuple[dict, pa.Schema]:
    """(the `features` dict, the arrow schema) of a job's training table."""
    t, ls = job.type, job.label_set
    names = ls.names()
    f: dict = {"id": _value("int64")}
    fields: list = [("id", pa.int64())]
    if t in CLASSIFICATION:
        key = job.labeling_type.media  # the column: image, text or audio
        f[key] = {"_type": {"image": "Image", "audio": "Audio"}[key]} if key != "text" else _value("string")
        fields.append((key, MEDIA if key != "text" else pa.string()))
        f["labels"] = _list(_cls(names))
        fields.append(("labels", pa.list_(pa.int64())))
        if single_label:
            f["label"] = _cls(names)
            fields.append(("label", pa.int64()))
    elif t in ("object_detection", "image_segmentation"):
        objects = {"bbox": _list(_list(_value("float32"), 4)), "category": _list(_cls(names)),
                   "shape": _list(_value("string"))}
        ofields = [("bbox", pa.list_(pa.list_(pa.float32(), 4))), ("category", pa.list_(pa.int64())),
                   ("shape", pa.list_(pa.string()))]
        if t == "image_segmentation":
            objects["segmentation"] = _list(_list(_value("float32")))
            ofields.append(("segmentation", pa.list_(pa.list_(pa.float32()))))
        f.update({"image": {"_type": "Image"}, "width": _value("int32"), "height": _value("int32"), "objects": objects})
        fields += [("image", MEDIA), ("width", pa.int32()), ("height", pa.int32()), ("objects", pa.struct(ofields))]
    elif t == "named_entity_recognition":
        f.update({"text": _value("string"), "tokens": _list(_value("string")), "ner_tags": _list(_cls(ner_names(ls)))})
        fields += [("text", pa.string()), ("tokens", pa.list_(pa.string())), ("ner_tags", pa.list_(pa.int64()))]
    elif t == "text_triplet":
        ents = [e.name for e in ls.entities]
        rels = [r.name for r in ls.relations]
        f.update({"text": _value("string"),
                  "entities": _list({"start": _value("int32"), "end": _value("int32"), "label": _cls(ents)}),
                  "relations": _list({"head": _value("int32"), "tail": _value("int32"), "label": _cls(rels)})})
        fields += [("text", pa.string()),
                   ("entities", pa.list_(pa.struct([("start", pa.int32()), ("end", pa.int32()), ("label", pa.int64())]))),
                   ("relations", pa.list_(pa.struct([("head", pa.int32()), ("tail", pa.int32()), ("label", pa.int64())])))]
    elif t == "speech_labeling":
        f.update({"audio": {"_type": "Audio"}, "transcription": _value("string")})
        fields += [("audio", MEDIA), ("transcription", pa.string())]
    elif t == "speech_paragraph":
        f.update({"audio": {"_type": "Audio"}, "segments": _list({"start": _value("float64"), "end": _value("float64"),
                                                                  "label": _value("string"),
                                                                  "content": _value("string")})})
        fields += [("audio", MEDIA), ("segments", pa.list_(pa.struct([("start", pa.float64()), ("end", pa.float64()),
                                                                      ("label", pa.string()), ("content", pa.string())])))]
    else:  # video
        f.update({"video": _value("string"), "frames": _value("string")})
        fields += [("video", pa.string()), ("frames", pa.string())]
    meta = {b"huggingface": json.dumps({"info": {"features": f}}, ensure_ascii=False).encode()}
    return f, pa.schema(fields, metadata=meta)


def _media(store: Store, s, reference: bool) -> dict:
    uri = store.locations.public_uri(s.uri)
    if reference:
        return {"bytes": None, "path": uri}
    local = store.locations.local_path(s.uri)
    data = local.read_bytes() if local is not None and local.is_file() else store.locations.read(s.uri)
    return {"bytes": data, "path": s.name}


def row(store: Store, job, s, reference: bool, single_label: bool) -> dict:
    from ..types.shapes import shape_bbox
    from .coco import kept_record

    t, ls = job.type, job.label_set
    ann = s.annotation or {}
    out: dict = {"id": s.id}
    if t in CLASSIFICATION:
        index = {n: i for i, n in enumerate(ls.names())}
        key = job.labeling_type.media  # the column: image, text or audio
        out[key] = s.text if key == "text" else _media(store, s, reference)
        out["labels"] = [index[n] for n in s.labels if n in index]
        if single_label:
            out["label"] = out["labels"][0] if out["labels"] else None
    elif t in ("object_detection", "image_segmentation"):
        index = {n: i for i, n in enumerate(ls.names())}
        m = s.meta or {}
        boxes, cats, kinds, segs = [], [], [], []
        for sh in ann.get("shapes") or []:
            if sh.get("label") not in index:
                continue
            rec = kept_record(sh)
            if rec is not None:
                boxes.append([float(v) for v in rec["bbox"]])
            else:
                x1, y1, x2, y2 = shape_bbox(sh)
                boxes.append([x1, y1, x2 - x1, y2 - y1])
            cats.append(index[sh["label"]])
            kinds.append(sh["type"])
            segs.append([float(v) for p in sh["points"] for v in p] if sh["type"] == "polygon" else [])
        out.update({"image": _media(store, s, reference), "width": int(m.get("width") or 0),
                    "height": int(m.get("height") or 0), "objects": {"bbox": boxes, "category": cats, "shape": kinds}})
        if t == "image_segmentation":
            out["objects"]["segmentation"] = segs
    elif t == "named_entity_recognition":
        from .conll import bio_tags, sample_tokens

        text = s.text or ""
        offsets = sample_tokens(text, s.meta)
        tags = bio_tags(offsets, ann.get("spans") or [], (s.meta or {}).get("i_starts"))
        index = {n: i for i, n in enumerate(ner_names(ls))}
        out.update({"text": text, "tokens": [text[a:b] for a, b in offsets], "ner_tags": [index.get(x, 0) for x in tags]})
    elif t == "text_triplet":
        ents = [e.name for e in ls.entities]
        rels = [r.name for r in ls.relations]
        entities = ann.get("entities") or []
        pos = {e["id"]: i for i, e in enumerate(entities)}
        out.update({"text": s.text or "",
                    "entities": [{"start": e["start"], "end": e["end"], "label": ents.index(e["label"])}
                                 for e in entities if e["label"] in ents],
                    "relations": [{"head": pos[r["from"]], "tail": pos[r["to"]], "label": rels.index(r["label"])}
                                  for r in ann.get("relations") or [] if r["label"] in rels and r["from"] in pos
                                  and r["to"] in pos]})
    elif t == "speech_labeling":
        out.update({"audio": _media(store, s, reference), "transcription": ann.get("content") or ""})
    elif t == "speech_paragraph":
        out.update({"audio": _media(store, s, reference), "segments": [
            {"start": g["start"], "end": g["end"],
             "label": g.get("label") if g.get("label") is not None else json.dumps(g.get("labels") or {}),
             "content": g.get("content")} for g in ann.get("segments") or []]})
    else:
        out.update({"video": store.locations.public_uri(s.uri), "frames": json.dumps(ann.get("frames") or [])})
    return out


def write_training_tables(store: Store, job, samples: list, folder: Path, split_of=None,
                          reference: bool = False) -> dict[str, int]:
    """`<split>.parquet` in `folder` for the labeled samples ("train" without splits); {split: rows}."""
    labeled = [s for s in samples if s.status == "labeled"]
    single = bool(labeled) and all(len(s.labels or []) == 1 for s in labeled)
    _f, schema = features(job, single)
    writers: dict[str, pq.ParquetWriter] = {}
    pending: dict[str, list] = {}
    counts: dict[str, int] = {}
    try:
        for s in labeled:
            split = split_of(s) if split_of else "train"
            pending.setdefault(split, []).append(row(store, job, s, reference, single))
            counts[split] = counts.get(split, 0) + 1
            if len(pending[split]) >= BATCH:
                _flush(writers, pending, split, schema, folder)
        for split in list(pending):
            _flush(writers, pending, split, schema, folder)
    finally:
        for w in writers.values():
            w.close()
    return counts


def _flush(writers: dict, pending: dict, split: str, schema: pa.Schema, folder: Path) -> None:
    rows = pending.pop(split, [])
    if not rows:
        return
    if split not in writers:
        writers[split] = pq.ParquetWriter(str(folder / f"{split}.parquet"), schema)
    writers[split].write_table(pa.Table.from_pylist(rows, schema=schema))
