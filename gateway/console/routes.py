"""The Vietnamese web console: pages rendered on the server, forms with CSRF tokens.

Handlers call the same service layer as the REST API; errors are shown on the page
with the field and the rule.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import accounts, auth
from gateway.api.deps import SESSION_COOKIE, client_address, db, is_https
from gateway.bulletins import service
from gateway.bulletins.errors import WorkflowError
from gateway.bulletins.schedule import LOCAL
from gateway.console.admin_pages import area_list
from gateway.console.common import NotLoggedIn, back, check_csrf, page, who
from gateway.console.on_air_pages import on_air_context
from gateway.db.models import AuditLog, Bulletin, Delivery, Render, utcnow
from gateway.delivery import ledger
from gateway.programmes.importer import removed_of
from gateway.sms import recipients
from gateway.sms import replay as sms_replay

__all__ = ["NotLoggedIn", "router"]

router = APIRouter(include_in_schema=False)


LOGIN_COOKIE = "loa_login_csrf"  # double-submit token: a cross-site page cannot log a browser in


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, error: str = "") -> HTMLResponse:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = page(request, "login.html", error=error, csrf=token)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=is_https(request), max_age=3600)
    return response


@router.post("/login")
async def login_form(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    csrf_token: str = Form(""),
    session: AsyncSession = Depends(db),
) -> Response:
    address = client_address(request)
    expected = request.cookies.get(LOGIN_COOKIE)
    if not expected or not auth.same_token(csrf_token, expected):
        return back("/login", "Trang đăng nhập đã hết hạn (mã chống giả mạo CSRF), hãy đăng nhập lại.")
    try:
        user = await accounts.authenticate(
            session, request.app.state.services.login_limiter, address, username.strip(), password
        )
    except WorkflowError as exc:
        return back("/login", exc.message[:1].upper() + exc.message[1:] + ".")
    token, _ = await auth.start_session(session, user)
    await service.audit(session, user.username, "login", "user", user.id, address=address)
    await session.commit()
    response = RedirectResponse("/", status_code=303)
    secure = is_https(request)
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="strict", secure=secure, max_age=auth.SESSION_HOURS * 3600
    )
    response.delete_cookie(LOGIN_COOKIE, httponly=True, samesite="strict", secure=secure)
    return response


@router.post("/logout")
async def logout(request: Request, csrf_token: str = Form(""), session: AsyncSession = Depends(db)) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    found = await auth.session_user(session, token) if token else None
    if found is not None and not auth.same_token(csrf_token, found[1]):
        return back("/", "Phiên làm việc đã hết hạn (mã chống giả mạo CSRF), hãy tải lại trang rồi đăng xuất.")
    if token:
        await auth.end_session(session, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict", secure=is_https(request))
    return response


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, status: str = "", session: AsyncSession = Depends(db)) -> Response:
    user, csrf = await who(request, session)
    query = select(Bulletin).where(Bulletin.source != "reply").order_by(Bulletin.id.desc()).limit(100)
    if status:
        query = query.where(Bulletin.status == status)
    bulletins = (await session.execute(query)).scalars().all()
    since = utcnow() - timedelta(days=14)
    per_day = (
        await session.execute(
            select(func.date(Delivery.updated_at), Delivery.state, func.count())
            .where(Delivery.updated_at >= since)
            .group_by(func.date(Delivery.updated_at), Delivery.state)
        )
    ).all()
    return page(
        request, "home.html", user=user, csrf=csrf, bulletins=bulletins, status=status, chart=_chart(list(per_day))
    )


def _chart(rows: list[Any]) -> list[dict[str, Any]]:
    days: dict[str, dict[str, int]] = {}
    for day, state, n in rows:
        days.setdefault(str(day), {})[state] = n
    top = max((sum(v.values()) for v in days.values()), default=1) or 1
    return [
        {
            "day": d[5:],
            "delivered": v.get("delivered", 0),
            "other": sum(v.values()) - v.get("delivered", 0),
            "scale": 120 / top,
        }
        for d, v in sorted(days.items())
    ]


def _form_input(
    title: str, body: str, sms_text: str, priority: str, voice: str, targets: list[str]
) -> service.BulletinInput:
    if len(title.strip()) < 3:
        raise WorkflowError("title", "tiêu đề cần ít nhất 3 ký tự", 422)
    if not body.strip():
        raise WorkflowError("body", "nội dung không được để trống", 422)
    if priority not in service.PRIORITIES:
        raise WorkflowError("priority", "mức độ phải là thường, ưu tiên hoặc khẩn cấp", 422)
    pairs = tuple(tuple(t.split(":", 1)) for t in targets if ":" in t)
    return service.BulletinInput(title.strip(), body.strip(), sms_text.strip(), priority, voice or "vi-espeak", pairs)  # type: ignore[arg-type]


@router.get("/bulletins/new", response_class=HTMLResponse)
async def new_bulletin(request: Request, error: str = "", session: AsyncSession = Depends(db)) -> Response:
    user, csrf = await who(request, session)
    return page(
        request,
        "edit.html",
        user=user,
        csrf=csrf,
        bulletin=None,
        areas=await area_list(session),
        chosen=set(),
        error=error,
        channels=service.CHANNELS,
    )


async def bulletin_form(
    title: str = Form(""),
    body: str = Form(""),
    sms_text: str = Form(""),
    priority: str = Form("normal"),
    voice: str = Form("vi-espeak"),
    targets: list[str] = Form([]),
    csrf_token: str = Form(""),
) -> tuple[service.BulletinInput | WorkflowError, str]:
    """The editor form, validated into a service input (or the error to show), and its CSRF token."""
    try:
        return _form_input(title, body, sms_text, priority, voice, targets), csrf_token
    except WorkflowError as exc:
        return exc, csrf_token


FormData = tuple[service.BulletinInput | WorkflowError, str]


@router.post("/bulletins/new")
async def create_bulletin(
    request: Request, session: AsyncSession = Depends(db), form: FormData = Depends(bulletin_form)
) -> Response:
    user, csrf = await who(request, session)
    data, csrf_token = form
    try:
        check_csrf(csrf, csrf_token)
        if isinstance(data, WorkflowError):
            raise data
        bulletin = await service.create(session, user, data)
    except WorkflowError as exc:
        return back("/bulletins/new", f"{exc.field}: {exc.message}")
    return back(f"/bulletins/{bulletin.id}")


@router.get("/bulletins/{bulletin_id}", response_class=HTMLResponse)
async def view_bulletin(
    bulletin_id: int, request: Request, error: str = "", session: AsyncSession = Depends(db)
) -> Response:
    user, csrf = await who(request, session)
    bulletin = await service.get(session, bulletin_id)
    targets = await service.targets_of(session, bulletin.id)
    chosen = {f"{c}:{a}" for c, _, a in targets}
    sms_areas = [code for channel, _, code in targets if channel == "sms"]
    sms_cost = await recipients.preview(session, bulletin.sms_text or bulletin.title, sms_areas) if sms_areas else None
    renders = (
        (
            await session.execute(
                select(Render).where(Render.bulletin_id == bulletin.id, Render.version == bulletin.version)
            )
        )
        .scalars()
        .all()
    )
    rows = (
        (await session.execute(select(Delivery).where(Delivery.bulletin_id == bulletin.id).order_by(Delivery.id)))
        .scalars()
        .all()
    )
    progress = request.app.state.services.renderer.progress.values.get(bulletin.id)
    return page(
        request,
        "bulletin.html",
        user=user,
        csrf=csrf,
        b=bulletin,
        chosen=chosen,
        sms_cost=sms_cost,
        areas=await area_list(session),
        renders={r.purpose: r for r in renders},
        rows=rows,
        counts=await service.delivery_counts(session, bulletin.id),
        error=error,
        progress=progress,
        channels=service.CHANNELS,
        editable=bulletin.status in service.REVISABLE and user.role in service.WRITERS,
        removed=await removed_of(session, bulletin),
        **await on_air_context(session, bulletin),
    )


@router.post("/bulletins/{bulletin_id}/edit")
async def edit_bulletin(
    bulletin_id: int, request: Request, session: AsyncSession = Depends(db), form: FormData = Depends(bulletin_form)
) -> Response:
    user, csrf = await who(request, session)
    data, csrf_token = form
    try:
        check_csrf(csrf, csrf_token)
        if isinstance(data, WorkflowError):
            raise data
        await service.update(session, user, bulletin_id, data)
    except WorkflowError as exc:
        return back(f"/bulletins/{bulletin_id}", f"{exc.field}: {exc.message}")
    return back(f"/bulletins/{bulletin_id}")


@router.post("/bulletins/{bulletin_id}/action")
async def bulletin_action(
    bulletin_id: int,
    request: Request,
    session: AsyncSession = Depends(db),
    action: str = Form(""),
    comment: str = Form(""),
    run_at: str = Form(""),
    recurrence: str = Form(""),
    csrf_token: str = Form(""),
    delivery: int = Form(0),
    confirm: bool = Form(False),
) -> Response:
    user, csrf = await who(request, session)
    try:
        check_csrf(csrf, csrf_token)
        if action == "submit":
            await service.submit(session, user, bulletin_id)
        elif action == "approve":
            await service.approve(session, user, bulletin_id)
        elif action == "return":
            await service.return_to_editor(session, user, bulletin_id, comment)
        elif action == "emergency":
            await service.emergency_release(session, user, bulletin_id)
        elif action == "schedule":
            when: datetime | None = None  # empty: now, or the recurrence's next time (never now by accident)
            if run_at:
                try:
                    when = datetime.fromisoformat(run_at).replace(tzinfo=LOCAL)
                except ValueError as exc:
                    raise WorkflowError("run_at", "thời điểm phát không hợp lệ", 422) from exc
            await service.schedule(session, user, bulletin_id, when, recurrence.strip())
        elif action == "retry":
            row = await session.get(Delivery, delivery)
            states: tuple[str, ...] = ("failed", "unknown")
            if row is not None and row.channel == "sms" and user.role in ("admin", "operator"):
                states = await sms_replay.prepare(session, row, confirm)
            if user.role not in ("admin", "operator") or not await ledger.retry_now(session, delivery, states):
                raise WorkflowError("delivery", "không phát lại được lượt gửi này", 409)
            await service.audit(session, user.username, "retry", "delivery", delivery)
            await session.commit()
        else:
            raise WorkflowError("action", f"thao tác '{action}' không có", 422)
    except WorkflowError as exc:
        return back(f"/bulletins/{bulletin_id}", f"{exc.field}: {exc.message}")
    request.app.state.services.dispatcher.wake.set()
    return back(f"/bulletins/{bulletin_id}")


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(request: Request, session: AsyncSession = Depends(db)) -> Response:
    user, csrf = await who(request, session)
    rows = (await session.execute(select(AuditLog).order_by(AuditLog.id.desc()).limit(300))).scalars().all()
    return page(request, "audit.html", user=user, csrf=csrf, rows=rows)
