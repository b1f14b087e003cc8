"""/api/v1 login, users, areas, API tokens and the audit log."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import accounts, auth
from gateway.api.deps import SESSION_COOKIE, Caller, caller, client_address, db, is_https, require_role
from gateway.api.schemas import AreaIn, LoginIn, PasswordIn, PronunciationIn, TokenIn, UserIn, UserPatch
from gateway.bulletins.service import audit
from gateway.db.models import Area, AuditLog, User
from gateway.phones import hides_numbers, mask_all

router = APIRouter(prefix="/api/v1", tags=["admin"])


@router.post("/auth/login")
async def login(data: LoginIn, request: Request, response: Response, session: AsyncSession = Depends(db)) -> object:
    address = client_address(request)
    user = await accounts.authenticate(
        session, request.app.state.services.login_limiter, address, data.username, data.password
    )
    token, csrf = await auth.start_session(session, user)
    await audit(session, user.username, "login", "user", user.id, address=address)
    await session.commit()
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=is_https(request),
        max_age=auth.SESSION_HOURS * 3600,
    )
    return {
        "csrf_token": csrf,
        "user": {
            "id": user.id,
            "username": user.username,
            "role": user.role,
            "must_change_password": user.must_change_password,
        },
    }


@router.post("/auth/logout")
async def logout(
    request: Request, response: Response, session: AsyncSession = Depends(db), who: Caller = Depends(caller)
) -> dict[str, bool]:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await auth.end_session(session, token)
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict", secure=is_https(request))
    return {"ok": True}


@router.get("/me")
async def me(who: Caller = Depends(caller)) -> dict[str, object]:
    return {"id": who.user.id, "username": who.user.username, "role": who.user.role, "csrf_token": who.csrf}


@router.post("/me/password")
async def change_password(
    data: PasswordIn, request: Request, session: AsyncSession = Depends(db), who: Caller = Depends(caller)
) -> object:
    """Ends the user's other sessions and revokes the user's API tokens."""
    keep = request.cookies.get(SESSION_COOKIE) if who.csrf is not None else None
    await accounts.change_password(session, who.user.id, data.current_password, data.new_password, keep)
    return {"ok": True}


@router.get("/users")
async def list_users(
    session: AsyncSession = Depends(db), who: Caller = Depends(require_role("admin"))
) -> list[dict[str, object]]:
    users = (await session.execute(select(User).order_by(User.username))).scalars()
    return [_user(u) for u in users]


def _user(u: User) -> dict[str, object]:
    return {
        "id": u.id,
        "username": u.username,
        "full_name": u.full_name,
        "role": u.role,
        "active": u.active,
        "can_skip_approval": u.can_skip_approval,
    }


@router.patch("/users/{user_id}")
async def update_user(
    user_id: int, data: UserPatch, session: AsyncSession = Depends(db), who: Caller = Depends(require_role("admin"))
) -> dict[str, object]:
    """Change a role, allow emergencies, or disable (ends sessions, revokes tokens)."""
    user = await accounts.update_user(session, who.user, user_id, data.role, data.active, data.can_skip_approval)
    return _user(user)


@router.post("/users", status_code=201)
async def create_user(
    data: UserIn, session: AsyncSession = Depends(db), who: Caller = Depends(require_role("admin"))
) -> object:
    user = await accounts.create_user(
        session, who.user, data.username, data.full_name, data.role, data.password, data.can_skip_approval
    )
    return {"id": user.id, "username": user.username, "role": user.role}


@router.post("/tokens", status_code=201)
async def create_token(
    data: TokenIn, session: AsyncSession = Depends(db), who: Caller = Depends(caller)
) -> dict[str, str]:
    senders = tuple(s.strip() for s in data.cap_senders if s.strip())
    token = await auth.create_api_token(session, who.user, data.name, senders)
    await audit(session, who.user.username, "create", "api_token", data.name, cap_senders=list(senders))
    await session.commit()
    return {"token": token}


@router.get("/tokens")
async def list_tokens(session: AsyncSession = Depends(db), who: Caller = Depends(caller)) -> list[dict[str, object]]:
    """One's own API tokens (an admin: everyone's), never their secret."""
    return [
        {"id": t.id, "name": t.name, "username": owner, "created_at": t.created_at.isoformat(), "revoked": t.revoked}
        for t, owner in await accounts.tokens(session, who.user)
    ]


@router.delete("/tokens/{token_id}")
async def revoke_token(
    token_id: int, session: AsyncSession = Depends(db), who: Caller = Depends(caller)
) -> dict[str, bool]:
    await accounts.revoke_token(session, who.user, token_id)
    return {"ok": True}


@router.get("/areas")
async def list_areas(session: AsyncSession = Depends(db), who: Caller = Depends(caller)) -> list[dict[str, object]]:
    areas = (await session.execute(select(Area).order_by(Area.code))).scalars()
    return [{"id": a.id, "code": a.code, "name": a.name, "level": a.level, "parent_id": a.parent_id} for a in areas]


@router.post("/areas", status_code=201)
async def create_area(
    data: AreaIn, session: AsyncSession = Depends(db), who: Caller = Depends(require_role("admin"))
) -> object:
    area = await accounts.create_area(session, who.user, data.code, data.name, data.level, data.parent)
    return JSONResponse({"id": area.id, "code": area.code}, status_code=201)


@router.get("/audit")
async def audit_log(
    limit: int = 200,
    session: AsyncSession = Depends(db),
    who: Caller = Depends(require_role("admin", "approver", "operator")),
) -> list[dict[str, object]]:
    rows = (await session.execute(select(AuditLog).order_by(AuditLog.id.desc()).limit(min(limit, 1000)))).scalars()
    shown = mask_all if hides_numbers(who.user.role) else (lambda value: value)
    return [
        {
            "at": r.at.isoformat(),
            "actor": shown(r.actor),
            "action": r.action,
            "entity": r.entity,
            "entity_id": shown(r.entity_id),
            "detail": shown(r.detail),
        }
        for r in rows
    ]


@router.get("/pronunciations")
async def list_pronunciations(request: Request, who: Caller = Depends(caller)) -> dict[str, str]:
    return request.app.state.services.renderer.pronunciations.load()  # type: ignore[no-any-return]


@router.put("/pronunciations")
async def put_pronunciation(
    data: PronunciationIn,
    request: Request,
    session: AsyncSession = Depends(db),
    who: Caller = Depends(require_role("admin", "editor", "approver")),
) -> dict[str, str]:
    entries = request.app.state.services.renderer.pronunciations.put(data.written, data.spoken, data.only_class)
    await audit(session, who.user.username, "pronunciation", "word", data.written, spoken=data.spoken)
    await session.commit()
    return entries  # type: ignore[no-any-return]
