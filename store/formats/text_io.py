"""Text formats shared helpers, and the text readers/writers of `csv` and `manifest` (SPEC F7.1).

Every record of an imported file is its own sample, even when two texts are equal: uri
"<file>#L<line>", path "<file name>:<line>", the text in samples.text. Offsets are Python str
indices (Unicode code points), end exclusive. Unknown labels are added to the job's label set
by the import (F8.4)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from ..core import Store
from ..errors import NotFound, ValidationError
from .common import ImportItem
from .splits import split_field, split_names, usage_of
from ..texts import check_text, parse_csv, parse_jsonl, record_path, record_uri
from .registry import FORMATS
from .common import _is_upload, iter_job_samples, made_by, prepare_out_file

TEXT_TYPES = ("text_classification", "named_entity_recognition", "text_triplet")
TC, ENTITY, TRIPLET = "modelarts/text_classification", "modelarts/text_entity", "modelarts/text_triplet"
ANNOTATION_TYPES = {"text_classification": TC, "named_entity_recognition": ENTITY, "text_triplet": TRIPLET}


def read_source(store: Store, path: str) -> tuple[bytes, str, str]:
    """(bytes, file uri, file name) of a local file or s3:// object to import."""
    if path.startswith("s3://"):
        return store.locations.read(path), path, path.rsplit("/", 1)[-1]
    p = Path(path).expanduser().absolute()
    if not _is_upload(p):
        store.locations.check_local_allowed(path)
    if not p.is_file():
        raise NotFound(f"file not found: {path}")
    return p.read_bytes(), str(p), p.name


def _time(value) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else None


def _str_labels(value) -> list[str]:
    if isinstance(value, str):
        value = [value]
    return [str(x).strip() for x in value or [] if str(x).strip()] if isinstance(value, list) else []


def item_from_annotation(type_id: str, uri: str, path: str, text: str, ann: dict | None) -> ImportItem:
    """An ImportItem whose `labels` are the names the annotation uses (entity/span labels, class
    labels; relations are added by the triplet's own label-set extension)."""
    if not ann:
        return ImportItem(uri, path, None, [], None, text)
    if type_id == "text_classification":
        names = ann.get("labels") or []
    elif type_id == "named_entity_recognition":
        names = [s.get("label") for s in ann.get("spans") or [] if isinstance(s, dict)]
    else:
        names = []
    names = list(dict.fromkeys(n for n in names if isinstance(n, str) and n.strip()))
    has = bool(names) or bool(ann.get("entities") or ann.get("relations"))
    return ImportItem(uri, path, ann if has else None, names, None, text)


# -- csv: text,label ------------------------------------------------------------------------------
def read_text_csv(store: Store, path: str) -> tuple[list[ImportItem], list[str]]:
    """Rows of text,label: the column named text (else the first); labels are the `label` column
    and any cells after it (a text with two labels: text,label1,label2)."""
    data, uri, name = read_source(store, path)
    parsed = parse_csv(data, name)
    items = []
    for r in parsed.records:
        row, header, col = r.data["row"], r.data["header"], r.data["column"]
        first = header.index("label") if header and "label" in header else col + 1
        cells = [c for i, c in enumerate(row) if i >= first and i != col]
        labels = list(dict.fromkeys(c.strip() for c in cells if c.strip()))
        items.append(item_from_annotation("text_classification", record_uri(uri, r.line), record_path(name, r.line),
                                          r.text, {"labels": labels} if labels else None))
    return items, parsed.problems


def write_text_csv(store: Store, job, out: Path) -> int:
    out = prepare_out_file(out)
    n = 0
    splits = bool(split_names())
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        # with splits, the split comes before the labels (a text's labels fill the cells from "label" on)
        w.writerow(["text"] + (["split"] if splits else []) + ["label"])
        for s in iter_job_samples(store, job.id):
            w.writerow([s.text or ""] + ([split_field(s).get("split", "")] if splits else []) + list(s.labels or []))
            n += 1
    return n


# -- manifest: content://<text> -------------------------------------------------------------------
def _prop_int(prop: dict, key: str, where: str) -> int:
    v = prop.get(key)
    if isinstance(v, str) and v.strip().lstrip("-").isdigit():
        v = int(v)
    if not isinstance(v, int) or isinstance(v, bool):
        raise ValidationError(f"{where}: {key} must be a whole number, got {v!r}"[:200])
    return v


