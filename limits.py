"""Bounded work per request (issue 14): request body limits, streamed file answers, finite numbers.

- ``BodyLimitMiddleware`` (plain ASGI, installed outermost by server.build_server) refuses a
  request body above its limit with 413 before the body is read: at once when Content-Length
  says so, else as soon as the streamed bytes pass the limit. Limits (store/settings.py):
  ``max_json_bytes`` for JSON, form and any other body; ``max_import_json_bytes`` for
  POST /api/v1/jobs/{id}/samples (references by the million); ``max_multipart_bytes`` for
  multipart uploads to Gradio (/gradio_api/upload streams up to 1,000 files a request to disk;
  each file is held to ``max_upload_bytes`` by Gradio itself); ``max_upload_bytes`` (+1 MiB of
  multipart framing) for a multipart body under /api/, which the API reads into memory.
- ``file_response`` sends a sample's file in chunks read as they go, whole (200) or one byte
  range (206 / 416), for /media/{id}/file and /api/v1/samples/{id}/file.
- ``require_finite`` answers 422 for a NaN or infinite query number.
"""
from __future__ import annotations

import json
import logging
import math
import re
from typing import Iterator

from fastapi import HTTPException
from starlette.responses import Response, StreamingResponse

log = logging.getLogger(__name__)

IMPORT_PATH = re.compile(r"/api/v1/jobs/[0-9]+/samples/?")
JSON_413 = b"application/json"


class BodyTooLarge(Exception):
    """Raised into the app by receive() when a streamed body passes its limit."""


def _size(n: int) -> str:
    return f"{n:,} bytes ({n / 2**20:,.1f} MiB)" if n >= 2**20 else f"{n:,} bytes"


class BodyLimitMiddleware:
    """Refuse request bodies above their limit (413, JSON {"error": {"status", "message"}})
    before reading them. See the module's docstring for the limits."""

    def __init__(self, app, settings):
        self.app = app
        self.settings = settings

    def limit_for(self, scope) -> tuple[int, str]:
        """(limit in bytes, the setting that sets it) for this request."""
        s = self.settings
        ctype = ""
        for k, v in scope.get("headers") or ():
            if k == b"content-type":
                ctype = v.decode("latin-1").lower()
                break
        if ctype.startswith("multipart/"):
            if (scope.get("path") or "").startswith("/api/"):  # API uploads are read into memory
                return s.max_upload_bytes + 2**20, "LABELPORT_MAX_UPLOAD_BYTES"
            # Gradio streams the files of an upload to disk, up to 1,000 files a request
            return max(s.max_multipart_bytes, s.max_upload_bytes + 2**20), "LABELPORT_MAX_MULTIPART_BYTES"
        if scope.get("method") == "POST" and IMPORT_PATH.fullmatch(scope.get("path") or ""):
            return max(s.max_import_json_bytes, s.max_json_bytes), "LABELPORT_MAX_IMPORT_JSON_BYTES"
        return s.max_json_bytes, "LABELPORT_MAX_JSON_BYTES"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit, setting = self.limit_for(scope)
        length = None
        for k, v in scope.get("headers") or ():
            if k == b"content-length":
                try:
                    length = int(v)
                except ValueError:
                    length = None
                break
        if length is not None:
            if length > limit:  # refused unread: the connection closes after the answer
                return await self._refuse(send, length, limit, setting)
            return await self.app(scope, receive, send)  # the server never passes more than it said

        received = 0
        state = {"over": False, "started": False, "refused": False}

        async def counting_receive():
            nonlocal received
            if state["over"]:
                raise BodyTooLarge()
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    state["over"] = True
                    raise BodyTooLarge()
            return message

        async def guarded_send(message):
            if state["over"] and not state["started"]:
                # the app answered after its body read failed (e.g. "error parsing the body"):
                # the answer is 413 instead
                if message["type"] == "http.response.start" and not state["refused"]:
                    state["refused"] = True
                    await self._refuse(send, None, limit, setting)
                return
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except BodyTooLarge:
            pass  # the 413 was sent by guarded_send already: nothing more to answer
        if state["over"] and not state["refused"] and not state["started"]:
            state["refused"] = True
            await self._refuse(send, None, limit, setting)

    @staticmethod
    async def _refuse(send, length: int | None, limit: int, setting: str) -> None:
        size = _size(length) if length is not None else "more than the limit"
        message = f"the request body is {size}; the limit is {_size(limit)} ({setting}): send less at a time"
        log.warning("refused a request body: %s", message)
        body = json.dumps({"error": {"status": 413, "message": message}}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", JSON_413), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


# -- files ---------------------------------------------------------------------------------------

def byte_range(header: str | None, size: int) -> tuple[int, int] | None | bool:
    """A single ``Range: bytes=a-b`` (or ``a-``, ``-n``) as [first, last], inclusive; None when
    there is no usable header (the whole file is sent); False when it cannot be satisfied."""
    m = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header or "")
    if not m or not (m.group(1) or m.group(2)):
        return None
    if m.group(1):
        first = int(m.group(1))
        last = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    else:
        first, last = max(0, size - int(m.group(2))), size - 1
    if first >= size or last < first:
        return False
    return first, last


def file_response(file, media_type: str, range_header: str | None, headers: dict | None = None) -> Response:
    """A sample's file (store.media.SampleFile) streamed in chunks as storage yields them: the
    whole file (200), or the one range asked (206 with Content-Range; 416 when it lies past the
    end). Browsers seek in <audio>/<video> only when the server serves ranges."""
    size = file.size
    base = {"Accept-Ranges": "bytes", **(headers or {})}
    rng = byte_range(range_header, size)
    if rng is False:
        return Response(status_code=416, headers={**base, "Content-Range": f"bytes */{size}"})
    if rng is None:
        body: Iterator[bytes] = file.chunks(0, size)
        return StreamingResponse(body, media_type=media_type, headers={**base, "Content-Length": str(size)})
    first, last = rng
    body = file.chunks(first, last + 1)
    return StreamingResponse(body, status_code=206, media_type=media_type,
                             headers={**base, "Content-Length": str(last - first + 1),
                                      "Content-Range": f"bytes {first}-{last}/{size}"})


def require_finite(**values: float | None) -> None:
    """422 for a query number that is NaN or infinite (FastAPI's float accepts both)."""
    for name, v in values.items():
        if v is not None and not math.isfinite(v):
            raise HTTPException(422, f"{name} must be a finite number, got {v}")
