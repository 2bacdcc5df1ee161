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

from . import autolabel, data, jobs, samples
from .deps import single_query_values
from .errors import install_error_handlers

API_PREFIX = "/api/v1"


def build_api(store: Store) -> FastAPI:
    """A FastAPI sub-application, mounted at /api/v1 by server.py."""
    api = FastAPI(title="Labelport API", version="1", docs_url="/docs", redoc_url=None,
                  openapi_url="/openapi.json",
                  description="Jobs, samples, labels, imports and exports of the labeling portal. "
                              "Every endpoint applies the same rules as the web UI. Errors are "
                              '`{"error": {"status", "message"}}`: 400 bad input, 404 unknown, '
                              "409 conflict, 502 storage unreachable.",
                  dependencies=[Depends(single_query_values)])
    api.state.store = store
    install_error_handlers(api)
    routers = (jobs.router, samples.router, data.router, autolabel.router)
    for router in routers:
        api.include_router(router)
    api.state.route_methods = [(r.path_regex, r.methods) for router in routers
                               for r in router.routes if isinstance(r, APIRoute)]  # for 405's Allow
    _document_errors_as_400(api)
    return api


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
