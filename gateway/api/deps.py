"""Request dependencies: database session, the authenticated user, CSRF for cookie auth,
and who the client is behind the configured reverse proxies."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import auth
from gateway.db.models import User

SESSION_COOKIE = "loa_session"
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
# What a user with the first start's one-time password may still do: change it.
BEFORE_PASSWORD_CHANGE = ("/api/v1/me", "/api/v1/me/password", "/api/v1/auth/logout")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.cache
def _networks(spec: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(part, strict=False) for part in spec)


def _trusted(address: str, spec: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(spec))


def client_address(request: Request) -> str:
    """The peer's address; behind a proxy listed in ``trusted_proxies``, the nearest
    address in X-Forwarded-For that is not one of those proxies. Anyone else's
    X-Forwarded-For is ignored (it is the sender's to forge)."""
    spec = request.app.state.services.settings.trusted_proxies
    peer = request.client.host if request.client else "?"
    if not _trusted(peer, spec):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getlist("x-forwarded-for")).split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, spec):
            return hop
    return hops[0] if hops else peer


def is_https(request: Request) -> bool:
    """Served over HTTPS: the request's own scheme, X-Forwarded-Proto from a trusted
    proxy, or ``secure_cookies = "always"``."""
    settings = request.app.state.services.settings
    if settings.secure_cookies == "always" or request.url.scheme == "https":
        return True
    peer = request.client.host if request.client else ""
    proto = request.headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower()
    return proto == "https" and _trusted(peer, settings.trusted_proxies)


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
        return _changed_password(request, Caller(user, None))
    token = request.cookies.get(SESSION_COOKIE)
    found = await auth.session_user(session, token) if token else None
    if found is None:
        raise _deny(401, "session", "cần đăng nhập")
    user, csrf = found
    if request.method in UNSAFE:
        sent = request.headers.get("x-csrf-token") or (await _form_csrf(request))
        if not auth.same_token(sent, csrf):
            raise _deny(403, "csrf_token", "thiếu hoặc sai mã chống giả mạo (CSRF)")
    return _changed_password(request, Caller(user, csrf))


def _changed_password(request: Request, who: Caller) -> Caller:
    if who.user.must_change_password and request.url.path not in BEFORE_PASSWORD_CHANGE:
        message = "hãy đổi mật khẩu dùng một lần trước (POST /api/v1/me/password)"
        raise _deny(403, "must_change_password", message)
    return who


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
