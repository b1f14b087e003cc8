"""Request body limits, counted on the bytes actually received.

``Content-Length`` is only a promise: a chunked body has none, and a client may send more
than it announced. ``BodyLimit`` wraps ``receive`` and counts every chunk; the request is
refused with 413 as soon as the count passes the route's limit (or at once when the
announced length does), so nothing past the limit is read, parsed or spooled. Uploads
(recordings, documents) are the only routes allowed more than 1 MB, and for them the
caller's credentials are checked before the first byte of the body is read: nobody
spools megabytes for an anonymous client.

Plain ASGI: Starlette's BaseHTTPMiddleware costs about a millisecond a request, which
5,000 polling loudspeaker clusters notice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import auth

MB = 1024 * 1024
MULTIPART_SLACK = 64 * 1024  # the form's other fields and boundaries around the file


@dataclass(frozen=True)
class Limit:
    max_bytes: int  # what a person is promised (the file, the JSON document)
    field: str
    signed_in: bool = False  # credentials checked before the body is read

    @property
    def wire_bytes(self) -> int:
        return self.max_bytes + (MULTIPART_SLACK if self.signed_in else 0)


JSON = Limit(1 * MB, "body")
CAP = Limit(1 * MB, "body")
RECORDING = Limit(20 * MB, "audio", signed_in=True)  # about 20 minutes of 8 kHz 16-bit audio
DOCUMENT = Limit(10 * MB, "file", signed_in=True)
OWN_AUDIO = Limit(25 * MB, "audio", signed_in=True)  # a bulletin's own audio (gateway.bulletins.own_audio)
ROUTES: dict[tuple[str, str], Limit] = {
    ("POST", "/api/v1/alerts/cap"): CAP,
    ("POST", "/api/v1/cases/recording"): RECORDING,
    ("POST", "/cases/recording"): RECORDING,
    ("POST", "/api/v1/import/upload"): DOCUMENT,
    ("POST", "/programmes/upload"): DOCUMENT,
}


# Routes with an id in the path: (method, pattern) -> limit
PATTERNS: tuple[tuple[str, re.Pattern[str], Limit], ...] = (
    ("POST", re.compile(r"(/api/v1)?/bulletins/\d{1,12}/audio"), OWN_AUDIO),
)


def limit_for(method: str, path: str) -> Limit:
    path = path.rstrip("/") or "/"
    for verb, pattern, limit in PATTERNS:
        if verb == method and pattern.fullmatch(path):
            return limit
    return ROUTES.get((method, path), JSON)


def _errors(field: str, rule: str, message: str) -> dict[str, Any]:
    return {"errors": [{"field": field, "rule": rule, "message": message}]}


class BodyTooLarge(HTTPException):
    """Raised from ``receive``: the route's own error handling answers 413 with it."""

    def __init__(self, limit: Limit) -> None:
        message = f"nội dung gửi lên quá lớn (tối đa {limit.max_bytes // MB} MB)"
        super().__init__(413, detail=_errors(limit.field, "max_size", message))


async def signed_in(scope: Scope) -> bool:
    """Whether the request carries a valid API token or console session."""
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    bearer = headers.get("authorization", "")
    cookies = dict(part.strip().split("=", 1) for part in headers.get("cookie", "").split(";") if "=" in part)
    session_token = cookies.get("loa_session", "")
    if not bearer.lower().startswith("bearer ") and not session_token:
        return False
    async with scope["app"].state.services.sessions() as session:
        if bearer.lower().startswith("bearer "):
            return await auth.token_user(session, bearer[7:].strip()) is not None
        return await auth.session_user(session, session_token) is not None


class BodyLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope["method"], scope["path"])
        announced = next((v for k, v in scope["headers"] if k == b"content-length"), b"")
        if announced.isdigit() and int(announced) > limit.wire_bytes:
            await JSONResponse(BodyTooLarge(limit).detail, 413)(scope, receive, send)
            return
        if limit.signed_in and not await signed_in(scope):
            body = _errors("authorization", "auth", "cần đăng nhập (hoặc mã truy cập) trước khi gửi tệp")
            await JSONResponse(body, 401)(scope, receive, send)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit.wire_bytes:
                    raise BodyTooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge as exc:  # raised where no handler turned it into an answer
            if started:
                raise
            await JSONResponse(exc.detail, 413)(scope, receive, send)
