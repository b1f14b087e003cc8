"""Console pages for administration (users, areas) and one's own account."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import accounts
from gateway.api.deps import SESSION_COOKIE, db
from gateway.bulletins import service
from gateway.bulletins.errors import WorkflowError
from gateway.console.common import back, check_csrf, failed, page, who
from gateway.console.labels import LEVEL_ORDER
from gateway.db.models import Area, User
from gateway.vietnamese import fold
from tts.text.explain import CLASSES as READ_CLASSES

router = APIRouter(include_in_schema=False)


async def area_list(session: AsyncSession) -> list[Area]:
    """Every area as a tree read top-down: each province, then its communes, each followed
    by its villages; siblings by name (not by code, which put villages above provinces)."""
    areas = list((await session.execute(select(Area))).scalars())
    known = {a.id for a in areas}
    children: dict[int | None, list[Area]] = {}
    for area in areas:
        children.setdefault(area.parent_id if area.parent_id in known else None, []).append(area)
    ordered: list[Area] = []

    def walk(parent: int | None) -> None:
        kids = children.get(parent, [])
        for area in sorted(kids, key=lambda a: (LEVEL_ORDER.get(a.level, 9), fold(a.name), a.name, a.code)):
            ordered.append(area)
            walk(area.id)

    walk(None)
    return ordered


@router.get("/admin", response_class=HTMLResponse)
async def admin_page(request: Request, error: str = "", session: AsyncSession = Depends(db)) -> Response:
    user, csrf = await who(request, session)
    users = (await session.execute(select(User).order_by(User.username))).scalars().all()
    return page(
        request,
        "admin.html",
        user=user,
        csrf=csrf,
        users=users,
        areas=await area_list(session),
        error=error,
        pronunciations=request.app.state.services.renderer.pronunciations.load(),
        read_classes=sorted(READ_CLASSES),
    )


@router.post("/admin/users")
async def admin_user(
    request: Request,
    session: AsyncSession = Depends(db),
    username: str = Form(""),
    full_name: str = Form(""),
    role: str = Form(""),  # chosen explicitly: no default role
    password: str = Form(""),
    can_skip_approval: bool = Form(False),
    csrf_token: str = Form(""),
) -> Response:
    user, csrf = await who(request, session)
    try:
        check_csrf(csrf, csrf_token)
        if not role:
            raise WorkflowError("role", "hãy chọn vai trò cho người dùng mới", 422)
        if len(username) < 3 or not username.replace("_", "").replace(".", "").isalnum():
            raise WorkflowError("username", "tên đăng nhập cần ít nhất 3 ký tự chữ/số", 422)
        await accounts.create_user(session, user, username, full_name, role, password, can_skip_approval)
    except WorkflowError as exc:
        return failed("/admin", exc)
    return back("/admin")


@router.post("/admin/users/{user_id}")
async def admin_user_change(
    user_id: int,
    request: Request,
    session: AsyncSession = Depends(db),
    role: str = Form(""),
    active: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    """Change a user's role, or disable (ends their sessions, revokes their tokens) and enable."""
    user, csrf = await who(request, session)
    try:
        check_csrf(csrf, csrf_token)
        enabled = {"1": True, "0": False}.get(active)
        await accounts.update_user(session, user, user_id, role or None, enabled)
    except WorkflowError as exc:
        return back("/admin", f"{exc.field}: {exc.message}")
    return back("/admin")


@router.post("/admin/areas")
async def admin_area(
    request: Request,
    session: AsyncSession = Depends(db),
    code: str = Form(""),
    name: str = Form(""),
    level: str = Form("commune"),
    parent: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    user, csrf = await who(request, session)
    try:
        check_csrf(csrf, csrf_token)
        await accounts.create_area(session, user, code, name, level, parent or None)
    except WorkflowError as exc:
        return failed("/admin", exc)
    return back("/admin")


@router.get("/account", response_class=HTMLResponse)
async def account_page(
    request: Request, error: str = "", done: str = "", session: AsyncSession = Depends(db)
) -> Response:
    user, csrf = await who(request, session)
    tokens = [t for t, _ in await accounts.tokens(session, user) if t.user_id == user.id]
    return page(request, "account.html", user=user, csrf=csrf, error=error, done=done, tokens=tokens)


@router.post("/account/tokens/{token_id}/revoke")
async def account_token_revoke(
    token_id: int, request: Request, session: AsyncSession = Depends(db), csrf_token: str = Form("")
) -> Response:
    user, csrf = await who(request, session)
    try:
        check_csrf(csrf, csrf_token)
        await accounts.revoke_token(session, user, token_id)
    except WorkflowError as exc:
        return back("/account", f"{exc.field}: {exc.message}")
    return back("/account")


@router.post("/account")
async def account_password(
    request: Request,
    session: AsyncSession = Depends(db),
    current_password: str = Form(""),
    new_password: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    user, csrf = await who(request, session)
    try:
        check_csrf(csrf, csrf_token)
        keep = request.cookies.get(SESSION_COOKIE)
        await accounts.change_password(session, user.id, current_password, new_password, keep)
    except WorkflowError as exc:
        return failed("/account", exc)
    return RedirectResponse("/account?done=1", status_code=303)


@router.post("/admin/pronunciations")
async def admin_pronunciation(
    request: Request,
    session: AsyncSession = Depends(db),
    written: str = Form(""),
    spoken: str = Form(""),
    only_class: str = Form(""),
    remove: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    user, csrf = await who(request, session)
    store = request.app.state.services.renderer.pronunciations
    try:
        check_csrf(csrf, csrf_token)
        if user.role not in ("admin", "editor", "approver"):
            raise WorkflowError("role", "tài khoản không được sửa cách đọc", 403)
        if remove:
            store.remove(remove)
            await service.audit(session, user.username, "pronunciation_remove", "word", remove)
        else:
            store.put(written, spoken, only_class.strip() or None)
            await service.audit(session, user.username, "pronunciation", "word", written, spoken=spoken)
        await session.commit()
    except WorkflowError as exc:
        return failed("/admin", exc)
    return back("/admin")
