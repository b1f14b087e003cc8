"""Console pages for administration (users, areas) and one's own account."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import auth
from gateway.api.deps import db
from gateway.bulletins import service
from gateway.bulletins.errors import WorkflowError
from gateway.console.common import back, check_csrf, page, who
from gateway.db.models import Area, User

router = APIRouter(include_in_schema=False)


async def area_list(session: AsyncSession) -> list[Area]:
    return list((await session.execute(select(Area).order_by(Area.code))).scalars())


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
    )


@router.post("/admin/users")
async def admin_user(
    request: Request,
    session: AsyncSession = Depends(db),
    username: str = Form(""),
    full_name: str = Form(""),
    role: str = Form("editor"),
    password: str = Form(""),
    can_skip_approval: bool = Form(False),
    csrf_token: str = Form(""),
) -> Response:
    user, csrf = await who(request, session)
    try:
        check_csrf(csrf, csrf_token)
        if user.role != "admin":
            raise WorkflowError("role", "chỉ quản trị được thêm người dùng", 403)
        if role not in auth.ROLES:
            raise WorkflowError("role", "vai trò không hợp lệ", 422)
        if len(username) < 3 or not username.replace("_", "").replace(".", "").isalnum():
            raise WorkflowError("username", "tên đăng nhập cần ít nhất 3 ký tự chữ/số", 422)
        if problem := auth.check_password_rule(password):
            raise WorkflowError("password", problem, 422)
        if (await session.execute(select(User).where(User.username == username))).scalar_one_or_none():
            raise WorkflowError("username", f"tên đăng nhập '{username}' đã có", 409)
        session.add(
            User(
                username=username,
                full_name=full_name,
                role=role,
                password_hash=auth.hash_password(password),
                can_skip_approval=can_skip_approval,
            )
        )
        await service.audit(session, user.username, "create", "user", username, role=role)
        await session.commit()
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
        if user.role != "admin":
            raise WorkflowError("role", "chỉ quản trị được thêm địa bàn", 403)
        if not code.strip() or not name.strip():
            raise WorkflowError("code", "cần mã và tên địa bàn", 422)
        if level not in ("province", "commune", "village"):
            raise WorkflowError("level", "cấp phải là tỉnh, xã/phường hoặc thôn/cụm", 422)
        parent_id = None
        if parent:
            found = (await session.execute(select(Area).where(Area.code == parent))).scalar_one_or_none()
            if found is None:
                raise WorkflowError("parent", f"không có địa bàn mã '{parent}'", 422)
            parent_id = found.id
        if (await session.execute(select(Area).where(Area.code == code.strip()))).scalar_one_or_none():
            raise WorkflowError("code", f"mã địa bàn '{code}' đã có", 409)
        session.add(Area(code=code.strip(), name=name.strip(), level=level, parent_id=parent_id))
        await service.audit(session, user.username, "create", "area", code)
        await session.commit()
    except WorkflowError as exc:
        return back("/admin", f"{exc.field}: {exc.message}")
    return back("/admin")


@router.get("/account", response_class=HTMLResponse)
async def account_page(
    request: Request, error: str = "", done: str = "", session: AsyncSession = Depends(db)
) -> Response:
    user, csrf = await who(request, session)
    return page(request, "account.html", user=user, csrf=csrf, error=error, done=done)


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
        if not auth.verify_password(current_password, user.password_hash):
            raise WorkflowError("current_password", "mật khẩu hiện tại không đúng", 403)
        if problem := auth.check_password_rule(new_password):
            raise WorkflowError("new_password", problem, 422)
        user.password_hash = auth.hash_password(new_password)
        user.must_change_password = False
        await service.audit(session, user.username, "change_password", "user", user.id)
        await session.commit()
    except WorkflowError as exc:
        return back("/account", f"{exc.field}: {exc.message}")
    return RedirectResponse("/account?done=1", status_code=303)


@router.post("/admin/pronunciations")
async def admin_pronunciation(
    request: Request,
    session: AsyncSession = Depends(db),
    written: str = Form(""),
    spoken: str = Form(""),
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
            store.put(written, spoken)
            await service.audit(session, user.username, "pronunciation", "word", written, spoken=spoken)
        await session.commit()
    except WorkflowError as exc:
        return back("/admin", f"{exc.field}: {exc.message}")
    return back("/admin")
