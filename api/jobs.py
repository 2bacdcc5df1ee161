"""/api/v1/jobs: list, create, read, modify, copy, delete, stats, labels."""
from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends, Query, Response

from store import Store
from store import annotations as ann
from store import jobs as jobs_store
from store.samples import counts as sample_counts
from store.stats import job_stats

from .deps import get_actor, get_store
from .errors import error_responses
from .models import (ChangedOut, JobCopy, JobCreate, JobId, JobOut, JobPatch, JobSummaryOut, LabelAdd,
                     LabelNamesOut, LabelRename, LabelSetIn, LabelUsageOut)

router = APIRouter(prefix="/jobs", tags=["jobs"], responses=error_responses(400, 404))


def _counts(store: Store, job_id: int, actor: str | None = None) -> dict[str, int]:
    c = sample_counts(store, job_id, actor=actor)
    return {"total": c.total, **c.by_status}


@router.get("", response_model=list[JobSummaryOut], summary="The job list with progress")
def list_jobs(type: str | None = Query(None, description="labeling type id"),
              search: str | None = Query(None, description="substring of the name"),
              store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return [JobSummaryOut(**asdict(j), progress=j.progress)
            for j in jobs_store.list_jobs(store, type, search, actor=actor)]  # the jobs the actor may see


@router.post("", response_model=JobOut, status_code=201, summary="Create a job",
             responses=error_responses(409, 502))
def create_job(body: JobCreate, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    job = jobs_store.create_job(store, body.name, body.type, dataset_id=body.dataset_id, source=body.dataset,
                                label_set=body.label_set(), description=body.description,
                                instructions=body.instructions, team_labeling=body.team_labeling, actor=actor)
    return JobOut.of(job, _counts(store, job.id))


@router.get("/{job_id}", response_model=JobOut, summary="One job with its counts")
def get_job(job_id: JobId, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return JobOut.of(jobs_store.get_job(store, job_id, actor=actor), _counts(store, job_id, actor))


@router.patch("/{job_id}", response_model=JobOut, summary="Modify name, description, instructions, labels",
              responses=error_responses(409))
def modify_job(job_id: JobId, body: JobPatch, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    label_set = None
    if body.labels is not None:
        current = jobs_store.get_job(store, job_id, actor=actor).label_set
        if isinstance(body.labels, LabelSetIn):
            label_set = body.labels.to_label_set()
        else:  # names only: keep colors and attributes of the labels that stay
            from dataclasses import replace

            from store.labelset import Label

            known = {lab.name: lab for lab in current.labels}
            label_set = replace(current, labels=[known.get(n, Label(n)) for n in body.labels])
    job = jobs_store.modify_job(store, job_id, name=body.name, description=body.description,
                                instructions=body.instructions, label_set=label_set, actor=actor)
    return JobOut.of(job, _counts(store, job_id))


@router.post("/{job_id}/copy", response_model=JobOut, status_code=201, summary="Copy a job (no results)",
             responses=error_responses(409))
def copy_job(job_id: JobId, body: JobCopy | None = None, store: Store = Depends(get_store),
             actor: str = Depends(get_actor)):
    body = body or JobCopy()
    job = jobs_store.copy_job(store, job_id, body.name, body.description, actor=actor)
    return JobOut.of(job, _counts(store, job.id))


@router.delete("/{job_id}", status_code=204,
               summary="Delete a job: into the trash with its labels (GET /trash; restorable; the dataset stays)")
def delete_job(job_id: JobId, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    jobs_store.delete_job(store, job_id, actor=actor)
    return Response(status_code=204)


@router.get("/{job_id}/stats", summary="Counts per status, label and annotator; progress over time")
def stats(job_id: JobId, store: Store = Depends(get_store), actor: str = Depends(get_actor)) -> dict:
    return job_stats(store, job_id, actor=actor).as_dict()


@router.get("/{job_id}/labels", response_model=LabelUsageOut,
            summary="The label set with the number of samples per label")
def labels(job_id: JobId, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    job = jobs_store.get_job(store, job_id, actor=actor)
    usage = ann.label_usage(store, job_id, actor=actor)
    return {"label_set": asdict(job.label_set),
            "labels": [{**asdict(lab), "samples": usage.get(lab.name, 0)} for lab in job.label_set.labels]}


@router.post("/{job_id}/labels", status_code=201, response_model=LabelNamesOut, summary="Add a label to the set",
             responses=error_responses(409))
def add_label(job_id: JobId, body: LabelAdd, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    job = ann.add_label(store, job_id, body.name, body.color, actor=actor)
    return {"labels": job.label_set.names()}


@router.patch("/{job_id}/labels/{name}", response_model=ChangedOut, summary="Rename a label everywhere",
              responses=error_responses(409))
def rename_label(job_id: JobId, name: str, body: LabelRename, store: Store = Depends(get_store),
                 actor: str = Depends(get_actor)):
    return {"samples_changed": ann.rename_label(store, job_id, name, body.name, actor=actor)}


@router.delete("/{job_id}/labels/{name}", response_model=ChangedOut, summary="Delete a label everywhere")
def delete_label(job_id: JobId, name: str, delete_samples_with_only_this: bool = False,
                 store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return {"samples_changed": ann.delete_label(store, job_id, name, delete_samples_with_only_this, actor=actor)}
