"""Published dataset versions (SPEC F1.6): a job's samples and labels frozen as an immutable,
numbered version in object storage, readable by training code.

A version N of a job lives under the object store key prefix `versions/<job name>/v<N>/`:
    data.parquet    every sample with its status and annotation (store/formats/parquet_format.py)
    <split>.parquet the labeled samples, training-ready: typed Hugging Face features, images and
                    audio embedded (store/formats/hf_dataset.py); `train.parquet`, or one file per
                    split of `--split train=0.8,val=0.2 --seed N` (stratified by label)
    manifest.jsonl  the platform manifest of the job's type (object detection: the PASCAL VOC
                    files it names lie in manifest_annotations/, named relative to the manifest)
    README.md       a Hugging Face dataset card: YAML header (the default config: the splits' files;
                    config "labelport": data.parquet), counts, features, columns, the splits,
                    how to load it with pandas or `datasets`
and a row in the table `versions`. Nothing is ever rewritten: publishing again makes N+1, and a
key that already holds an object is never overwritten. Exports of a version read its frozen
data.parquet (labels changed after publishing do not leak in), in any format of the job's type.
"""
from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from .core import Store
from .errors import Conflict, NotFound, ValidationError
from .events import now, record_event
from .jobs import Job, get_job
from .labelset import LabelSet
from .objects import safe_file_name
from .access import require_job
from .types import REGISTRY

log = logging.getLogger(__name__)
MAX_DESCRIPTION = 1000
DATA, MANIFEST, CARD = "data.parquet", "manifest.jsonl", "README.md"

# Hugging Face task categories per labeling type (the dataset card's header): the types'
# task_categories (store/types/)
TASK_CATEGORIES = {t.id: list(t.task_categories) for t in REGISTRY.values()}


@dataclass(frozen=True)
class Version:
    job_id: int
    number: int
    location: str  # the prefix's URI: a folder path, or s3://bucket/prefix/versions/<job>/v<N>/
    samples: int
    labeled: int
    label_counts: dict[str, int]
    bytes: int
    description: str
    created_at: datetime
    created_by: str | None

    @property
    def key_prefix(self) -> str:
        """The object store key prefix, `versions/<folder>/v<N>/`."""
        parts = [p for p in self.location.replace("\\", "/").rstrip("/").split("/") if p]
        return f"versions/{parts[-2]}/{parts[-1]}/"

    def as_dict(self) -> dict:
        return {"job_id": self.job_id, "number": self.number, "location": self.location, "samples": self.samples,
                "labeled": self.labeled, "label_counts": self.label_counts, "bytes": self.bytes,
                "description": self.description, "created_at": str(self.created_at), "created_by": self.created_by,
                "files": [self.location.rstrip("/") + "/" + name for name in (DATA, MANIFEST, CARD)]}


_COLUMNS = "job_id, number, location, samples, labeled, label_counts, bytes, description, created_at, created_by"


def _version(r) -> Version:
    counts = r[5] if isinstance(r[5], dict) else json.loads(r[5] or "{}")
    return Version(r[0], r[1], r[2], r[3], r[4], counts, r[6], r[7] or "", r[8], r[9])


def list_versions(store: Store, job_id: int, actor: str | None = None) -> list[Version]:
    """The job's versions, newest first."""
    require_job(store, actor, job_id, "read")
    get_job(store, job_id)
    rows = store.db.fetchall(f"SELECT {_COLUMNS} FROM versions WHERE job_id = ? ORDER BY number DESC", [job_id])
    return [_version(r) for r in rows]


def get_version(store: Store, job_id: int, number: int, actor: str | None = None) -> Version:
    require_job(store, actor, job_id, "read")
    get_job(store, job_id)
    r = store.db.fetchone(f"SELECT {_COLUMNS} FROM versions WHERE job_id = ? AND number = ?", [job_id, int(number)])
    if not r:
        raise NotFound(f"job {job_id} has no version {number}")
    return _version(r)


