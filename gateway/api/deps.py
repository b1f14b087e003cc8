"""Request dependencies: database session, the authenticated user, CSRF for cookie auth."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import auth
from gateway.db.models import User

SESSION_COOKIE = "loa_session"
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


async def db(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.services.sessions() as session:
        yield session


@dataclass
class Caller:
    user: User
    csrf: str | None  # None for API-token callers


def _deny(status: int, field: str, message: str) -> HTTPException:
    return HTTPException(status, detail={"errors": [{"field": field, "rule": "auth", "message": message}]})


async def caller(request: Request, session: AsyncSession = Depends(db)) -> Caller:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        user = await auth.token_user(session, header[7:].strip())
        if user is None:
            raise _deny(401, "authorization", "mã truy cập (token) không hợp lệ hoặc đã bị thu hồi")
        return Caller(user, None)
    token = request.cookies.get(SESSION_COOKIE)
    found = await auth.session_user(session, token) if token else None
    if found is None:
        raise _deny(401, "session", "cần đăng nhập")
    user, csrf = found
    if request.method in UNSAFE:
        sent = request.headers.get("x-csrf-token") or (await _form_csrf(request))
        if sent != csrf:
            raise _deny(403, "csrf_token", "thiếu hoặc sai mã chống giả mạo (CSRF)")
    return Caller(user, csrf)


async def _form_csrf(request: Request) -> str | None:
    if request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get("csrf_token")
        return value if isinstance(value, str) else None
    return None


def require_role(*roles: str):  # type: ignore[no-untyped-def]
    async def check(who: Caller = Depends(caller)) -> Caller:
        if who.user.role not in roles:
            raise _deny(403, "role", f"cần vai trò: {', '.join(auth.ROLE_LABELS[r] for r in roles)}")
        return who

    return check
