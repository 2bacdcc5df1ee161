"""REST API under /api/v1 (OpenAPI at /api/v1/openapi.json, docs at /api/v1/docs).

Handlers are thin: parse, call one store/ function, serialize. Store errors map to JSON errors:
ValidationError 400, NotFound 404, Conflict 409, StorageError 502.
"""
from __future__ import annotations

from fastapi import FastAPI

from store import Store

from . import data, jobs, samples
from .errors import install_error_handlers

API_PREFIX = "/api/v1"


def build_api(store: Store) -> FastAPI:
    """A FastAPI sub-application, mounted at /api/v1 by server.py."""
    api = FastAPI(title="Labelport API", version="1", docs_url="/docs", redoc_url=None,
                  openapi_url="/openapi.json",
                  description="Jobs, samples, labels, imports and exports of the labeling portal. "
                              "Every endpoint applies the same rules as the web UI.")
    api.state.store = store
    install_error_handlers(api)
    api.include_router(jobs.router)
    api.include_router(samples.router)
    api.include_router(data.router)
    return api
