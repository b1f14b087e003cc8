"""People and places: logging in, users, areas and passwords.

The REST API and the console both call these, so a rule (the login rate limit, who may
add users, the password rule, unique names) lives in one place. Errors name the field
and the rule.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import auth
from gateway.bulletins.errors import WorkflowError
from gateway.bulletins.service import audit
from gateway.db.models import ApiToken, Area, User

AREA_LEVELS = ("province", "commune", "village")


async def authenticate(
    session: AsyncSession, limiter: auth.LoginLimiter, address: str, username: str, password: str
) -> User:
    """The active user with this password, counting failures against the rate limit."""
    if limiter.blocked(address, username):
        raise WorkflowError("username", "đăng nhập sai quá nhiều lần, hãy thử lại sau 5 phút", 429, "rate_limit")
    user = (await session.execute(select(User).where(User.username == username))).scalar_one_or_none()
    stored = user.password_hash if user is not None and user.active else None
    if not await auth.check_password(password, stored) or user is None:
        limiter.failed(address, username)
        raise WorkflowError("password", "sai tên đăng nhập hoặc mật khẩu", 401, "invalid_credentials")
    limiter.succeeded(address, username)
    return user


async def create_user(
    session: AsyncSession,
    actor: User,
    username: str,
    full_name: str,
    role: str,
    password: str,
    can_skip_approval: bool,
) -> User:
    if actor.role != "admin":
        raise WorkflowError("role", "chỉ quản trị được thêm người dùng", 403)
    if role not in auth.ROLES:
        raise WorkflowError("role", "vai trò không hợp lệ", 422)
    if problem := auth.check_password_rule(password):
        raise WorkflowError("password", problem, 422)
    user = User(
        username=username,
        full_name=full_name,
        role=role,
        password_hash=await auth.new_hash(password),
        can_skip_approval=can_skip_approval,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        raise WorkflowError("username", f"tên đăng nhập '{username}' đã có", 409, "unique") from exc
    await audit(session, actor.username, "create", "user", user.id, role=role)
    await session.commit()
    return user


async def create_area(session: AsyncSession, actor: User, code: str, name: str, level: str, parent: str | None) -> Area:
    if actor.role != "admin":
        raise WorkflowError("role", "chỉ quản trị được thêm địa bàn", 403)
    code, name = code.strip(), name.strip()
    if not code or not name:
        raise WorkflowError("code", "cần mã và tên địa bàn", 422)
    if level not in AREA_LEVELS:
        raise WorkflowError("level", "cấp phải là tỉnh, xã/phường hoặc thôn/cụm", 422)
    parent_id = None
    if parent:
        found = (await session.execute(select(Area).where(Area.code == parent))).scalar_one_or_none()
        if found is None:
            raise WorkflowError("parent", f"không có địa bàn mã '{parent}'", 422, "exists")
        parent_id = found.id
    area = Area(code=code, name=name, level=level, parent_id=parent_id)
    session.add(area)
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        raise WorkflowError("code", f"mã địa bàn '{code}' đã có", 409, "unique") from exc
    await audit(session, actor.username, "create", "area", code)
    await session.commit()
    return area


async def change_password(
    session: AsyncSession, user_id: int, current: str, new: str, keep_session: str | None = None
) -> None:
    """Ends every other session of the user and revokes the user's API tokens."""
    user = await session.get(User, user_id)
    if user is None:
        raise WorkflowError("user", "không có người dùng này", 404)
    if not await auth.check_password(current, user.password_hash):
        raise WorkflowError("current_password", "mật khẩu hiện tại không đúng", 403, "invalid_credentials")
    if problem := auth.check_password_rule(new):
        raise WorkflowError("new_password", problem, 422)
    user.password_hash = await auth.new_hash(new)
    user.must_change_password = False
    await auth.end_everything(session, user.id, keep_session)
    await audit(session, user.username, "change_password", "user", user.id)
    await session.commit()


async def update_user(
    session: AsyncSession,
    actor: User,
    user_id: int,
    role: str | None = None,
    active: bool | None = None,
    can_skip_approval: bool | None = None,
) -> User:
    """An admin changes someone's role or disables them (which ends their sessions and
    revokes their tokens); nobody changes their own role or disables themselves."""
    if actor.role != "admin":
        raise WorkflowError("role", "chỉ quản trị được sửa người dùng", 403)
    user = await session.get(User, user_id)
    if user is None:
        raise WorkflowError("id", f"không có người dùng số {user_id}", 404)
    if user.id == actor.id and (role not in (None, user.role) or active is False):
        field = "active" if active is False else "role"
        raise WorkflowError(field, "không tự khóa hay tự đổi vai trò của chính mình", 422)
    if role is not None and role not in auth.ROLES:
        raise WorkflowError("role", "vai trò không hợp lệ", 422)
    changes: dict[str, Any] = {}
    for name, value in (("role", role), ("active", active), ("can_skip_approval", can_skip_approval)):
        if value is not None and value != getattr(user, name):
            setattr(user, name, value)
            changes[name] = value
    if active is False:  # a role change needs nothing ended: each request reads the role afresh
        await auth.end_everything(session, user.id)
    await audit(session, actor.username, "update", "user", user.id, **changes)
    await session.commit()
    return user


async def tokens(session: AsyncSession, actor: User) -> list[tuple[ApiToken, str]]:
    """(token, owner's username): one's own, or everyone's for an admin."""
    query = select(ApiToken, User.username).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id)
    if actor.role != "admin":
        query = query.where(ApiToken.user_id == actor.id)
    return [(t, name) for t, name in (await session.execute(query)).all()]


async def revoke_token(session: AsyncSession, actor: User, token_id: int) -> None:
    token = await session.get(ApiToken, token_id)
    if token is None or (token.user_id != actor.id and actor.role != "admin"):
        raise WorkflowError("id", f"không có mã truy cập số {token_id}", 404)
    token.revoked = True
    await audit(session, actor.username, "revoke", "api_token", token.id, name=token.name)
    await session.commit()
