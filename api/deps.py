"""Request helpers: the store and the acting user."""
from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from store import LOCAL_USER, Store


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_actor(request: Request) -> str:
    """The logged-in user (auth.py's middleware put it on the request); the local user in
    single-user mode."""
    return getattr(request.state, "user", None) or LOCAL_USER


REPEATABLE_QUERY = {"label"}  # list parameters; any other one given twice is ambiguous


def single_query_values(request: Request) -> None:
    """`?page=1&page=2`: refuse (400) rather than silently take the last value."""
    seen: set[str] = set()
    for key, _ in request.query_params.multi_items():
        if key in seen and key not in REPEATABLE_QUERY:
            raise RequestValidationError([{"loc": ("query", key), "msg": "give this parameter once",
                                           "type": "value_error"}])
        seen.add(key)


# GET routes of a job that a Labeler may call: the job itself and its label set; a labeler sees
# only the samples assigned to them (F5.5), through /jobs/{id}/my-samples.
LABELER_READS = {"/jobs/{job_id}", "/jobs/{job_id}/labels"}


def job_access(request: Request) -> None:
    """Who may call a /jobs/{job_id}/... route (F5.10), added to the job routers once: the job's
    owner (its creator, an admin) anything; a Team Manager or Reviewer the reads; a Labeler the
    job and its labels; anyone else gets 404 (the job does not exist for them). Team members
    write through the my-samples and review routes (api/team.py), whose store functions check
    roles themselves. Single-user mode: everything is open."""
    raw = request.path_params.get("job_id")
    if raw is None:
        return
    try:
        job_id = int(raw)
    except (TypeError, ValueError):
        return  # the route's own validation answers 400
    if not 1 <= job_id <= 2**63 - 1:
        return
    route = request.scope.get("route")
    require_job(get_store(request), job_id, get_actor(request), write=request.method not in ("GET", "HEAD"),
                labeler_may=getattr(route, "path", None) in LABELER_READS)


def require_job(store: Store, job_id: int, actor: str, write: bool, labeler_may: bool = False) -> None:
    """The rule of ``job_access`` for one job (also for routes that reach a job another way,
    e.g. a run by its id): writes need the owner, reads a Reviewer or Team Manager (a Labeler
    only where ``labeler_may``). Single-user mode: open."""
    from store.team_jobs import require_role
    from store.users import users_configured

    if not users_configured(store):
        return
    if write:
        require_role(store, job_id, actor)
    elif labeler_may:
        require_role(store, job_id, actor, "labeler", "reviewer", "manager")
    else:
        require_role(store, job_id, actor, "reviewer", "manager")
