"""`parquet`: one row per sample, for every labeling type (SPEC F7.1, F8.2); readable as it is by
pandas.read_parquet, pyarrow and Hugging Face `datasets.load_dataset("parquet", data_files=...)`.

Columns (see examples/parquet.txt):
    id            int64    the sample id in the exporting store
    file_name     string   the sample's path in its dataset (text records: "<file>:<line>")
    source        string   where the file is: an absolute path or an s3:// URL (files the app stores
                           are written as their readable path); text records: "<file>#L<line>"
    text          string   the record's text (text types only)
    status        string   unlabeled | labeled | to_be_confirmed
    labels        list<string>  the label names the annotation uses
    annotation    string   the type's annotation as JSON (null when the sample has none)
    labeled_by, labeled_at (timestamp), hard (bool), confidence (double), hard_coefficient (double),
    hard_reason, meta     (the file's properties as JSON: width, height, duration, fps...),
    uri           string   the sample's reference inside the store (store://..., s3://..., a path)
    split         string   only in an export with splits: the labeled sample's split (null for the others)
The file's key-value metadata "labelport" holds {"job", "type", "label_set"}.

Reading: `source` (absolute, s3:// or relative to the parquet file's folder; `file_name` when
there is no source) names the file; text types take each row's `text` as a record. A row's
`annotation` (or, for the classification types, its `labels` when there is no annotation column)
is imported when its status is labeled or absent; rows that are unlabeled or to be confirmed (a
model's proposal) come in unlabeled. Annotations are checked by the import like any other."""
from __future__ import annotations

import io
import json
from datetime import datetime
from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..core import Store
from ..errors import ValidationError
from .common import ImportItem
from ..samples import SampleView
from ..texts import check_text, record_path, record_uri
from ..types import REGISTRY
from .registry import Format, register
from .common import iter_job_samples, prepare_out_file, resolve_reference
from .splits import split_field, split_names
from .text_io import TEXT_TYPES, item_from_annotation, read_source

METADATA_KEY = b"labelport"
BATCH = 5000
CLASSIFICATION_TYPES = ("image_classification", "text_classification", "sound_classification")


def schema(type_id: str, metadata: dict | None = None, splits: bool = False) -> pa.Schema:
    fields = [pa.field("id", pa.int64()), pa.field("file_name", pa.string()), pa.field("source", pa.string())]
    if type_id in TEXT_TYPES:
        fields.append(pa.field("text", pa.string()))
    fields += [pa.field("status", pa.string()), pa.field("labels", pa.list_(pa.string())),
               pa.field("annotation", pa.string()), pa.field("labeled_by", pa.string()),
               pa.field("labeled_at", pa.timestamp("us")), pa.field("hard", pa.bool_()),
               pa.field("confidence", pa.float64()), pa.field("hard_coefficient", pa.float64()),
               pa.field("hard_reason", pa.string()), pa.field("meta", pa.string()), pa.field("uri", pa.string())]
    if splits:
        fields.append(pa.field("split", pa.string()))
    meta = {METADATA_KEY: json.dumps(metadata, ensure_ascii=False).encode()} if metadata else None
    return pa.schema(fields, metadata=meta)


def _row(store: Store, s: SampleView, text: bool) -> dict:
    row = {"id": s.id, "file_name": s.path, "source": store.locations.public_uri(s.uri)}
    if text:
        row["text"] = s.text
    row.update({"status": s.status, "labels": list(s.labels or []),
                "annotation": json.dumps(s.annotation, ensure_ascii=False) if s.annotation is not None else None,
                "labeled_by": s.labeled_by, "labeled_at": s.labeled_at, "hard": bool(s.hard),
                "confidence": s.confidence, "hard_coefficient": s.hard_coefficient, "hard_reason": s.hard_reason,
                "meta": json.dumps(s.meta, ensure_ascii=False) if s.meta else None, "uri": s.uri})
    return row


def job_metadata(job) -> dict:
    return {"job": job.name, "type": job.type, "label_set": json.loads(job.label_set.to_json())}


def write_parquet(store: Store, job, out: Path, type_id: str) -> int:
    out = prepare_out_file(out)
    splits = bool(split_names())
    sch = schema(type_id, job_metadata(job), splits)
    text = type_id in TEXT_TYPES
    n = 0
    tmp = out.with_name(out.name + ".part")
    with pq.ParquetWriter(tmp, sch, compression="zstd") as w:
        batch: list[dict] = []
        for s in iter_job_samples(store, job.id):
            batch.append({**_row(store, s, text), **({"split": split_field(s).get("split")} if splits else {})})
            if len(batch) >= BATCH:
                w.write_table(pa.Table.from_pylist(batch, schema=sch))
                n += len(batch)
                batch = []
        if batch or n == 0:
            w.write_table(pa.Table.from_pylist(batch, schema=sch))
            n += len(batch)
    tmp.replace(out)
    return n


# -- reading ----------------------------------------------------------------------------------------
def read_table(data: bytes, name: str) -> pa.Table:
    try:
        return pq.read_table(io.BytesIO(data))
    except (pa.ArrowException, OSError, ValueError) as e:
        raise ValidationError(f"{name} is not a readable Parquet file ({str(e)[:200]})") from None


def file_metadata(table: pa.Table) -> dict:
    raw = (table.schema.metadata or {}).get(METADATA_KEY)
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return {}


