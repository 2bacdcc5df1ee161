"""/api/v1/trash: deleted jobs and samples, restorable until they expire (store/trash.py); and the
annotation history's pruning (store/history.py). Who may do what: store/access.py."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from store import Store
from store import history, trash
from store.events import iso

from .deps import get_actor, get_store
from .errors import error_responses
from .models import CountOut, HistorySizeOut, PathId, PruneIn, RestoredJobOut, SamplesRestore, TrashItemOut, ChangedOut

router = APIRouter(tags=["trash"], responses=error_responses(400, 401, 403, 404))


@router.get("/trash", response_model=list[TrashItemOut],
            summary="Deleted jobs and samples the user may restore, newest first")
def list_trash(store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return [it.as_dict() for it in trash.list_trash(store, actor=actor)]


@router.post("/trash/jobs/{job_id}/restore", response_model=RestoredJobOut, responses=error_responses(409),
             summary="Restore a deleted job with its labels, history, runs, assignments and reviews")
def restore_job(job_id: PathId, name: str | None = Query(None, max_length=200,
                                                          description="a new name, when its old one is taken"),
                store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    from store.jobs import get_job

    restored = trash.restore_job(store, job_id, actor=actor, name=name)
    return {"job_id": restored, "name": get_job(store, restored, actor=actor).name}


@router.post("/trash/samples/restore", response_model=ChangedOut,
             summary="Put samples deleted from a job back, with their labels and team work")
def restore_samples(body: SamplesRestore, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return {"samples_changed": trash.restore_samples(store, body.job_id, body.sample_ids, actor=actor)}


@router.delete("/trash", response_model=CountOut, summary="Empty the trash for good (an admin's)")
def empty_trash(item: list[int] | None = Query(None, description="only these trash items (repeat the parameter)"),
                store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return {"count": trash.empty_trash(store, actor=actor, item_ids=item)}


@router.get("/history", response_model=HistorySizeOut,
            summary="The annotation history's size: versions kept, bytes, the oldest (an admin's)")
def history_size(store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    h = history.history_overview(store, actor=actor)
    return {"versions": h["rows"], "bytes": h["bytes"], "oldest": iso(h["oldest"])}


@router.post("/history/prune", response_model=CountOut,
             summary="Drop annotation history older than a number of days (an admin's; current versions stay)")
def prune_history(body: PruneIn, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return {"count": history.prune_history(store, body.older_than_days, actor=actor)}
