"""People log in with a password (scrypt) and get a server-side session with a CSRF
token; integrations use API tokens (Bearer). Failed logins are rate-limited."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections import deque
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import ApiToken, User, WebSession, utcnow

ROLES = ("admin", "editor", "approver", "operator")
ROLE_LABELS = {"admin": "Quản trị", "editor": "Biên tập", "approver": "Duyệt", "operator": "Vận hành"}
SESSION_HOURS = 12
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, salt_b64, digest_b64 = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt_b64), dklen=32, **_SCRYPT)
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


def check_password_rule(password: str) -> str | None:
    if len(password) < 10:
        return "mật khẩu phải có ít nhất 10 ký tự"
    return None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start_session(session: AsyncSession, user: User) -> tuple[str, str]:
    """Returns (session token for the cookie, CSRF token for forms)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    session.add(
        WebSession(
            token_hash=_token_hash(token),
            user_id=user.id,
            csrf_token=csrf,
            expires_at=utcnow() + timedelta(hours=SESSION_HOURS),
        )
    )
    await session.execute(delete(WebSession).where(WebSession.expires_at < utcnow()))
    await session.commit()
    return token, csrf


async def session_user(session: AsyncSession, token: str) -> tuple[User, str] | None:
    row = await session.get(WebSession, _token_hash(token))
    if row is None or row.expires_at < utcnow():
        return None
    user = await session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    return user, row.csrf_token


async def end_session(session: AsyncSession, token: str) -> None:
    await session.execute(delete(WebSession).where(WebSession.token_hash == _token_hash(token)))
    await session.commit()


async def create_api_token(session: AsyncSession, user: User, name: str, cap_senders: tuple[str, ...] = ()) -> str:
    """A new token; with ``cap_senders`` it may post CAP alerts only for those ``<sender>`` values."""
    token = "loa_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name, token_hash=_token_hash(token), cap_senders=" ".join(cap_senders)))
    await session.commit()
    return token


async def token_user(session: AsyncSession, token: str) -> User | None:
    row = (
        await session.execute(
            select(ApiToken).where(ApiToken.token_hash == _token_hash(token), ApiToken.revoked.is_(False))
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    user = await session.get(User, row.user_id)
    return user if user is not None and user.active else None


async def token_senders(session: AsyncSession, token: str) -> tuple[str, ...] | None:
    """The CAP senders a token is bound to; None when it is bound to none (any sender)."""
    row = (
        await session.execute(select(ApiToken.cap_senders).where(ApiToken.token_hash == _token_hash(token)))
    ).scalar_one_or_none()
    return tuple(row.split()) if row else None


class LoginLimiter:
    """At most ``limit`` failed logins per (address, username) in ``window`` seconds."""

    def __init__(self, limit: int = 5, window: float = 300.0) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        now = time.monotonic()
        while times and now - times[0] > self.window:
            times.popleft()
        return times

    def blocked(self, address: str, username: str) -> bool:
        return len(self._recent((address, username.lower()))) >= self.limit

    def failed(self, address: str, username: str) -> None:
        self._recent((address, username.lower())).append(time.monotonic())

    def succeeded(self, address: str, username: str) -> None:
        self._failures.pop((address, username.lower()), None)


async def ensure_admin(session: AsyncSession) -> str | None:
    """Create the first admin with a one-time password when there is no user yet."""
    if (await session.execute(select(User).limit(1))).scalar_one_or_none() is not None:
        return None
    password = secrets.token_urlsafe(12)
    session.add(
        User(
            username="admin",
            full_name="Quản trị viên",
            role="admin",
            password_hash=hash_password(password),
            can_skip_approval=True,
            must_change_password=True,
        )
    )
    try:
        await session.commit()
    except IntegrityError:  # another process starting at the same time created it first
        await session.rollback()
        return None
    return password
