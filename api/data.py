"""Data in and out: imports (paths, S3 prefixes, references), synchronize, exports, file content."""
from __future__ import annotations

import mimetypes
import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from store import Store
from store.exports import export_job
from store.formats import get_format
from store.formats.common import resolve_reference
from store.errors import ValidationError
from store.imports import ImportItem, import_format, import_items, import_location, list_imports, upload_files
from store.jobs import get_job, synchronize

from .deps import get_actor, get_store
from .errors import error_responses
from .models import ExportIn, ExportOut, FormatId, ImportIn, ImportOut, JobId, SampleId, SamplesAdd

router = APIRouter(tags=["data"], responses=error_responses(400, 404))

# what a download is: a file format's own type, folder formats as a zip
EXPORT_MEDIA_TYPES = {"manifest": ("manifest", "application/x-ndjson"), "csv": ("csv", "text/csv"),
                      "jsonl": ("jsonl", "application/x-ndjson"),
                      "parquet": ("parquet", "application/vnd.apache.parquet")}
OTHER = "application/octet-stream"  # a file format without its own media type
ZIP = "application/zip"


def _binary(*media_types: str) -> dict:
    return {mt: {"schema": {"type": "string", "format": "binary"}} for mt in media_types}


@router.post("/jobs/{job_id}/imports", status_code=201, response_model=ImportOut,
             summary="Import a file, folder or S3 prefix", responses=error_responses(502))
def create_import(job_id: JobId, body: ImportIn, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    if body.format:
        rec = import_format(store, job_id, body.format, body.path, actor=actor)
    else:
        rec = import_location(store, job_id, body.path, actor=actor)
    return rec.as_dict()


@router.post("/jobs/{job_id}/uploads", status_code=201, response_model=ImportOut,
             summary="Upload files (multipart/form-data, field `files`) into the job's dataset",
             responses=error_responses(413, 502))
async def upload(job_id: JobId, request: Request, store: Store = Depends(get_store),
                 actor: str = Depends(get_actor)):
    """The way a user who is not an admin adds data over the API: the files are copied into the
    app's storage (datasets/<id>/), checked one by one; refused files are listed in `errors`."""
    from starlette.concurrency import run_in_threadpool

    form = await request.form(max_files=10_000, max_fields=100)
    try:
        files = [(f.filename or "file", await f.read()) for f in form.getlist("files") if hasattr(f, "read")]
    finally:
        await form.close()
    if not files:
        raise ValidationError("send the files as multipart/form-data in the field `files`")
    return (await run_in_threadpool(upload_files, store, job_id, files, actor)).as_dict()


@router.get("/jobs/{job_id}/imports", response_model=list[ImportOut], summary="The import history")
def imports(job_id: JobId, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return [r.as_dict() for r in list_imports(store, job_id, actor=actor)]


@router.post("/jobs/{job_id}/samples", status_code=201, response_model=ImportOut,
             summary="Add samples by reference (absolute paths or s3:// URLs), with labels",
             responses=error_responses(502))
def add_samples(job_id: JobId, body: SamplesAdd, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    items = []
    for ref in body.samples:
        source = ref["source"]
        uri = source if _normal_absolute(source) else resolve_reference(source, None)
        labels = ref.get("labels")
        names = list(dict.fromkeys(n for n in labels if n)) if labels else []
        items.append(ImportItem(uri, source.rsplit("/", 1)[-1] if uri.startswith("s3://") else uri,
                                {"labels": names} if names else None, names))
    return import_items(store, job_id, items, None, f"{len(items)} references via the API", actor=actor,
                        check=body.verify_files).as_dict()


def _normal_absolute(path: str) -> bool:
    """An absolute local path that resolve_reference would return unchanged (no '~', '.', '..',
    doubled or trailing '/', surrounding blanks): checked in a few string tests instead of
    pathlib, which is most of the time of a 100,000-reference request."""
    return (path.startswith("/") and not path.endswith(("/", "/.", "/..")) and "//" not in path
            and "/./" not in path and "/../" not in path and path == path.strip())


@router.post("/jobs/{job_id}/sync", response_model=ImportOut,
             summary="Synchronize new files from the dataset's source", responses=error_responses(502))
def sync(job_id: JobId, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return synchronize(store, job_id, actor=actor).as_dict()


@router.post("/jobs/{job_id}/exports", response_model=ExportOut, summary="Export to a file or folder on the server",
             responses=error_responses(502))
def create_export(job_id: JobId, body: ExportIn, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    res = export_job(store, job_id, body.format, body.out, actor=actor)
    return {"format": res.format, "path": res.path, "samples": res.samples}


@router.get("/jobs/{job_id}/export", summary="Download an export (folder formats come as a .zip)",
            response_class=FileResponse,
            responses={200: {"description": "the export file: JSON lines (manifest, jsonl), CSV, Parquet, or a zip "
                                            "of a folder",
                             "content": _binary("application/x-ndjson", "text/csv", "application/vnd.apache.parquet",
                                                ZIP, OTHER)},
                       **error_responses(502)})
def download_export(job_id: JobId, format: FormatId = Query(..., description="format id"),
                    store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    job = get_job(store, job_id, actor=actor)
    get_format(format).writer_for(job.type)
    tmp = Path(tempfile.mkdtemp(prefix="labelport-export-"))
    cleanup = BackgroundTask(shutil.rmtree, tmp, ignore_errors=True)
    target = tmp / f"{job.id}-{format}"
    try:
        export_job(store, job_id, format, target, actor=actor, server_path=False)
    except Exception:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if target.is_dir():
        archive = shutil.make_archive(str(tmp / f"job-{job.id}-{format}"), "zip", target)
        return FileResponse(archive, media_type=ZIP, filename=f"job-{job.id}-{format}.zip", background=cleanup)
    ext, media_type = EXPORT_MEDIA_TYPES.get(format, ("dat", OTHER))
    return FileResponse(target, media_type=media_type, filename=f"job-{job.id}.{ext}", background=cleanup)


@router.get("/samples/{sample_id}/file", summary="The file content of a sample", response_class=Response,
            responses={200: {"description": "the file as stored, with its media type",
                             "content": _binary("image/*", "audio/*", "video/*", "text/*",
                                                "application/octet-stream")},
                       **error_responses(502)})
def sample_file(sample_id: SampleId, request: Request, store: Store = Depends(get_store),
                actor: str = Depends(get_actor)):
    """Streamed in chunks; one `Range: bytes=a-b` is answered with 206 and only that range is read."""
    from limits import file_response
    from store.samples import open_sample_file

    f = open_sample_file(store, sample_id, actor=actor)
    media_type = mimetypes.guess_type(f.uri)[0] or "application/octet-stream"
    return file_response(f, media_type, request.headers.get("range"),
                         {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"})
