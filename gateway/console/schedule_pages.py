"""The schedule page ``/lich`` (Lịch phát): a week of what airs where, as a calendar on a
desk and a list of days on a phone, and every daily recurrence with its next times and
its controls (pause, resume; stop on the bulletin's page, which asks for a reason)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api.deps import db
from gateway.bulletins import airtimes, service
from gateway.bulletins.errors import WorkflowError
from gateway.bulletins.schedule import LOCAL
from gateway.bulletins.week import monday_of, week
from gateway.console.common import page, who
from gateway.db.models import Bulletin, Schedule, User, utcnow

router = APIRouter(include_in_schema=False)
WEEKDAYS = ("Thứ hai", "Thứ ba", "Thứ tư", "Thứ năm", "Thứ sáu", "Thứ bảy", "Chủ nhật")
STOPPABLE = ("approved", "scheduled", "rendering", "ready", "delivering", "done", "partly_failed")


def _daily(typed: str) -> str:
    """The form's "Lặp lại hằng ngày lúc" (``06:00, 17:00``) as a recurrence (``daily 06:00,17:00``)."""
    times = typed.strip().removeprefix("daily").replace(" ", "")
    return f"daily {times}" if times else ""


async def schedule_from_form(session: AsyncSession, user: User, bulletin_id: int, run_at: str, typed: str) -> None:
    """The bulletin page's "Lên lịch phát": a local time (empty: now, or the recurrence's
    next time, never now by accident) and the daily times as an officer types them."""
    when: datetime | None = None
    if run_at:
        try:
            when = datetime.fromisoformat(run_at).replace(tzinfo=LOCAL)
        except ValueError as exc:
            raise WorkflowError("run_at", "thời điểm phát không hợp lệ", 422) from exc
    try:
        await service.schedule(session, user, bulletin_id, when, _daily(typed))
    except WorkflowError as exc:
        if exc.field != "recurrence":
            raise
        why = "giờ lặp lại hằng ngày viết dạng 06:00, 17:00 (giờ:phút, cách nhau dấu phẩy)"
        raise WorkflowError("recurrence", why, 422) from exc


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return datetime.now(LOCAL).date()


@router.get("/lich", response_class=HTMLResponse)
async def schedule_page(
    request: Request, tuan: str = "", error: str = "", session: AsyncSession = Depends(db)
) -> Response:
    user, csrf = await who(request, session)
    today = datetime.now(LOCAL).date()
    shown = await week(session, _day(tuan) if tuan else today)
    recurring = (
        await session.execute(
            select(Schedule, Bulletin)
            .join(Bulletin, Bulletin.id == Schedule.bulletin_id)
            .where(Schedule.done.is_(False), Schedule.recurrence != "")
            .order_by(Schedule.run_at)
        )
    ).all()
    now = utcnow()
    return page(
        request,
        "schedule.html",
        user=user,
        csrf=csrf,
        error=error,
        week=shown,
        today=today,
        this_monday=monday_of(today),
        previous=shown.monday - timedelta(days=7),
        following=shown.monday + timedelta(days=7),
        weekdays=WEEKDAYS,
        recurring=[(s, b, airtimes.upcoming(s.run_at, s.recurrence, 3)) for s, b in recurring],
        now=now,
        may_stop=user.role in ("approver", "admin") or user.can_skip_approval,
        stoppable=STOPPABLE,
        here=f"/lich?tuan={shown.monday.isoformat()}",
    )
