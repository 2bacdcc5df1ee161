"""Published dataset versions (SPEC F1.6): publish, list, one version, export a frozen version."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from store import Store
from store.errors import Conflict, ValidationError
from store.formats import get_format
from store.jobs import get_job
from store.versions import MAX_DESCRIPTION, export_version, get_version, list_versions, publish_version

from .deps import get_actor, get_store
from .errors import error_responses
from .models import ExportOut, FormatId, InModel, JobId, ServerPath, StrictId, Timestamp

router = APIRouter(tags=["versions"], responses=error_responses(400, 404))

VersionNumber = Annotated[int, StrictId, PathParam(ge=1, le=2**31 - 1, description="the version's number (1, 2, ...)")]
ZIP = "application/zip"
# what a download is: a file format's own type, folder formats as a zip
MEDIA_TYPES = {"manifest": ("manifest", "application/x-ndjson"), "jsonl": ("jsonl", "application/x-ndjson"),
               "csv": ("csv", "text/csv"), "coco": ("json", "application/json"),
               "conll": ("conll", "text/plain"), "parquet": ("parquet", "application/vnd.apache.parquet")}


class PublishIn(InModel):
    description: str = Field("", max_length=MAX_DESCRIPTION, description="what this version is")
    split: str | None = Field(None, max_length=400, description="the training files' splits, stratified by label: "
                                                                "train=0.8,val=0.1,test=0.1")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="the seed of the splits")
    reference: bool = Field(False, description="name images and audio by URI instead of embedding their bytes")


class VersionOut(BaseModel):
    job_id: int
    number: int
    location: str = Field(..., description="where the version lies: a folder or an s3:// prefix")
    samples: int
    labeled: int
    label_counts: dict[str, int] = Field(..., description="labeled samples per label")
    bytes: int = Field(..., description="bytes written (data.parquet, manifest.jsonl, README.md)")
    description: str
    created_at: Timestamp
    created_by: str | None
    files: list[str] = Field(..., description="data.parquet, manifest.jsonl and README.md (a dataset card)")


class VersionExportIn(InModel):
    format: FormatId
    path: ServerPath | None = Field(None, description="a new file or folder on the server (absolute) to write; "
                                                      "without it the export is the response (a download)")


def _binary(*media_types: str) -> dict:
    return {mt: {"schema": {"type": "string", "format": "binary"}} for mt in media_types}


@router.post("/jobs/{job_id}/versions", status_code=201, response_model=VersionOut,
             summary="Publish the job as its next version (immutable)", responses=error_responses(502))
def publish(job_id: JobId, body: PublishIn | None = None, store: Store = Depends(get_store),
            actor: str = Depends(get_actor)):
    body = body or PublishIn()
    return publish_version(store, job_id, body.description, actor=actor, split=body.split, seed=body.seed,
                           reference=body.reference).as_dict()


@router.get("/jobs/{job_id}/versions", response_model=list[VersionOut], summary="The job's versions, newest first")
def versions(job_id: JobId, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return [v.as_dict() for v in list_versions(store, job_id, actor=actor)]


@router.get("/jobs/{job_id}/versions/{number}", response_model=VersionOut, summary="One version")
def version(job_id: JobId, number: VersionNumber, store: Store = Depends(get_store),
            actor: str = Depends(get_actor)):
    return get_version(store, job_id, number, actor=actor).as_dict()


@router.post("/jobs/{job_id}/versions/{number}/exports", response_model=ExportOut,
             summary="Export a version (as published) in a format of the job's type",
             description="With `path`: writes a new file or folder on the server and answers where. Without: "
                         "the export itself is the answer (folder formats as a .zip).",
             responses={200: {"description": "where the export was written, or the export file",
                              "content": _binary("application/x-ndjson", "text/csv", "text/plain",
                                                 "application/vnd.apache.parquet", "application/octet-stream",
                                                 ZIP)},
                        **error_responses(409, 502)})
def export(job_id: JobId, number: VersionNumber, body: VersionExportIn, store: Store = Depends(get_store),
           actor: str = Depends(get_actor)):
    job = get_job(store, job_id, actor=actor)
    get_format(body.format).writer_for(job.type)
    get_version(store, job_id, number, actor=actor)
    if body.path is not None:
        out = Path(body.path).expanduser()
        if not out.is_absolute():
            raise ValidationError(f"{body.path!r}: give an absolute path on the server")
        if out.is_file() or out.is_symlink():
            raise Conflict(f"{out} already exists: a version is exported to a new file or an empty folder")
        res = export_version(store, job_id, number, body.format, out, actor=actor)
        return {"format": res.format, "path": res.path, "samples": res.samples}
    tmp = Path(tempfile.mkdtemp(prefix="labelport-version-export-"))
    cleanup = BackgroundTask(shutil.rmtree, tmp, ignore_errors=True)
    stem = f"job-{job.id}-v{number}-{body.format}"
    try:
        ext, media_type = MEDIA_TYPES.get(body.format, ("dat", "application/octet-stream"))
        target = tmp / stem / f"{stem}.{ext}"
        export_version(store, job_id, number, body.format, target, actor=actor, server_path=False)
        folder = tmp / stem
        if target.is_dir() or len(list(folder.iterdir())) > 1:  # a folder layout, or a file with files beside it
            archive = shutil.make_archive(str(tmp / stem), "zip", folder)
            return FileResponse(archive, media_type=ZIP, filename=f"{stem}.zip", background=cleanup)
    except Exception:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return FileResponse(target, media_type=media_type, filename=f"{stem}.{ext}", background=cleanup)
