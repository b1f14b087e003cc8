"""The Vietnamese web console: pages rendered on the server, forms with CSRF tokens.

Handlers call the same service layer as the REST API; errors are shown on the page
with the field and the rule.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import accounts, auth
from gateway.api.deps import SESSION_COOKIE, client_address, db, is_https
from gateway.bulletins import service
from gateway.bulletins.errors import WorkflowError
from gateway.console import approval, delivery_stats, labels
from gateway.console.admin_pages import area_list
from gateway.console.bulletin_form import FormData, bulletin_form
from gateway.console.common import NotLoggedIn, back, check_csrf, failed, page, safe_next, who
from gateway.console.errors import error_page
from gateway.console.notice_templates import offered
from gateway.console.on_air_pages import on_air_context
from gateway.console.schedule_pages import schedule_from_form
from gateway.db.models import Delivery, Render
from gateway.db.states import BulletinStatus, DeliveryState
from gateway.delivery import ledger
from gateway.programmes.importer import removed_of
from gateway.sms import recipients
from gateway.sms import replay as sms_replay

__all__ = ["NotLoggedIn", "router"]

router = APIRouter(include_in_schema=False)


LOGIN_COOKIE = "loa_login_csrf"  # double-submit token: a cross-site page cannot log a browser in


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, error: str = "", next: str = "/") -> HTMLResponse:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = page(request, "login.html", error=error, csrf=token, next=safe_next(next))
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=is_https(request), max_age=3600)
    return response


@router.post("/login")
async def login_form(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    csrf_token: str = Form(""),
    next: str = Form("/"),
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
        target = safe_next(next)
        return back("/login" + (f"?next={quote(target)}" if target != "/" else ""), labels.sentence(exc.message))
    token, _ = await auth.start_session(session, user)
    await service.audit(session, user.username, "login", "user", user.id, address=address)
    await session.commit()
    response = RedirectResponse(safe_next(next), status_code=303)
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


@router.get("/bulletins/new", response_class=HTMLResponse)
async def new_bulletin(
    request: Request, error: str = "", mau: str = "", session: AsyncSession = Depends(db)
) -> Response:
    user, csrf = await who(request, session)
    services = request.app.state.services
    if user.role not in service.WRITERS:  # said before the officer writes, not on saving
        why = "Vai trò Vận hành không soạn bản tin; biên tập viên, người duyệt hoặc quản trị soạn."
        return error_page(request, 403, why)
    notices = await offered(session)
    return page(
        request,
        "edit.html",
        user=user,
        csrf=csrf,
        bulletin=None,
        areas=await area_list(session),
        chosen=set(),
        error=error,
        draft=notices.get(mau),
        notices=notices,
        channels=approval.configured(services),
        down=approval.channel_health(services),
    )


@router.post("/bulletins/new")
async def create_bulletin(
    request: Request,
    then: str = "",
    session: AsyncSession = Depends(db),
    form: FormData = Depends(bulletin_form),
) -> Response:
    user, csrf = await who(request, session)
    data, csrf_token = form
    try:
        check_csrf(csrf, csrf_token)
        if isinstance(data, WorkflowError):
            raise data
        approval.check_configured(request.app.state.services, data.targets)
        bulletin = await service.create(session, user, data)
    except WorkflowError as exc:
        return failed("/bulletins/new", exc)
    return await _saved(request, session, user, bulletin.id, then)


async def _saved(request: Request, session: AsyncSession, user: Any, bulletin_id: int, then: str) -> Response:
    """After a save: "Đã lưu", or the submission the officer asked for, on the saved text."""
    if then != "submit":
        return RedirectResponse(f"/bulletins/{bulletin_id}?saved=1", status_code=303)
    try:
        await service.submit(session, user, bulletin_id)
    except WorkflowError as exc:
        return back(f"/bulletins/{bulletin_id}?saved=1", labels.sentence(exc.message))
    services = request.app.state.services
    services.previews.start(bulletin_id)
    return RedirectResponse(f"/bulletins/{bulletin_id}?saved=1", status_code=303)


@router.get("/bulletins/{bulletin_id}", response_class=HTMLResponse)
async def view_bulletin(
    bulletin_id: int, request: Request, error: str = "", saved: str = "", session: AsyncSession = Depends(db)
) -> Response:
    user, csrf = await who(request, session)
    services = request.app.state.services
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
    loudspeaker = next((r for r in renders if r.purpose == "loudspeaker"), None)
    waiting = bulletin.id in services.renderer.progress.values or bulletin.id in services.previews.failed
    if bulletin.status == BulletinStatus.SUBMITTED and loudspeaker is None and not waiting:
        services.previews.start(bulletin.id)  # submitted through the API
    progress = services.renderer.progress.values.get(bulletin.id)
    counts = await service.delivery_counts(session, bulletin.id)
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
        counts=counts,
        stats=delivery_stats.summarize(counts),
        stat_labels=delivery_stats.LABELS,
        error=error,
        progress=progress,
        preview_failed=services.previews.failed.get(bulletin.id, ""),
        saved=bool(saved),
        channels=approval.configured(services),
        down=approval.channel_health(services),
        target_lines=await approval.target_lines(session, bulletin),
        paragraphs=approval.paragraphs(bulletin.body),
        duration=approval.duration_text(
            loudspeaker.duration_seconds if loudspeaker else approval.estimated_seconds(bulletin.title, bulletin.body)
        ),
        duration_measured=loudspeaker is not None,
        # the composer for drafts; a submitted or approved one shows its approval card (an
        # edit through the API still sends it back to draft)
        editable=bulletin.status in service.EDITABLE and user.role in service.WRITERS,
        removed=await removed_of(session, bulletin),
        **await on_air_context(session, bulletin),
    )


@router.post("/bulletins/{bulletin_id}/edit")
async def edit_bulletin(
    bulletin_id: int,
    request: Request,
    then: str = "",
    session: AsyncSession = Depends(db),
    form: FormData = Depends(bulletin_form),
) -> Response:
    user, csrf = await who(request, session)
    data, csrf_token = form
    try:
        check_csrf(csrf, csrf_token)
        if isinstance(data, WorkflowError):
            raise data
        approval.check_configured(request.app.state.services, data.targets)
        await service.update(session, user, bulletin_id, data)
    except WorkflowError as exc:
        return failed(f"/bulletins/{bulletin_id}", exc)
    return await _saved(request, session, user, bulletin_id, then)


@router.post("/bulletins/{bulletin_id}/copy")
async def copy_bulletin(
    bulletin_id: int, request: Request, csrf_token: str = Form(""), session: AsyncSession = Depends(db)
) -> Response:
    """ "Sao chép": a new draft with the text, SMS, priority and (configured) targets of this one."""
    user, csrf = await who(request, session)
    try:
        check_csrf(csrf, csrf_token)
        source = await service.get(session, bulletin_id)
        usable = approval.configured(request.app.state.services)
        targets = tuple((c, code) for c, _, code in await service.targets_of(session, bulletin_id) if c in usable)
        data = service.BulletinInput(
            f"{source.title} (bản sao)"[:300], source.body, source.sms_text, source.priority, source.voice, targets
        )
        copy = await service.create(session, user, data)
    except WorkflowError as exc:
        return failed(f"/bulletins/{bulletin_id}", exc)
    return RedirectResponse(f"/bulletins/{copy.id}?saved=1", status_code=303)


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
            services = request.app.state.services
            services.previews.start(bulletin_id)
        elif action == "approve":
            await service.approve(session, user, bulletin_id)
        elif action == "return":
            await service.return_to_editor(session, user, bulletin_id, comment)
        elif action == "emergency":
            await service.emergency_release(session, user, bulletin_id)
        elif action == "schedule":
            await schedule_from_form(session, user, bulletin_id, run_at, recurrence)
        elif action == "retry":
            row = await session.get(Delivery, delivery)
            states: tuple[DeliveryState, ...] = (DeliveryState.FAILED, DeliveryState.UNKNOWN)
            if row is not None and row.channel == "sms" and user.role in ("admin", "operator"):
                states = await sms_replay.prepare(session, row, confirm)
            if user.role not in ("admin", "operator") or not await ledger.retry_now(session, delivery, states):
                raise WorkflowError("delivery", "không phát lại được lượt gửi này", 409)
            await service.audit(session, user.username, "retry", "delivery", delivery)
            await session.commit()
        else:
            raise WorkflowError("action", f"thao tác '{action}' không có", 422)
    except WorkflowError as exc:
        return failed(f"/bulletins/{bulletin_id}", exc)
    request.app.state.services.dispatcher.wake.set()
    return back(f"/bulletins/{bulletin_id}")
