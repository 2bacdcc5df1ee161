"""Adding data to a job and the import history (SPEC F2.2): uploads, folders or S3 prefixes,
and annotation files in any registered format (which may carry labels)."""
from __future__ import annotations

import gc
import json
import logging
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa

from .history import record as record_history
from .core import Store
from .datasets import FileEntry, check_files, get_dataset, list_source_files, register_samples, unique_upload_key
from .errors import Forbidden, StoreError, ValidationError
from .events import now
from .formats.common import ImportItem
from .import_records import MAX_ERRORS_KEPT, ImportRecord, finish_import, start_import
from .jobs import _add_to_jobs, get_job
from .labelset import Label
from .access import require_job

log = logging.getLogger(__name__)
__all__ = ["MAX_ERRORS_KEPT", "ImportItem", "ImportRecord", "create_job_with_uploads", "finish_import", "import_format",
           "import_items", "import_location", "list_imports", "start_import", "upload_files", "write_annotations_bulk"]


def list_imports(store: Store, job_id: int, actor: str | None = None) -> list[ImportRecord]:
    require_job(store, actor, job_id, "read")
    rows = store.db.fetchall(
        "SELECT id, job_id, dataset_id, started_at, finished_at, mode, format, path, found, imported, labeled, "
        "status, errors FROM imports WHERE job_id = ? ORDER BY id DESC", [job_id])
    return [ImportRecord(*r[:12], errors=json.loads(r[12] or "[]")) for r in rows]


def _run(store: Store, job_id: int, mode: str, fmt: str | None, path: str | None, actor: str | None, work):
    """Record an import, run `work(record) -> (found, imported, labeled, errors)`, close the record.

    A failure rolls back what the work wrote and marks the record failed; the error propagates."""
    job = get_job(store, job_id)
    record = start_import(store, job_id, job.dataset_id, mode, fmt, path, actor)
    try:
        with _gc_paused():
            found, imported, labeled, errors = work(job)
    except Exception as e:
        finish_import(store, record, errors=[str(e)], failed=True)
        raise
    return finish_import(store, record, found, imported, labeled, errors)


