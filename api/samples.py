"""/api/v1/jobs/{id}/samples: pages with tabs and filters, one sample, annotations, deletion."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Path, Query, Response

from store import Store
from store import annotations as ann
from store import history
from store import samples as samples_store
from store.samples import SampleQuery

from .deps import get_actor, get_store
from .errors import error_responses
from .models import (AnnotationIn, ChangedOut, DeletedOut, HardMark, JobId, LabelsChange, PageOut, RestoredOut,
                     SampleId, SampleOut, SamplesDelete, Status, VersionOut)

router = APIRouter(tags=["samples"], responses=error_responses(400, 404))


@router.get("/jobs/{job_id}/samples", response_model=PageOut, summary="A page of a tab, with filters")
def list_samples(job_id: JobId, status: Status = "all",
                 label: list[str] = Query(default=[], description="any of these labels (repeat the parameter)"),
                 name: str = Query("", description="substring of the file name or path"),
                 labeled_by: str = "", hard: bool | None = None, cluster: str = "",
                 from_inference: bool | None = None, hard_first: bool = False,
                 page: int = Query(1, ge=1, le=10_000_000),
                 page_size: int = Query(50, ge=1, le=samples_store.MAX_PAGE_SIZE),
                 store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    q = SampleQuery(status=status, labels=tuple(label), name=name, labeled_by=labeled_by, hard=hard,
                    cluster=cluster, from_inference=from_inference, hard_first=hard_first, page=page,
                    page_size=page_size)
    p = samples_store.query_samples(store, job_id, q, actor=actor)
    return PageOut(items=[SampleOut.of(s) for s in p.items], total=p.total, page=p.page, page_size=p.page_size,
                   pages=p.pages)


# {sample_id:id}: /jobs/1/samples/labels (POST only) must not match here, so a GET on it is a 405.
# The "id" convertor (api/__init__.py) takes canonical ids only: Starlette's "int" took "0001".
IF_MATCH = Header(None, alias="If-Match", max_length=40,
                  description="the version (ETag) the change is based on: when the sample was saved since, "
                              "nothing is saved and the answer is 412 with the newer version")


def _sample(store: Store, job_id: int, sample_id: int, actor: str, response: Response) -> SampleOut:
    out = SampleOut.of(samples_store.get_sample(store, job_id, sample_id, actor=actor))
    response.headers["ETag"] = history.etag(out.version)
    return out


@router.get("/jobs/{job_id}/samples/{sample_id:id}", response_model=SampleOut,
            summary="One sample with its annotation (its version as the ETag)")
def get_sample(job_id: JobId, sample_id: SampleId, response: Response, store: Store = Depends(get_store),
               actor: str = Depends(get_actor)):
    return _sample(store, job_id, sample_id, actor, response)


@router.put("/jobs/{job_id}/samples/{sample_id}/annotation", response_model=SampleOut,
            summary="Save a sample's annotation (an empty one returns it to Unlabeled)",
            responses=error_responses(409, 412))
def save_annotation(job_id: JobId, sample_id: SampleId, body: AnnotationIn, response: Response,
                    if_match: str | None = IF_MATCH, store: Store = Depends(get_store),
                    actor: str = Depends(get_actor)):
    ann.set_annotation(store, job_id, sample_id, body.annotation, actor=actor,
                       expected_version=history.parse_version(if_match))
    return _sample(store, job_id, sample_id, actor, response)


@router.delete("/jobs/{job_id}/samples/{sample_id}/annotation", status_code=204,
               summary="Delete a sample's annotation (it returns to Unlabeled; its history keeps it)",
               responses=error_responses(409, 412))
def delete_annotation(job_id: JobId, sample_id: SampleId, if_match: str | None = IF_MATCH,
                      store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    ann.clear_annotation(store, job_id, sample_id, actor=actor, expected_version=history.parse_version(if_match))
    return Response(status_code=204)


@router.get("/jobs/{job_id}/samples/{sample_id}/history", response_model=list[VersionOut],
            summary="Every version of the sample's annotation, newest first (who, when, from what)")
def sample_history(job_id: JobId, sample_id: SampleId, store: Store = Depends(get_store),
                   actor: str = Depends(get_actor)):
    return [v.as_dict() for v in history.sample_history(store, job_id, sample_id, actor=actor)]


@router.post("/jobs/{job_id}/samples/{sample_id}/history/{version}/restore", response_model=RestoredOut,
             summary="Make an old version current again (as a new version)", responses=error_responses(409, 412))
def restore_version(job_id: JobId, sample_id: SampleId, response: Response,
                    version: int = Path(..., ge=0, le=2**31 - 1, description="the version to restore"),
                    if_match: str | None = IF_MATCH, store: Store = Depends(get_store),
                    actor: str = Depends(get_actor)):
    new = history.restore_version(store, job_id, sample_id, version, actor=actor,
                                  expected=history.parse_version(if_match))
    response.headers["ETag"] = history.etag(new)
    return {"version": new}


@router.post("/jobs/{job_id}/samples/labels", response_model=ChangedOut,
             summary="Add labels to many samples in one action", responses=error_responses(409))
def add_labels(job_id: JobId, body: LabelsChange, store: Store = Depends(get_store),
               actor: str = Depends(get_actor)):
    return {"samples_changed": ann.apply_labels(store, job_id, body.sample_ids, body.labels, actor=actor,
                                                versions=body.versions)}


@router.post("/jobs/{job_id}/samples/labels/remove", response_model=ChangedOut,
             summary="Remove labels from many samples", responses=error_responses(409))
def remove_labels(job_id: JobId, body: LabelsChange, store: Store = Depends(get_store),
                  actor: str = Depends(get_actor)):
    return {"samples_changed": ann.remove_labels(store, job_id, body.sample_ids, body.labels, actor=actor,
                                                 versions=body.versions)}


@router.post("/jobs/{job_id}/samples/hard", response_model=ChangedOut, summary="Mark or unmark hard examples")
def mark_hard(job_id: JobId, body: HardMark, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    n = samples_store.set_hard(store, job_id, body.sample_ids, body.hard, body.coefficient, body.reason, actor=actor)
    return {"samples_changed": n}


@router.post("/jobs/{job_id}/samples/delete", response_model=DeletedOut,
             summary="Remove samples from the job (optionally their files)", responses=error_responses(502))
def delete_samples(job_id: JobId, body: SamplesDelete, store: Store = Depends(get_store),
                   actor: str = Depends(get_actor)):
    res = samples_store.delete_samples(store, job_id, body.sample_ids, body.delete_source, actor=actor)
    return {"removed": res.removed, "files_deleted": res.files_deleted, "errors": res.errors}