def _folder(store: Store, job: Job) -> str:
    """The job's folder under versions/: the one its earlier versions use (a renamed job keeps
    it), else its name, else its name and id when another job's versions hold that name."""
    r = store.db.fetchone("SELECT location FROM versions WHERE job_id = ? ORDER BY number DESC LIMIT 1", [job.id])
    if r:
        return [p for p in r[0].replace("\\", "/").rstrip("/").split("/") if p][-2]
    name = safe_file_name(job.name, default=f"job-{job.id}").replace(" ", "_")
    taken = {[p for p in loc.replace("\\", "/").rstrip("/").split("/") if p][-2]
             for (loc,) in store.db.fetchall("SELECT location FROM versions WHERE job_id <> ?", [job.id])}
    if name in taken or any(True for _ in store.objects.list(f"versions/{name}")):
        name = f"{name}-{job.id}"
    return name


def publish_version(store: Store, job_id: int, description: str = "", actor: str | None = None,
                    split: str | None = None, seed: int = 0, reference: bool = False) -> Version:
    """Freeze the job as its next version (1, 2, ...) in object storage; returns the version.
    `split` / `seed`: the training files' splits (store/formats/splits.py); `reference`: the
    training files name the images and audio by URI instead of holding their bytes."""
    from .formats.splits import assign_splits, parse_split, stratum

    parts = parse_split(split)
    require_job(store, actor, job_id, "manage")  # store/access.py decides
    from .formats import get_format

    job = get_job(store, job_id)
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION:
        raise ValidationError(f"the description has {len(description)} characters; the limit is {MAX_DESCRIPTION}")
    with store.caches.publish_lock:  # one publish at a time per store: numbers and keys are not raced for
        folder = _folder(store, job)
        number = (store.db.scalar("SELECT max(number) FROM versions WHERE job_id = ?", [job_id]) or 0) + 1
        while any(True for _ in store.objects.list(f"versions/{folder}/v{number}")):
            number += 1  # objects left by an interrupted publish are never overwritten
        prefix = f"versions/{folder}/v{number}/"
        tmp = Path(tempfile.mkdtemp(prefix="labelport-version-"))
        try:
            # the parquet is written from the live job once; everything else from that frozen file
            get_format("parquet").writer_for(job.type)(store, job, tmp / DATA)
            snapshot = _read_snapshot((tmp / DATA).read_bytes())
            samples = snapshot.samples
            labeled = [s for s in samples if s.status == "labeled"]
            counts = Counter(name for s in labeled for name in s.labels)
            label_counts = {n: counts.get(n, 0) for n in job.label_set.names()} | dict(counts)
            files = _write_manifest(store, job, snapshot, tmp)
            from .formats.hf_dataset import write_training_tables

            mapping = assign_splits(((s.id, stratum(s)) for s in labeled), parts, int(seed)) if parts else None
            order = [n for n, _ in parts] or ["train"]
            splits = write_training_tables(store, _frozen_job(job, snapshot), samples, tmp,
                                           (lambda s: mapping.get(s.id, order[0])) if mapping else None, reference)
            splits = {n: splits[n] for n in order if splits.get(n)}
            files = [f"{n}.parquet" for n in splits] + files
            location = store.objects.uri(prefix.rstrip("/")).rstrip("/") + "/"
            card = dataset_card(job, number, description, location, len(samples), len(labeled), label_counts,
                                actor, splits=splits, split_spec=split if parts else None,
                                seed=int(seed) if parts else None, reference=reference)
            (tmp / CARD).write_text(card, encoding="utf-8")
            size = 0
            for rel in [DATA, *files, CARD]:
                data = (tmp / rel).read_bytes()
                key = prefix + rel
                if store.objects.exists(key):
                    raise Conflict(f"{store.objects.uri(key)} already exists: a version is never overwritten")
                store.objects.put(key, data)
                size += len(data)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        created = now()
        with store.db.transaction() as cur:
            cur.execute(f"INSERT INTO versions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [job_id, number, location, len(samples), len(labeled),
                         json.dumps(label_counts, ensure_ascii=False), size, description, created, actor])
            record_event(cur, actor, "publish_version", job_id, number=number, location=location,
                         samples=len(samples), labeled=len(labeled))
    return get_version(store, job_id, number)


