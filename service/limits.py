"""What the service does with bodies it cannot take: too large (413, before reading more than the
limit) or unreadable (invalid UTF-8, bad JSON: 422), each with a JSON ``detail`` that says what
was wrong, never a 500."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.exceptions import HTTPException
from fastapi.responses import JSONResponse

__all__ = ["BodyLimit", "body_error"]


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: a body over ``max_bytes`` gets a 413 with a JSON message. A declared
    ``Content-Length`` over the limit is refused before anything is read; a streamed (chunked)
    body is counted as it arrives and refused as soon as it passes the limit."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    def _response(self, length: int | None) -> JSONResponse:
        got = f" ({length:,} bytes)" if length is not None else ""
        return JSONResponse(
            {"detail": f"the request body is too large{got}: at most {self.max_bytes:,} bytes "
                       "(SCREENING_MAX_BODY_BYTES); send fewer postings per call"},
            status_code=413, headers={"Connection": "close"},
        )

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = None
        for k, v in scope.get("headers", ()):
            if k == b"content-length":
                try:
                    length = int(v)
                except ValueError:
                    length = None
        if length is not None and length > self.max_bytes:
            return await self._response(length)(scope, receive, send)
        seen = 0
        started = False

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge()
            return message

        async def watch_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watch_send)
        except _TooLarge:
            if started:
                raise
            await self._response(None)(scope, receive, send)
        except BaseExceptionGroup as eg:  # raised inside a task group: the same, unwrapped
            if eg.subgroup(_TooLarge) is None or eg.subgroup(lambda e: not isinstance(e, _TooLarge)) is not None or started:
                raise
            await self._response(None)(scope, receive, send)


def body_error(request: Request, exc: HTTPException) -> JSONResponse | None:
    """FastAPI answers a body it cannot decode with a bare 400; say what was wrong instead."""
    cause: Any = exc.__cause__
    while cause is not None and not isinstance(cause, (UnicodeDecodeError, json.JSONDecodeError, _TooLarge)):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, _TooLarge):
        raise cause
    if isinstance(cause, UnicodeDecodeError):
        return JSONResponse({"detail": [{
            "type": "body_invalid_utf8", "loc": ["body", cause.start],
            "msg": f"the body is not valid UTF-8 (byte {cause.start}: {cause.reason}); send JSON in UTF-8",
            "input": None,
        }]}, status_code=422)
    return None