@contextmanager
def _gc_paused():
    """An import builds hundreds of thousands of small objects and no cycles: the cyclic garbage
    collector, run again and again over them, took a third of the time. Paused while it runs."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _register_and_label(store: Store, job, items: list[ImportItem], media: str, actor: str | None,
                        check: bool = True) -> tuple[int, int, list[str]]:
    """Check files, register them in the job's dataset, add them to the job and write their
    annotations, all in one transaction. Returns (imported, labeled, errors).

    Files outside the app's own storage (server paths, s3:// URLs) are an admin's, inside the
    configured roots (store/access.py): any other reference is refused, one error per file."""
    from .access import refused_sources

    refused = refused_sources(store, actor, [it.uri for it in items], job.dataset_id)
    if refused:
        items = [it for it in items if it.uri not in refused]
    exts = job.labeling_type.extensions
    wrong = [it for it in items if media != "text" and not it.uri.lower().endswith(exts)]
    if wrong:  # never register a file the type cannot use (a manifest naming /etc/passwd, say)
        items = [it for it in items if it not in wrong]
    entries = [FileEntry(it.uri, it.path, None, it.meta, it.text) for it in items]
    checked = check_files(store, entries, media) if check else None
    accepted = checked.accepted if checked else entries
    errors = [f"{uri}: {reason}" for uri, reason in refused.items()]
    errors += [f"{it.path}: not accepted for {job.labeling_type.title} (accepted: "
               f"{', '.join(e.lstrip('.') for e in exts)})" for it in wrong]
    errors += [r.reason for r in checked.refused] if checked else []
    ok_uris = {e.uri for e in accepted}
    meta_by_uri = {e.uri: e.meta for e in accepted if e.meta}
    ltype = job.labeling_type
    with store.db.transaction() as cur:
        ids = register_samples(store, job.dataset_id, accepted)
        _add_to_jobs(cur, job.dataset_id, list(ids.values()), job_id=job.id)  # this job only
        # labels the data uses that the set lacks are added (SPEC F8.4)
        known = set(job.label_set.names())
        missing = list(dict.fromkeys(n for it in items if it.uri in ok_uris for n in it.labels if n not in known))
        if ltype.rules.entities_relations:  # triplets: entity and relation labels (F8.4)
            from .types.text_triplet import extend_label_set

            job, missing = extend_label_set(store, job, [it.annotation for it in items if it.uri in ok_uris
                                                         and it.annotation], actor, cur), []
        if missing:
            from .annotations import add_labels_to_set

            defs: dict[str, dict] = {}
            for it in items:
                for name, d in (it.label_defs or {}).items():
                    defs.setdefault(name, d)
            try:
                job = add_labels_to_set(store, job.id, [Label(n, **defs.get(n, {})) for n in missing], actor, cur=cur)
            except ValidationError:  # a definition the type's rules refuse: the names alone
                job = add_labels_to_set(store, job.id, [Label(n) for n in missing], actor, cur=cur)
        rows = []
        for it in items:
            if it.annotation is None or it.uri not in ok_uris:
                continue
            meta = meta_by_uri.get(it.uri) or it.meta
            if it.text is not None:  # text types check offsets against the text
                meta = {**(meta or {}), "text": it.text}
            try:
                ann = ltype.validate(it.annotation, job.label_set, meta)
            except StoreError as e:
                errors.append(f"{it.path}: {e}")
                continue
            if ann.labels:
                rows.append((ids[it.uri], ann))
        write_annotations_bulk(cur, job.id, rows, actor)
    return len(ids), len(rows), errors


def write_annotations_bulk(cur, job_id: int, rows: list, actor: str | None, status: str = "labeled") -> None:
    """Write many (sample_id, Annotation) pairs with one UPDATE joined on an Arrow table."""
    if not rows:
        return
    table = pa.table({
        "sample_id": pa.array([r[0] for r in rows], pa.int64()),
        "labels": pa.array([r[1].labels for r in rows], pa.list_(pa.string())),
        "annotation": pa.array([json.dumps(r[1].data, ensure_ascii=False) for r in rows], pa.string()),
    })
    cur.register("incoming_annotations", table)
    try:
        cur.execute("""UPDATE job_samples SET status = ?, labels = a.labels, annotation = a.annotation,
                       labeled_by = ?, labeled_at = ?, from_inference = false
                       FROM incoming_annotations a WHERE job_samples.job_id = ? AND job_samples.sample_id = a.sample_id
                       RETURNING job_samples.sample_id""",
                    [status, actor, now(), job_id])
        record_history(cur, job_id, [r[0] for r in cur.fetchall()], actor, "import")
    finally:
        cur.unregister("incoming_annotations")


def import_items(store: Store, job_id: int, items: list[ImportItem], fmt: str | None, path: str,
                 actor: str | None = None, check: bool = True) -> ImportRecord:
    """Import what a format's reader (or an API client) found: files with or without labels.

    check=False registers the references as they are (a listing someone already trusts); such
    files are checked when first shown."""

    from .access import is_admin, refused_sources
    from .jobs import get_job

    require_job(store, actor, job_id, "manage")  # store/access.py decides
    check = check or not is_admin(store, actor)  # unchecked references: an admin's shortcut only
    # references named one by one (the API): a refused one refuses the request, before any record
    refused = refused_sources(store, actor, [it.uri for it in items], get_job(store, job_id).dataset_id)
    if refused:
        uri, why = next(iter(refused.items()))
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        raise Forbidden(f"{uri[:200]}: {why}{more}")

    def work(job):
        imported, labeled, errors = _register_and_label(store, job, items, job.labeling_type.media, actor,
                                                        check=check)
        return len(items), imported, labeled, errors
    return _run(store, job_id, "annotation file" if fmt else "references", fmt, path, actor, work)


def import_format(store: Store, job_id: int, fmt: str, path: str, actor: str | None = None,
                  uploaded: bool = False) -> ImportRecord:
    """Read `path` with the format's reader and import it (CLI `import`, the Add data dialog).
    `uploaded`: the file is the user's upload (the web UI's file picker), not a server path; the
    files it names are checked one by one all the same."""
    from .access import check_server_path

    require_job(store, actor, job_id, "manage")  # store/access.py decides
    if not uploaded:
        check_server_path(store, actor, str(path).strip() or ".", "read")
    from .formats import get_format

    job = get_job(store, job_id)
    reader = get_format(fmt).reader_for(job.type)
    path = str(path).strip()
    if not path:
        raise ValidationError("give the path of the file or folder to import")

    def work(job):
        # inside the record: a file that cannot be read at all is a failed import in the history too
        # (items, problems) or (items, problems, found) where problems are not one sample each
        items, problems, *found = reader(store, path)
        imported, labeled, errors = _register_and_label(store, job, items, job.labeling_type.media, actor)
        return (found[0] if found else len(items) + len(problems)), imported, labeled, problems + errors
    return _run(store, job_id, "annotation file", fmt, path, actor, work)


def import_location(store: Store, job_id: int, location: str, actor: str | None = None) -> ImportRecord:
    """Add the files under a local folder or an s3:// prefix (referenced in place, unlabeled)."""

    from .access import check_source_uri

    require_job(store, actor, job_id, "manage")  # store/access.py decides
    location = (location or "").strip()
    if not location:
        raise ValidationError("give a folder path or an s3://bucket/prefix")
    if location.startswith("store://"):
        raise ValidationError("a store:// location is not a folder to import: upload the files instead")
    check_source_uri(store, actor, location)

    def work(job):
        src = location
        if not src.startswith("s3://"):
            src = str(Path(src).expanduser().absolute())
        listing = list_source_files(store, src, job.labeling_type.extensions)
        items = [ImportItem(e.uri, e.path) for e in listing]
        imported, labeled, errors = _register_and_label(store, job, items, job.labeling_type.media, actor)
        return len(listing), imported, labeled, errors
    return _run(store, job_id, "s3 prefix" if location.startswith("s3://") else "local folder", None,
                location, actor, work)


