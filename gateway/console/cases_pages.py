"""Console pages for residents' feedback: the inbox with filters and the case page."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api.deps import db
from gateway.api.reports import default_period
from gateway.bulletins.errors import WorkflowError
from gateway.console.common import back, check_csrf, failed, page, templates, who
from gateway.db.models import Area, Case
from gateway.db.states import CaseStatus, parse
from gateway.feedback import replies, reports, service, taxonomy
from gateway.feedback.intake import Recording, receive
from gateway.phones import masked
from gateway.sms import replies as sms_replies

router = APIRouter(include_in_schema=False)
templates.env.globals.update(
    CASE_STATUS=service.STATUS_LABELS,
    TRANSCRIPT_STATUS=service.TRANSCRIPT_LABELS,
    REPLY_NOT_RECEIVED=service.REPLY_NOT_RECEIVED,
)
templates.env.filters["masked"] = masked


@router.get("/cases", response_class=HTMLResponse)
async def inbox(
    request: Request,
    status: str = "",
    category: str = "",
    area: str = "",
    overdue: str = "",
    transcript: str = "",
    error: str = "",
    session: AsyncSession = Depends(db),
) -> Response:
    user, csrf = await who(request, session)
    query = select(Case).order_by(Case.sla_due_at).limit(300)
    if not status:  # the inbox shows open cases unless a status is chosen
        query = query.where(Case.status.in_(service.OPEN))
    query = service.filtered(query, status, category, area, bool(overdue), transcript)
    cases = (await session.execute(query)).scalars().all()
    areas = (await session.execute(select(Area).order_by(Area.code))).scalars().all()
    return page(
        request,
        "cases.html",
        user=user,
        csrf=csrf,
        cases=cases,
        areas=areas,
        categories=taxonomy.load(),
        filters={"status": status, "category": category, "area": area, "overdue": overdue, "transcript": transcript},
        overdue_of=service.is_overdue,
        error=error,
    )


@router.post("/cases")
async def new_case(
    request: Request,
    session: AsyncSession = Depends(db),
    text: str = Form(""),
    caller: str = Form(""),
    area: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    user, csrf = await who(request, session)
    try:
        check_csrf(csrf, csrf_token)
        case = await service.file_case(
            session, service.Intake("console", text=text, caller=caller, area_code=area or None), user.username
        )
    except WorkflowError as exc:
        return failed("/cases", exc)
    return back(f"/cases/{case.ticket}")


@router.get("/cases/{ticket}", response_class=HTMLResponse)
async def case_page(ticket: str, request: Request, error: str = "", session: AsyncSession = Depends(db)) -> Response:
    user, csrf = await who(request, session)
    try:
        case = await service.get(session, ticket)
    except WorkflowError as exc:
        return failed("/cases", exc)
    return page(
        request,
        "case.html",
        user=user,
        csrf=csrf,
        c=case,
        error=error,
        categories=taxonomy.load(),
        next_states=service.TRANSITIONS[case.status],
        overdue=service.is_overdue(case),
        sms_ready=request.app.state.services.sms is not None,
        call_ready="call" in request.app.state.services.channels,
        sms_reply=await replies.sms_reply_state(session, case.id),
    )


@router.post("/cases/{ticket}/action")
async def case_action(
    ticket: str,
    request: Request,
    session: AsyncSession = Depends(db),
    action: str = Form(""),
    version: int = Form(0),
    reason: str = Form(""),
    assignee: str = Form(""),
    answer: str = Form(""),
    transcript: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    user, csrf = await who(request, session)
    try:
        check_csrf(csrf, csrf_token)
        if action == "transcript":
            await service.correct_transcript(session, user.username, ticket, transcript, version)
        elif action == "reply_sms":
            sms = request.app.state.services.sms
            await sms_replies.reply_by_sms(session, sms, user.username, ticket, answer, version)
        elif action == "reply_call":
            services = request.app.state.services
            if "call" not in services.channels:
                raise WorkflowError("via", "chưa cấu hình tổng đài Asterisk nên không gọi trả lời được", 422)
            actor = (user.id, user.username)
            await replies.reply_by_call(
                session, services.renderer, actor, ticket, answer, version, services.settings.voice
            )
            services.dispatcher.wake.set()
        else:
            to = parse(CaseStatus, action)
            if to is None:
                raise WorkflowError("action", f"không có thao tác '{action}'", 422)
            await service.transition(session, user.username, ticket, to, version, reason, assignee, answer)
    except WorkflowError as exc:
        return failed(f"/cases/{ticket}", exc)
    return back(f"/cases/{ticket}")


@router.post("/cases/recording")
async def new_recording(
    request: Request,
    session: AsyncSession = Depends(db),
    audio: UploadFile = File(...),
    caller: str = Form(""),
    area: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    """An officer files a voice message (e.g. from Zalo or a phone) as a case; it is spooled first."""
    _user, csrf = await who(request, session)
    services = request.app.state.services
    try:
        check_csrf(csrf, csrf_token)
        recording = Recording("console", caller.strip(), area or None)
        filed = await receive(services.spool, services.sessions, audio.file, audio.filename or "", recording)
    except WorkflowError as exc:
        return failed("/cases", exc)
    if isinstance(filed, str):
        return back("/cases", "Đã nhận bản ghi; bản ghi sẽ vào sổ khi cơ sở dữ liệu sẵn sàng.")
    services.feedback.wake.set()
    return back(f"/cases/{filed.ticket}")


@router.get("/reports", response_class=HTMLResponse)
async def reports_page(
    request: Request, start: str = "", end: str = "", session: AsyncSession = Depends(db)
) -> Response:
    user, csrf = await who(request, session)
    zone = ZoneInfo(request.app.state.services.settings.timezone)
    first_default, last_default = default_period(zone)
    try:
        first, last = reports.period(start or first_default, end or last_default)
    except WorkflowError as exc:
        return failed("/reports", exc)
    report = await reports.build(session, first, last, zone)
    peak = max([r.received for r in report.rows] + [1])
    return page(
        request, "reports.html", user=user, csrf=csrf, r=report, peak=peak, error=request.query_params.get("error", "")
    )
