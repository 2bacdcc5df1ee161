"""Store errors as JSON with the right status; never a 500 for bad input."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from store.errors import Conflict, NotFound, StorageError, StoreError

log = logging.getLogger(__name__)


class Forbidden(StoreError):
    pass


STATUS = [(NotFound, 404), (Conflict, 409), (Forbidden, 403), (StorageError, 502), (StoreError, 400)]


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


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StoreError)
    async def store_error(_request: Request, exc: StoreError):
        code = status_for(exc)
        return JSONResponse(error_body(str(exc), code), status_code=code)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, exc: RequestValidationError):
        details = [{"loc": list(e.get("loc", [])), "msg": e.get("msg", "")} for e in exc.errors()]
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(x) for x in first["loc"][1:]) or "request"
        return JSONResponse(error_body(f"{where}: {first['msg']}", 400, details), status_code=400)

    @app.exception_handler(OSError)
    async def os_error(_request: Request, exc: OSError):
        return JSONResponse(error_body(f"file error: {exc.strerror or exc}", 400), status_code=400)
