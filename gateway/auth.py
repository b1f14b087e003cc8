"""People log in with a password (scrypt) and get a server-side session with a CSRF
token; integrations use API tokens (Bearer). Failed logins are rate-limited per address
and per username. Hashing runs in a thread (scrypt takes tens of milliseconds)."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import os
import secrets
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import ApiToken, User, WebSession, utcnow

T = TypeVar("T")
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


# scrypt takes ~16 MiB and a core for ~0.1 s: a few threads of their own keep a burst of
# logins from starving the event loop's core or the memory (asyncio.to_thread's shared
# pool would run up to 32 at once).
_HASHING = ThreadPoolExecutor(max_workers=max(1, min(4, (os.cpu_count() or 2) - 1)), thread_name_prefix="loa-scrypt")


async def _off_loop(function: Callable[..., T], *args: str) -> T:
    return await asyncio.get_running_loop().run_in_executor(_HASHING, function, *args)


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


async def check_password(password: str, stored: str | None) -> bool:
    """``verify_password`` off the event loop; with no stored hash (unknown or disabled
    user) a dummy hash is checked, so the answer takes as long as for a real user."""
    if stored is None:
        await _off_loop(_dummy_hash)  # computed once, before the timed check
    ok = await _off_loop(verify_password, password, stored or _dummy_hash())
    return ok and stored is not None


async def new_hash(password: str) -> str:
    return await _off_loop(hash_password, password)


def same_token(sent: str | None, expected: str) -> bool:
    """Constant-time comparison of a CSRF token (its length aside)."""
    return sent is not None and hmac.compare_digest(sent.encode(), expected.encode())


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


async def end_everything(session: AsyncSession, user_id: int, keep_session: str | None = None) -> None:
    """Ends the user's sessions (but ``keep_session``) and revokes the user's API tokens;
    the caller commits."""
    ended = delete(WebSession).where(WebSession.user_id == user_id)
    if keep_session:
        ended = ended.where(WebSession.token_hash != _token_hash(keep_session))
    await session.execute(ended)
    await session.execute(update(ApiToken).where(ApiToken.user_id == user_id).values(revoked=True))


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
    """At most ``per_user`` failed logins for one username (from any address) and
    ``per_address`` from one address (for any username) in ``window`` seconds: guessing
    one password from many addresses, or many usernames from one address, is stopped."""

    def __init__(self, per_user: int = 5, per_address: int = 20, window: float = 300.0) -> None:
        self.per_user = per_user
        self.per_address = per_address
        self.window = window
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        times = self._failures.get(key) or deque()
        now = time.monotonic()
        while times and now - times[0] > self.window:
            times.popleft()
        if not times:
            self._failures.pop(key, None)  # forgotten, so sprayed names do not pile up
        return times

    def blocked(self, address: str, username: str) -> bool:
        return (
            len(self._recent(("user", username.lower()))) >= self.per_user
            or len(self._recent(("address", address))) >= self.per_address
        )

    def failed(self, address: str, username: str) -> None:
        for key in (("user", username.lower()), ("address", address)):
            self._failures[key] = self._recent(key)
            self._failures[key].append(time.monotonic())

    def succeeded(self, address: str, username: str) -> None:
        # The address keeps its count: one valid account must not reset a guesser's budget.
        self._failures.pop(("user", username.lower()), None)


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
            password_hash=await new_hash(password),
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
