"""REST API under /api/v1 (OpenAPI at /api/v1/openapi.json, docs at /api/v1/docs).

Handlers are thin: parse, call one store/ function, serialize. Store errors map to JSON errors:
ValidationError 400, NotFound 404, Conflict 409, StorageError 502. Request validation errors are
400 too (not FastAPI's 422), and the spec says so: every operation declares its error responses.
"""
from __future__ import annotations

import re

from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Mount

from store import Store

from . import autolabel, data, jobs, samples, team, trash, users, versions
from .deps import job_access, single_query_values
from .errors import error_responses, install_error_handlers

API_PREFIX = "/api/v1"



def build_api(store: Store) -> FastAPI:
    """A FastAPI sub-application, mounted at /api/v1 by server.py."""
    api = FastAPI(title="Labelport API", version="1", docs_url="/docs", redoc_url=None, redirect_slashes=False,
                  openapi_url="/openapi.json",
                  description="Jobs, samples, labels, imports and exports of the labeling portal. "
                              "Every endpoint applies the same rules as the web UI. Errors are "
                              '`{"error": {"status", "message"}}`: 400 bad input, 404 unknown, '
                              "409 conflict, 502 storage unreachable. When users are configured, log in first "
                              "(POST /login sets a session cookie): 401 without it, 403 for an action "
                              "the user's role does not allow, 404 for a job the user is not part of.",
                  dependencies=[Depends(single_query_values)])
    api.state.store = store
    install_error_handlers(api)
    job_routers = (jobs.router, samples.router, data.router, autolabel.router, versions.router)
    routers = (*job_routers, team.router, users.router, trash.router)
    for router in job_routers:  # who may call a /jobs/{job_id}/... route (F5.10): once, for all of them
        api.include_router(router, dependencies=[Depends(job_access)], responses=error_responses(401, 403))
    api.include_router(team.router)
    api.include_router(users.router)  # accounts: an admin's (F6.4)
    api.include_router(trash.router)  # deleted jobs and samples (issue 20)
    api.state.route_methods = [(r.path_regex, r.methods, _literal_segments(r.path)) for router in routers
                               for r in router.routes if isinstance(r, APIRoute)]  # for 405's Allow
    _document_errors_as_400(api)
    return api


def _literal_segments(path: str) -> int:
    """How many segments of a route's path are fixed text: /teams/{id}/members/delete (3) is a
    more specific match for /teams/1/members/delete than /teams/{id}/members/{email} (2)."""
    return sum(1 for part in path.split("/") if part and not part.startswith("{"))


def mount_api(app: FastAPI, store: Store) -> FastAPI:
    """Mount the API at /api/v1 of the web app. Every path under the prefix reaches the API, even
    one holding a newline (%0A): Starlette's mount pattern is `.*` without DOTALL, and such a
    request would fall through to the UI's HTML 404 instead of the API's JSON one."""
    api = build_api(store)
    app.mount(API_PREFIX, api)
    mount = next(r for r in app.router.routes if isinstance(r, Mount) and r.app is api)
    mount.path_regex = re.compile(mount.path_regex.pattern, re.DOTALL)
    return api


def _document_errors_as_400(api: FastAPI) -> None:
    """FastAPI documents request validation errors as 422 with its own body; this API answers 400
    with the common error body (declared on each router), so the 422 entries go."""
    generate = api.openapi

    def openapi() -> dict:
        if api.openapi_schema is None:
            schema = generate()
            for path in schema.get("paths", {}).values():
                for op in path.values():
                    if isinstance(op, dict) and "responses" in op:
                        op["responses"].pop("422", None)
            schemas = schema.get("components", {}).get("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                schemas.pop(name, None)
        return api.openapi_schema

    api.openapi = openapi