def upload_files(store: Store, job_id: int, files: list[tuple[str, Path | bytes]], actor: str | None = None
                 ) -> ImportRecord:
    """Copy uploaded files into the dataset's managed folder in object storage and add them.

    Each file is checked before anything is written; refused files are listed with a reason."""

    require_job(store, actor, job_id, "manage")  # store/access.py decides
    def work(job):
        if not files:
            raise ValidationError("no files were given: choose at least one file to upload")
        dataset = get_dataset(store, job.dataset_id)
        exts = job.labeling_type.extensions
        errors: list[str] = []
        accepted: list[ImportItem] = []
        prefix_owner = dataset if dataset.source.startswith("store://") else None
        taken: set[str] = set()
        from .media import probe_image

        for name, content in files:
            shown = Path(str(name)).name
            if not shown.lower().endswith(exts):
                errors.append(f"{shown}: not accepted for {job.labeling_type.title} "
                              f"(accepted: {', '.join(e.lstrip('.') for e in exts)})")
                continue
            try:
                data = content if isinstance(content, bytes) else Path(content).read_bytes()
                if len(data) > store.settings.max_upload_bytes:
                    raise ValidationError(f"{shown}: {len(data) / 2**20:.0f} MB is above the upload limit")
                meta = None
                if job.labeling_type.media == "image":
                    meta = probe_image(data, shown, store.settings.max_image_pixels).as_meta()
                elif job.labeling_type.media == "audio":
                    from .audio import probe_audio

                    meta = probe_audio(data, shown)
                elif job.labeling_type.media == "video":
                    from .video import probe_video

                    meta = probe_video(data, shown)
                elif not data:
                    raise ValidationError(f"{shown}: the file is empty (0 bytes)")
            except StoreError as e:
                errors.append(str(e))
                continue
            except OSError as e:
                errors.append(f"{shown}: cannot be read ({e})")
                continue
            if prefix_owner is not None:
                key = unique_upload_key(store, dataset, shown, taken)
            else:  # datasets on a folder / S3 prefix keep uploads in the store, under uploads/
                key = unique_upload_key(store, _uploads_area(dataset), shown, taken)
            store.objects.put(key, data)
            accepted.append(ImportItem("store://" + key, key.split("/", 2)[-1], meta=meta))
        imported, labeled, more = _register_and_label(store, job, accepted, job.labeling_type.media, actor,
                                                      check=job.labeling_type.media == "text")  # text: records
        return len(files), imported, labeled, errors + more
    return _run(store, job_id, "upload", None, f"{len(files)} files", actor, work)


def _uploads_area(dataset):
    from dataclasses import replace

    return replace(dataset, source=f"store://datasets/{dataset.id}/")


def create_job_with_uploads(store: Store, name: str | None, type_id: str, files: list[tuple[str, Path | bytes]],
                            actor: str | None = None, **job_options) -> tuple:
    """A new job on a new dataset of uploaded files, as one step: when no file can be used (all
    refused, or the upload failed), the job and its empty dataset are removed again and the error
    says why: a failed upload never leaves an empty job behind. Returns (job, import record)."""
    from .jobs import create_job, delete_job

    job = create_job(store, name, type_id, actor=actor, **job_options)
    try:
        rec = upload_files(store, job.id, files, actor=actor)
        if rec.imported == 0 and rec.errors:
            raise ValidationError(f"none of the {len(files)} files can be labeled as "
                                  f"{job.labeling_type.title}, so no job was created: " + "; ".join(rec.errors[:5])
                                  + (f" (and {len(rec.errors) - 5} more)" if len(rec.errors) > 5 else ""))
    except Exception:
        from .trash import forget

        forget(store, delete_job(store, job.id, actor=actor))  # never a job to the user: not kept in the trash
        with store.db.transaction() as cur:  # its import record, and the dataset made for these uploads
            cur.execute("DELETE FROM imports WHERE job_id = ?", [job.id])
            cur.execute("DELETE FROM datasets WHERE id = ? AND NOT EXISTS (SELECT 1 FROM samples WHERE dataset_id = ?) "
                        "AND NOT EXISTS (SELECT 1 FROM jobs WHERE dataset_id = ?)",
                        [job.dataset_id, job.dataset_id, job.dataset_id])
        raise
    return job, rec