def manifest_annotation(type_id: str, anns, where: str) -> dict | None:
    if not isinstance(anns, list):
        raise ValidationError(f'{where}: "annotation" must be a list')
    labels, spans, entities, relations = [], [], [], []
    for k, a in enumerate(anns, start=1):
        w = f"{where} annotation {k}"
        if not isinstance(a, dict):
            raise ValidationError(f"{w}: not an object")
        name = a.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ValidationError(f'{w}: "name" (the label) is missing')
        prop = a.get("property") if isinstance(a.get("property"), dict) else {}
        if a.get("type", ANNOTATION_TYPES[type_id]) != ANNOTATION_TYPES[type_id]:
            raise ValidationError(f"{w}: type {str(a.get('type'))[:60]!r} is not an annotation of this job's type "
                                  f"({ANNOTATION_TYPES[type_id]})")
        if type_id == "text_classification":
            labels.append(name)
        elif "@modelarts:from" in prop or "@modelarts:to" in prop:
            relations.append({"id": a.get("id"), "from": prop.get("@modelarts:from"), "to": prop.get("@modelarts:to"),
                              "label": name})
        else:
            span = {"id": a.get("id"), "start": _prop_int(prop, "@modelarts:start_index", w),
                    "end": _prop_int(prop, "@modelarts:end_index", w), "label": name}
            (spans if type_id == "named_entity_recognition" else entities).append(span)
    if type_id == "text_classification":
        return {"labels": list(dict.fromkeys(labels))} if labels else None
    if type_id == "named_entity_recognition":
        if relations:
            raise ValidationError(f"{where}: relations (@modelarts:from/to) belong to text triplet jobs")
        return {"spans": spans} if spans else None
    return {"entities": entities, "relations": relations} if entities or relations else None


def read_text_manifest(store: Store, path: str, type_id: str) -> tuple[list[ImportItem], list[str]]:
    data, uri, name = read_source(store, path)
    parsed = parse_jsonl(data, name, text_field="source")
    items, problems = [], list(parsed.problems)
    for r in parsed.records:
        where = f"{name}: line {r.line}"
        src = r.text
        if not src.startswith("content://"):
            problems.append(f"{where}: a text record's source is content://<text>, got {src[:60]!r}")
            continue
        try:
            text = check_text(src[len("content://"):], where)
            ann = manifest_annotation(type_id, r.data.get("annotation") or [], where)
        except ValidationError as e:
            problems.append(str(e))
            continue
        items.append(item_from_annotation(type_id, record_uri(uri, r.line), record_path(name, r.line), text, ann))
    return items, problems


def write_text_manifest(store: Store, job, out: Path, type_id: str) -> int:
    out = prepare_out_file(out)
    n = 0
    with open(out, "w", encoding="utf-8") as f:
        for s in iter_job_samples(store, job.id):
            a = s.annotation or {}
            common = {**made_by(s), "creation-time": _time(s.labeled_at),
                      **({"confidence": s.confidence} if s.confidence is not None else {})}
            anns = []
            if type_id == "text_classification":
                anns = [{"type": TC, "name": name, **common} for name in s.labels or []]
            elif type_id == "named_entity_recognition":
                anns = [{"type": ENTITY, "name": sp["label"], "id": sp.get("id"),
                         "property": {"@modelarts:start_index": sp["start"], "@modelarts:end_index": sp["end"]},
                         **common} for sp in a.get("spans") or []]
            else:
                anns = [{"type": TRIPLET, "name": e["label"], "id": e["id"],
                         "property": {"@modelarts:start_index": e["start"], "@modelarts:end_index": e["end"]},
                         **common} for e in a.get("entities") or []]
                anns += [{"type": TRIPLET, "name": r["label"], "id": r["id"],
                          "property": {"@modelarts:from": r["from"], "@modelarts:to": r["to"]}, **common}
                         for r in a.get("relations") or []]
            row = {"source": "content://" + (s.text or ""), "usage": usage_of(s, bool(s.labels)), **split_field(s),
                   "id": str(s.id)}
            if anns:
                row["annotation"] = anns
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def _register() -> None:
    from functools import partial

    csv_fmt, manifest = FORMATS["csv"], FORMATS["manifest"]
    csv_fmt.readers["text_classification"] = read_text_csv
    csv_fmt.writers["text_classification"] = write_text_csv
    for t in TEXT_TYPES:
        manifest.readers[t] = partial(read_text_manifest, type_id=t)
        manifest.writers[t] = partial(write_text_manifest, type_id=t)


_register()
