"""/api/v1 login, users, areas, API tokens and the audit log."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import accounts, auth
from gateway.api.deps import SESSION_COOKIE, Caller, caller, db, require_role
from gateway.api.schemas import AreaIn, LoginIn, PasswordIn, PronunciationIn, TokenIn, UserIn
from gateway.bulletins.service import audit
from gateway.db.models import Area, AuditLog, User

router = APIRouter(prefix="/api/v1", tags=["admin"])


@router.post("/auth/login")
async def login(data: LoginIn, request: Request, response: Response, session: AsyncSession = Depends(db)) -> object:
    address = request.client.host if request.client else "?"
    user = await accounts.authenticate(
        session, request.app.state.services.login_limiter, address, data.username, data.password
    )
    token, csrf = await auth.start_session(session, user)
    await audit(session, user.username, "login", "user", user.id)
    await session.commit()
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", max_age=auth.SESSION_HOURS * 3600)
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
    response.delete_cookie(SESSION_COOKIE)
    return {"ok": True}


@router.get("/me")
async def me(who: Caller = Depends(caller)) -> dict[str, object]:
    return {"id": who.user.id, "username": who.user.username, "role": who.user.role, "csrf_token": who.csrf}


@router.post("/me/password")
async def change_password(
    data: PasswordIn, session: AsyncSession = Depends(db), who: Caller = Depends(caller)
) -> object:
    await accounts.change_password(session, who.user.id, data.current_password, data.new_password)
    return {"ok": True}


@router.get("/users")
async def list_users(
    session: AsyncSession = Depends(db), who: Caller = Depends(require_role("admin"))
) -> list[dict[str, object]]:
    users = (await session.execute(select(User).order_by(User.username))).scalars()
    return [
        {
            "id": u.id,
            "username": u.username,
            "full_name": u.full_name,
            "role": u.role,
            "active": u.active,
            "can_skip_approval": u.can_skip_approval,
        }
        for u in users
    ]


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
    return [
        {
            "at": r.at.isoformat(),
            "actor": r.actor,
            "action": r.action,
            "entity": r.entity,
            "entity_id": r.entity_id,
            "detail": r.detail,
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