@dataclass
class _Snapshot:
    samples: list
    label_set: LabelSet | None


def _read_snapshot(data: bytes) -> _Snapshot:
    from .formats.parquet_format import file_metadata, read_table, samples_from_table

    table = read_table(data, DATA)
    meta = file_metadata(table)
    ls = LabelSet.from_json(json.dumps(meta["label_set"])) if meta.get("label_set") is not None else None
    return _Snapshot(samples_from_table(table), ls)


def _frozen_job(job: Job, snapshot: _Snapshot) -> Job:
    return replace(job, label_set=snapshot.label_set) if snapshot.label_set is not None else job


def _write_manifest(store: Store, job: Job, snapshot: _Snapshot, tmp: Path) -> list[str]:
    """The type's manifest of the snapshot; files it names beside it (VOC XML) are made relative."""
    from .formats import get_format
    from .formats.common import job_snapshot

    out = tmp / "manifest"
    out.mkdir()
    with job_snapshot(job.id, lambda: snapshot.samples):
        get_format("manifest").writer_for(job.type)(store, _frozen_job(job, snapshot), out / MANIFEST)
    extra = sorted(p for p in out.rglob("*") if p.is_file() and p.name != MANIFEST)
    lines = (out / MANIFEST).read_text(encoding="utf-8").splitlines()
    if extra:
        renamed = {str(p): f"manifest_annotations/{p.relative_to(out).as_posix().split('/', 1)[-1]}" for p in extra}
        fixed = []
        for line in lines:
            row = json.loads(line)
            for a in row.get("annotation") or []:
                if isinstance(a, dict) and a.get("annotation-loc") in renamed:
                    a["annotation-loc"] = renamed[a["annotation-loc"]]
            fixed.append(json.dumps(row, ensure_ascii=False))
        lines = fixed
        for p in extra:
            dest = tmp / renamed[str(p)]
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, dest)
    (tmp / MANIFEST).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return [MANIFEST, *(renamed[str(p)] for p in extra)] if extra else [MANIFEST]


def read_version_data(store: Store, version: Version) -> bytes:
    return store.objects.get(version.key_prefix + DATA)


def version_samples(store: Store, version: Version) -> list:
    """The frozen samples of a version (SampleViews, as iter_job_samples yields them)."""
    return _read_snapshot(read_version_data(store, version)).samples


def export_version(store: Store, job_id: int, number: int, fmt: str, out: str | Path,
                   actor: str | None = None, server_path: bool = True):
    """Export a published version (its frozen data.parquet, not the live job) in a format of the
    job's type: each writer runs on the version's samples and label set. A server path is checked
    as for export_job; server_path=False is for the app's own temporary folder of a download."""
    from .access import check_export_target

    require_job(store, actor, job_id, "read")  # store/access.py decides
    if server_path:
        check_export_target(store, actor, out)
    from .exports import ExportResult
    from .formats import get_format
    from .formats.common import job_snapshot, prepare_out_file

    job = get_job(store, job_id)
    writer = get_format(fmt).writer_for(job.type)
    version = get_version(store, job_id, number)
    data = read_version_data(store, version)
    out = Path(out)
    if fmt == "parquet":  # the frozen file itself
        target = prepare_out_file(out)
        target.write_bytes(data)
        n = version.samples
    else:
        snapshot = _read_snapshot(data)
        with job_snapshot(job.id, lambda: snapshot.samples):
            n = writer(store, _frozen_job(job, snapshot), out)
    with store.db.transaction() as cur:
        record_event(cur, actor, "export_version", job_id, number=version.number, format=fmt, path=str(out),
                     samples=n)
    return ExportResult(fmt, str(out.absolute()), n)


