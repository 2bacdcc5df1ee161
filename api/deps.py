"""Request helpers: the store, the acting user, strict ids, the job rule of every /jobs/{job_id}
route (asked of store/access.py, which decides; nothing is decided here)."""
from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.convertors import Convertor, register_url_convertor

from store import LOCAL_USER, Store
from store.access import parse_id, require_job
from store.errors import ValidationError


class IdConvertor(Convertor):
    """`{x:id}` in a route: a canonical id (digits, no leading zero), as store.access.parse_id.
    Registered here, before any router module declares a route."""
    regex = "[1-9][0-9]{0,18}"

    def convert(self, value: str) -> str:
        return value  # the parameter's type (JobId, SampleId) parses it, strictly

    def to_string(self, value) -> str:
        return str(value)


register_url_convertor("id", IdConvertor())


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_actor(request: Request) -> str:
    """The logged-in user (auth.py's middleware put it on the request); the local user in
    single-user mode."""
    return getattr(request.state, "user", None) or LOCAL_USER


REPEATABLE_QUERY = {"label", "item"}  # list parameters; any other one given twice is ambiguous


def single_query_values(request: Request) -> None:
    """`?page=1&page=2`: refuse (400) rather than silently take the last value."""
    seen: set[str] = set()
    for key, _ in request.query_params.multi_items():
        if key in seen and key not in REPEATABLE_QUERY:
            raise RequestValidationError([{"loc": ("query", key), "msg": "give this parameter once",
                                           "type": "value_error"}])
        seen.add(key)


# GET routes of a job that a Labeler may call: the job itself and its label set ("view"); a
# labeler sees only the samples assigned to them (F5.5), through /jobs/{id}/my-samples, whose
# store functions check the role themselves, as do the team routes.
LABELER_READS = {"/jobs/{job_id}", "/jobs/{job_id}/labels"}


def job_action(method: str, path: str | None) -> str:
    if method in ("GET", "HEAD"):
        return "view" if path in LABELER_READS else "read"
    return "manage"


def job_access(request: Request) -> None:
    """The rule of a /jobs/{job_id}/... route of the job routers, asked early so a refusal is a
    fast 404/403 before the body is read: the id is parsed strictly (400 otherwise) and
    store.access.require_job decides. The store functions the route calls ask again."""
    raw = request.path_params.get("job_id")
    if raw is None:
        return
    try:
        job_id = parse_id(raw, "job id")
    except ValidationError as e:
        raise RequestValidationError([{"loc": ("path", "job_id"), "msg": str(e), "type": "value_error"}]) from None
    route = request.scope.get("route")
    require_job(get_store(request), get_actor(request), job_id,
                job_action(request.method, getattr(route, "path", None)))
