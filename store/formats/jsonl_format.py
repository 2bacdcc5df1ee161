"""`jsonl`: one JSON object a line with the text and its labels (SPEC F7.1, F8.2).

    text_classification      {"text": "...", "labels": ["sports", "news"]}   ("label": "x" is read too)
    named_entity_recognition {"text": "...", "spans": [{"start": 0, "end": 5, "label": "person"}]}
                             (doccano's "label": [[start, end, "person"], ...] is read too)
    text_triplet             {"text": "...", "entities": [{"id": "E1", "start", "end", "label"}],
                              "relations": [{"id": "R1", "from": "E1", "to": "E2", "label": "causes"}]}
Offsets are Python str indices (Unicode code points), end exclusive. Each line is its own
sample, even when two texts are equal. Export writes "id" (the sample id) too."""
from __future__ import annotations

import json
from functools import partial
from pathlib import Path

from ..core import Store
from .common import ImportItem
from .splits import split_field
from ..texts import parse_jsonl, record_path, record_uri
from .registry import Format, register
from .common import iter_job_samples, prepare_out_file
from .text_io import TEXT_TYPES, item_from_annotation, read_source


def _annotation(type_id: str, row: dict) -> dict | None:
    if type_id == "text_classification":
        labels = row.get("labels", row.get("label"))
        labels = [labels] if isinstance(labels, str) else labels
        return {"labels": labels} if labels else None
    if type_id == "named_entity_recognition":
        spans = row.get("spans")
        if spans is None and isinstance(row.get("label"), list):  # doccano [[start, end, label], ...]
            spans = [{"start": s[0], "end": s[1], "label": s[2]} if isinstance(s, list) and len(s) == 3 else s
                     for s in row["label"]]
        return {"spans": spans} if spans else None
    ents, rels = row.get("entities"), row.get("relations")
    return {"entities": ents or [], "relations": rels or []} if ents or rels else None


def read_text_jsonl(store: Store, path: str, type_id: str) -> tuple[list[ImportItem], list[str]]:
    data, uri, name = read_source(store, path)
    parsed = parse_jsonl(data, name)
    return [item_from_annotation(type_id, record_uri(uri, r.line), record_path(name, r.line), r.text,
                                 _annotation(type_id, r.data)) for r in parsed.records], parsed.problems


def write_text_jsonl(store: Store, job, out: Path, type_id: str) -> int:
    out = prepare_out_file(out)
    n = 0
    with open(out, "w", encoding="utf-8") as f:
        for s in iter_job_samples(store, job.id):
            a = s.annotation or {}
            row: dict = {"id": s.id, **split_field(s), "text": s.text or ""}
            if type_id == "text_classification":
                row["labels"] = list(s.labels or [])
            elif type_id == "named_entity_recognition":
                row["spans"] = a.get("spans") or []
            else:
                row["entities"] = a.get("entities") or []
                row["relations"] = a.get("relations") or []
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


register(Format("jsonl", "JSON lines (text, audio)",
                "One JSON object a line: text (or an audio source), and labels / spans / entities and "
                "relations / content / segments.",
                readers={t: partial(read_text_jsonl, type_id=t) for t in TEXT_TYPES},
                writers={t: partial(write_text_jsonl, type_id=t) for t in TEXT_TYPES}, example="text.jsonl"))