def dataset_card(job: Job, number: int, description: str, location: str, samples: int, labeled: int,
                 label_counts: dict[str, int], actor: str | None, splits: dict[str, int] | None = None,
                 split_spec: str | None = None, seed: int | None = None, reference: bool = False) -> str:
    """README.md of a version: a Hugging Face dataset card."""
    ltype = job.labeling_type
    splits = splits or {}
    configs = ["configs:"]
    if splits:
        configs += ["- config_name: default", "  data_files:"]
        for name in splits:
            configs += [f"  - split: {name}", f"    path: {name}.parquet"]
        configs += ["- config_name: labelport", "  data_files: data.parquet"]
    else:
        configs += ["- config_name: default", "  data_files: data.parquet"]
    header = ["---", f"pretty_name: {json.dumps(f'{job.name} v{number}', ensure_ascii=False)}", "license: unknown",
              "task_categories:", *(f"- {t}" for t in TASK_CATEGORIES.get(job.type, [])),
              "tags:", "- labelport", f"- {job.type}", *configs, "---"]
    split_text = ", ".join(f"`{n}` {k}" for n, k in splits.items())
    how = (f"split `{split_spec}` with seed {seed}, stratified by label" if split_spec else "no split asked for")
    training = (f"""
## Training files

{split_text} labeled samples ({how}): `<split>.parquet` with typed Hugging Face features
(`store/formats/hf_dataset.py`: e.g. `Image` and `ClassLabel` for image classification, `tokens`
and `ner_tags` for NER, `objects` with COCO-order `bbox` and `category` for detection), images and
audio {"named by URI" if reference else "embedded as bytes (the version is self-contained)"}. The
default config reads them; the config `labelport` reads `data.parquet`.

```python
import datasets
ds = datasets.load_dataset("parquet", data_files={{{", ".join(f'"{n}": "{n}.parquet"' for n in splits)}}})
```
""" if splits else "")
    counts = "\n".join(f"| {name} | {n} |" for name, n in sorted(label_counts.items(), key=lambda kv: (-kv[1], kv[0])))
    text_col = "| text | string | the record's text |\n" if ltype.media == "text" else ""
    body = f"""
# {job.name} — version {number}

{description or job.description or "A labeled dataset published from Labelport."}

- Job: **{job.name}** (id {job.id}), labeling type **{ltype.title}** (`{job.type}`)
- Version: **{number}**, published {now().strftime("%Y-%m-%d %H:%M:%S")}{f" by {actor}" if actor else ""}
- Samples: **{samples}**, labeled: **{labeled}**
- Location: `{location}`

This version is frozen: labels changed in the job after it was published are not in it.
{training}
## Samples per label (labeled samples)

| label | samples |
|---|---|
{counts or "| (none) | 0 |"}

## Files

- `data.parquet`: one row per sample (all of them, with their status)
{"".join(f"- `{n}.parquet`: the {k} labeled samples of the split `{n}`, training-ready{chr(10)}" for n, k in splits.items())}
- `manifest.jsonl`: the same samples in the platform's manifest format

## Columns of data.parquet

| column | type | meaning |
|---|---|---|
| id | int64 | the sample's id in the job |
| file_name | string | the file's path in its dataset |
| source | string | where the file is: an absolute path or an s3:// URL |
{text_col}| status | string | labeled, unlabeled or to_be_confirmed |
| labels | list of strings | the label names of the annotation |
| annotation | string | the annotation as JSON (the `{job.type}` schema) |
| labeled_by | string | who labeled it |
| labeled_at | timestamp | when |
| hard | bool | marked a hard example |
| confidence | double | the model's confidence, when a model proposed it |
| hard_coefficient, hard_reason, meta, uri | | more about the sample (meta: the file's properties as JSON) |

## Load it

```python
import pandas as pd
df = pd.read_parquet("data.parquet")
labeled = df[df.status == "labeled"]

import datasets
ds = datasets.load_dataset("parquet", data_files="data.parquet")["train"]
```

Or import it into a Labelport job: `python app.py import --job NAME --format parquet data.parquet`.
"""
    return "\n".join(header) + "\n" + body
