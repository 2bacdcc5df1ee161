"""/api/v1 auto labeling: the model registry, runs (start in the background, progress, cancel,
history) and To Be Confirmed (confirm selected, confirm above a threshold, discard)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from autolabel.models import register_model
from autolabel.runner import start_run_in_background
from store import Store
from store import models as models_store
from store import predictions, runs

from store.access import require_job

from .deps import get_actor, get_store
from .errors import error_responses
from .models import (ChangedOut, ConfirmAboveIn, ConfirmIn, DiscardIn, Id, PathId, JobId, ModelIn, ModelOut, RunIn,
                     RunOut, TypeId)

router = APIRouter(tags=["auto labeling"], responses=error_responses(400, 404))


@router.get("/models", response_model=list[ModelOut], summary="Registered models (those fitting a type)")
def list_models(type: TypeId | None = None, store: Store = Depends(get_store)):
    return [m.as_dict() for m in models_store.list_models(store, type)]


@router.post("/models", response_model=ModelOut, status_code=201, responses=error_responses(409),
             summary="Register a model: its task and labels are read from its config")
def add_model(body: ModelIn, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return register_model(store, body.source, body.version, body.name, actor=actor).as_dict()


@router.delete("/models/{model_id}", status_code=204, summary="Forget a registered model")
def delete_model(model_id: PathId, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    models_store.delete_model(store, model_id, actor=actor)
    return Response(status_code=204)


@router.post("/jobs/{job_id}/runs", response_model=RunOut, status_code=202, responses=error_responses(409),
             summary="Start an auto-labeling run in the background (F4.1-F4.3)")
def start_run(job_id: JobId, body: RunIn, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    run = start_run_in_background(store, job_id, body.kind, body.mode, body.model, body.device, body.batch_size,
                                  body.strategy, actor=actor, engine=body.engine)
    return run.as_dict()


@router.get("/jobs/{job_id}/runs", response_model=list[RunOut], summary="The job's run history, newest first")
def list_runs(job_id: JobId, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return [r.as_dict() for r in runs.list_runs(store, job_id, actor=actor)]


@router.get("/runs/{run_id}", response_model=RunOut, summary="One run: status and progress")
def get_run(run_id: PathId, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return runs.get_run(store, run_id, actor=actor).as_dict()


@router.post("/runs/{run_id}/cancel", response_model=RunOut, responses=error_responses(409),
             summary="Ask a running run to stop after its current batch")
def cancel_run(run_id: PathId, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return runs.request_cancel(store, run_id, actor=actor).as_dict()


@router.post("/jobs/{job_id}/samples/confirm", response_model=ChangedOut,
             summary="Confirm To Be Confirmed samples as they are (they move to Labeled)")
def confirm(job_id: JobId, body: ConfirmIn, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return {"samples_changed": predictions.confirm_samples(store, job_id, body.sample_ids, actor=actor)}


@router.post("/jobs/{job_id}/samples/confirm-above", response_model=ChangedOut,
             summary="Confirm every To Be Confirmed sample with confidence at least the threshold")
def confirm_above(job_id: JobId, body: ConfirmAboveIn, store: Store = Depends(get_store),
                  actor: str = Depends(get_actor)):
    return {"samples_changed": predictions.confirm_above(store, job_id, body.threshold, actor=actor)}


@router.post("/jobs/{job_id}/samples/discard-predictions", response_model=ChangedOut,
             summary="Send To Be Confirmed samples back to Unlabeled")
def discard(job_id: JobId, body: DiscardIn, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return {"samples_changed": predictions.discard_predictions(store, job_id, body.sample_ids, actor=actor)}