def _names(type_id: str, ann: dict) -> list[str]:
    """Label names an annotation uses that the import may add to the label set (as the type's
    other readers do: none for transcripts and triplets, single-mode names for segments)."""
    if type_id in CLASSIFICATION_TYPES:
        names = ann.get("labels") or []
    elif type_id in ("object_detection", "image_segmentation"):
        names = [s.get("label") for s in ann.get("shapes") or [] if isinstance(s, dict)]
    elif type_id == "video_labeling":
        names = [s.get("label") for fr in ann.get("frames") or [] if isinstance(fr, dict)
                 for s in fr.get("shapes") or [] if isinstance(s, dict)]
    elif type_id == "speech_paragraph":
        names = [s.get("label") for s in ann.get("segments") or [] if isinstance(s, dict)]
    else:
        names = []
    return list(dict.fromkeys(n for n in names if isinstance(n, str) and n.strip()))


def _annotation(type_id: str, row: dict, has_annotation: bool, where: str) -> dict | None:
    status = row.get("status")
    if status not in (None, "", "labeled"):
        return None  # unlabeled, or a model's proposal (to be confirmed): not imported as a label
    raw = row.get("annotation") if has_annotation else None
    if raw is None or raw == "":
        labels = row.get("labels")
        if type_id in CLASSIFICATION_TYPES and not has_annotation and labels:
            return {"labels": [str(x) for x in labels if x is not None]}
        return None
    if isinstance(raw, dict):
        return raw
    try:
        ann = json.loads(raw)
    except (TypeError, ValueError):
        raise ValidationError(f"{where}: annotation is not valid JSON") from None
    if not isinstance(ann, dict):
        raise ValidationError(f"{where}: annotation must be a JSON object")
    return ann or None


def _base(uri: str) -> tuple[Path | None, str | None]:
    """The folder relative sources start from: a local folder, or an s3:// prefix."""
    if uri.startswith("s3://"):
        return None, uri.rsplit("/", 1)[0] + "/"
    return Path(uri).parent, None


def read_parquet(store: Store, path: str, type_id: str) -> tuple[list[ImportItem], list[str]]:
    data, uri, name = read_source(store, path)
    table = read_table(data, name)
    cols = set(table.column_names)
    text_type = type_id in TEXT_TYPES
    if text_type and "text" not in cols:
        raise ValidationError(f"{name}: a {REGISTRY[type_id].title} parquet file needs a `text` column")
    if not text_type and not cols & {"source", "file_name"}:
        raise ValidationError(f"{name}: the parquet file needs a `source` (or `file_name`) column naming each file")
    has_annotation = "annotation" in cols
    base, s3_base = _base(uri)
    items: list[ImportItem] = []
    problems: list[str] = []
    for n, row in enumerate(table.to_pylist(), start=1):
        where = f"{name}: row {n}"
        try:
            ann = _annotation(type_id, row, has_annotation, where)
            if text_type:
                text = check_text(row.get("text"), where)
                item = item_from_annotation(type_id, record_uri(uri, n), record_path(name, n), text, ann)
                items.append(item)
                continue
            ref = next((row[k] for k in ("source", "file_name") if isinstance(row.get(k), str) and row[k].strip()),
                       None)
            if ref is None:
                raise ValidationError("no source (the file) in this row")
            ref = ref.strip()
            if s3_base and not ref.startswith(("s3://", "store://", "/", "file://", "~")):
                file_uri = s3_base + ref
            else:
                file_uri = resolve_reference(ref, base)
            shown = row.get("file_name") if isinstance(row.get("file_name"), str) and row["file_name"] else None
            shown = shown or (ref.rsplit("/", 1)[-1] if ref.startswith("s3://") else ref)
            # the file's own properties (size, duration) come from the import's check, not the row
            items.append(ImportItem(file_uri, shown, ann, _names(type_id, ann) if ann else []))
        except ValidationError as e:
            problems.append(str(e) if str(e).startswith(where) else f"{where}: {e}")
    return items, problems


# -- a published version's rows as samples ------------------------------------------------------------
def _time(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def samples_from_table(table: pa.Table) -> list[SampleView]:
    """The samples a parquet export holds, as the SampleViews iter_job_samples yields (a frozen job)."""
    out = []
    for r in table.to_pylist():
        ann = r.get("annotation")
        meta = r.get("meta")
        out.append(SampleView(
            id=int(r["id"]), path=r.get("file_name") or "", uri=r.get("uri") or r.get("source") or "",
            status=r.get("status") or "unlabeled", labels=list(r.get("labels") or []),
            annotation=json.loads(ann) if ann else None, labeled_by=r.get("labeled_by"),
            labeled_at=_time(r.get("labeled_at")), hard=bool(r.get("hard")),
            hard_coefficient=r.get("hard_coefficient"), hard_reason=r.get("hard_reason"), cluster=None,
            from_inference=False, confidence=r.get("confidence"), meta=json.loads(meta) if meta else {},
            text=r.get("text")))
    return out


register(Format(
    "parquet", "Parquet (every type; Hugging Face datasets)",
    "One row per sample: id, file_name, source (absolute path or s3:// URL), text (text types), status, "
    "labels (list of strings), annotation (the type's annotation as JSON), labeled_by, labeled_at, hard, "
    "confidence, hard_coefficient, hard_reason, meta (JSON), uri. Reads with pandas.read_parquet and "
    "datasets.load_dataset(\"parquet\", data_files=...). On import, relative sources start at the "
    "parquet file's folder.",
    readers={t: partial(read_parquet, type_id=t) for t in REGISTRY},
    writers={t: partial(write_parquet, type_id=t) for t in REGISTRY}, example="parquet.txt"))
