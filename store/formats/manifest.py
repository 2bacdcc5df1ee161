"""`manifest`: the platform's JSON-lines manifest, one line per sample (SPEC F7.1)."""
from __future__ import annotations

import json
from pathlib import Path

from ..core import Store
from ..errors import ValidationError
from ..imports import ImportItem
from . import Format, register
from .common import iter_job_samples, prepare_out_file, read_text_file, resolve_reference

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
            row = {"source": store.locations.public_uri(s.uri), "usage": "TRAIN" if s.labels else "INFERENCE",
                   "id": str(s.id)}
            if s.labels:
                row["annotation"] = [{"type": CLASSIFICATION, "name": name, "annotated-by": s.labeled_by or "human",
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


register(Format("manifest", "Manifest (JSON lines)",
                "One JSON object a line: source, usage, id, annotation[] (type, name, property, ...).",
                readers={"image_classification": read_classification_manifest},
                writers={"image_classification": write_classification_manifest}, example="manifest.jsonl"))
