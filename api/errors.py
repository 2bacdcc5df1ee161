"""Store errors as JSON with the right status; never a 500 for bad input.

Every error, including the framework's own (unknown path 404, wrong method 405), has the shape
{"error": {"status", "message"}}; the OpenAPI spec declares it per operation (``error_responses``).
"""
from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from store.errors import Conflict, Forbidden, NotFound, StorageError, StoreError
from store.history import VersionConflict, etag

from .models import ErrorOut

log = logging.getLogger(__name__)


STATUS = [(NotFound, 404), (Conflict, 409), (Forbidden, 403), (StorageError, 502), (StoreError, 400)]

DESCRIPTIONS = {
    400: "Bad input: the message says what to change (nothing was saved)",
    401: "Not logged in (users are configured): POST /api/v1/login first",
    403: "Not allowed for this user",
    404: "Unknown job, sample, label, dataset or file",
    409: "Conflicts with the current state (e.g. a name already taken)",
    412: "If-Match names an older version: someone saved since. The body's error.details.current is the "
         "newer version (annotation, saved_by, saved_at), its ETag in the header; nothing was saved",
    502: "Object storage (S3) could not be reached or refused the request",
    413: "The request body is above the configured limit (LABELPORT_MAX_JSON_BYTES, LABELPORT_MAX_UPLOAD_BYTES)",
    429: "Too many attempts: wait as long as Retry-After says",
}


def error_responses(*codes: int) -> dict[int | str, dict]:
    """`responses=` for a router or route: the error statuses it answers, with the error body."""
    return {code: {"model": ErrorOut, "description": DESCRIPTIONS[code]} for code in codes}


def allowed_methods(request: Request) -> list[str]:
    """Every method of every route on the request's path (Starlette's 405 names only the first
    route that matched the path, while GET /jobs and POST /jobs are two routes).
    ``app.state.route_methods``: (path regex, methods, fixed segments) that build_api records; where
    several paths match (/teams/1/members/delete: .../delete and .../{email}), the most specific
    ones answer, as the OpenAPI spec lists them."""
    path, root = request.scope["path"], request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root):]
    matches = [(literal, route_methods) for regex, route_methods, literal in getattr(request.app.state,
                                                                                    "route_methods", ())
               if regex.match(path)]
    best = max((literal for literal, _ in matches), default=0)  # the most specific paths only
    methods: set[str] = set()
    for literal, route_methods in matches:
        if literal == best:
            methods |= set(route_methods)
    return sorted(methods)


def status_for(exc: StoreError) -> int:
    for cls, code in STATUS:
        if isinstance(exc, cls):
            return code
    return 400


def error_body(message: str, code: int, details=None) -> dict:
    body = {"error": {"status": code, "message": message}}
    if details is not None:
        body["error"]["details"] = details
    return body


class ErrorResponse(JSONResponse):
    """JSON with non-ASCII escaped: a message quoting odd input (a lone surrogate) still encodes."""

    def render(self, content) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode("ascii")


def error_response(message: str, code: int, details=None, headers=None) -> ErrorResponse:
    return ErrorResponse(error_body(message, code, details), status_code=code, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StoreError)
    async def store_error(_request: Request, exc: StoreError):
        if isinstance(exc, VersionConflict):  # If-Match lost: the current annotation, who and when
            return error_response(str(exc), 412, {"current": exc.current.as_dict()},
                                  headers={"ETag": etag(exc.current.version)})
        return error_response(str(exc), status_for(exc))

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, exc: RequestValidationError):
        details = [{"loc": list(e.get("loc", [])), "msg": e.get("msg", "")} for e in exc.errors()]
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(x) for x in first["loc"][1:]) or "request"
        return error_response(f"{where}: {first['msg']}", 400, details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        # routing: no such path (404), a method the path does not have (405, with its Allow header)
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        return error_response(str(exc.detail), exc.status_code, headers=headers or None)

    @app.exception_handler(UnicodeError)
    async def unicode_error(_request: Request, exc: UnicodeError):
        return error_response(f"text is not valid Unicode: {exc}", 400)

    @app.exception_handler(OSError)
    async def os_error(_request: Request, exc: OSError):
        return error_response(f"file error: {exc.strerror or exc}", 400)

    @app.exception_handler(Exception)
    async def server_error(_request: Request, exc: Exception):
        # a bug, not bad input: answered in the same shape; Starlette re-raises it for the server log
        return error_response(f"internal error ({exc.__class__.__name__}); the server log has the details", 500)
