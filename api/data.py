"""Data in and out: imports (paths, S3 prefixes, references), synchronize, exports, file content."""
from __future__ import annotations

import mimetypes
import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from store import Store
from store.exports import export_job
from store.formats import get_format
from store.imports import ImportItem, import_format, import_items, import_location, list_imports
from store.jobs import get_job, synchronize
from store.samples import get_sample_uri, sample_bytes

from .deps import get_actor, get_store
from .models import ExportIn, ImportIn, SamplesAdd

router = APIRouter(tags=["data"])


@router.post("/jobs/{job_id}/imports", status_code=201, summary="Import a file, folder or S3 prefix")
def create_import(job_id: int, body: ImportIn, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    if body.format:
        rec = import_format(store, job_id, body.format, body.path, actor=actor)
    else:
        rec = import_location(store, job_id, body.path, actor=actor)
    return rec.as_dict()


@router.get("/jobs/{job_id}/imports", summary="The import history")
def imports(job_id: int, store: Store = Depends(get_store)) -> list[dict]:
    get_job(store, job_id)
    return [r.as_dict() for r in list_imports(store, job_id)]


@router.post("/jobs/{job_id}/samples", status_code=201,
             summary="Add samples by reference (absolute paths or s3:// URLs), with labels")
def add_samples(job_id: int, body: SamplesAdd, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    from store.formats.common import resolve_reference

    items = []
    for ref in body.samples:
        uri = resolve_reference(ref.source, None)
        names = list(dict.fromkeys(n for n in ref.labels if n))
        items.append(ImportItem(uri, ref.source.rsplit("/", 1)[-1] if uri.startswith("s3://") else uri,
                                {"labels": names} if names else None, names))
    return import_items(store, job_id, items, None, f"{len(items)} references via the API", actor=actor,
                        check=body.verify_files).as_dict()


@router.post("/jobs/{job_id}/sync", summary="Synchronize new files from the dataset's source")
def sync(job_id: int, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return synchronize(store, job_id, actor=actor).as_dict()


@router.post("/jobs/{job_id}/exports", summary="Export to a file or folder on the server")
def create_export(job_id: int, body: ExportIn, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    res = export_job(store, job_id, body.format, body.out, actor=actor)
    return {"format": res.format, "path": res.path, "samples": res.samples}


@router.get("/jobs/{job_id}/export", summary="Download an export (folder formats come as a .zip)",
            response_class=FileResponse)
def download_export(job_id: int, format: str = Query(..., description="format id"),
                    store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    job = get_job(store, job_id)
    get_format(format).writer_for(job.type)
    tmp = Path(tempfile.mkdtemp(prefix="labelport-export-"))
    cleanup = BackgroundTask(shutil.rmtree, tmp, ignore_errors=True)
    target = tmp / f"{job.id}-{format}"
    try:
        export_job(store, job_id, format, target, actor=actor)
    except Exception:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if target.is_dir():
        archive = shutil.make_archive(str(tmp / f"job-{job.id}-{format}"), "zip", target)
        return FileResponse(archive, filename=f"job-{job.id}-{format}.zip", background=cleanup)
    ext = {"manifest": "manifest", "csv": "csv"}.get(format, "dat")
    return FileResponse(target, filename=f"job-{job.id}.{ext}", background=cleanup)


@router.get("/samples/{sample_id}/file", summary="The file content of a sample", response_class=Response)
def sample_file(sample_id: int, store: Store = Depends(get_store)):
    uri = get_sample_uri(store, sample_id)
    media_type = mimetypes.guess_type(uri)[0] or "application/octet-stream"
    return Response(sample_bytes(store, sample_id), media_type=media_type,
                    headers={"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"})
