"""The bulletin page's on-air controls: "Dừng phát" (stop on every channel, with a reason
and a confirmation) and the daily schedules (next air times; pause, resume, cancel)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api.deps import db
from gateway.bulletins import airtimes
from gateway.bulletins.errors import WorkflowError
from gateway.console.common import back, check_csrf, failed, safe_next, who
from gateway.db.models import AuditLog, Bulletin
from gateway.db.states import BulletinStatus
from gateway.delivery.stop import stop_broadcast

router = APIRouter(include_in_schema=False)


async def on_air_context(session: AsyncSession, bulletin: Bulletin) -> dict[str, Any]:
    """What the bulletin page shows about air times and a stop that happened."""
    stopped = None
    if bulletin.status == BulletinStatus.STOPPED:
        stopped = (
            await session.execute(
                select(AuditLog)
                .where(AuditLog.action == "stop", AuditLog.entity == "bulletin", AuditLog.entity_id == str(bulletin.id))
                .order_by(AuditLog.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
    return {"air_times": await airtimes.air_times(session, bulletin.id), "stopped": stopped}


@router.post("/bulletins/{bulletin_id}/stop")
async def stop(
    bulletin_id: int,
    request: Request,
    session: AsyncSession = Depends(db),
    reason: str = Form(""),
    confirm: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    user, csrf = await who(request, session)
    try:
        check_csrf(csrf, csrf_token)
        if confirm != "yes":
            raise WorkflowError("confirm", "hãy đánh dấu ô xác nhận dừng phát trên mọi kênh", 422)
        await stop_broadcast(session, request.app.state.services, user, bulletin_id, reason)
    except WorkflowError as exc:
        return failed(f"/bulletins/{bulletin_id}", exc)
    return back(f"/bulletins/{bulletin_id}")


@router.post("/bulletins/{bulletin_id}/schedules/{schedule_id}")
async def change_schedule(
    bulletin_id: int,
    schedule_id: int,
    request: Request,
    session: AsyncSession = Depends(db),
    action: str = Form(""),
    csrf_token: str = Form(""),
    next: str = Form(""),
) -> Response:
    """Pause, resume or cancel; back to the bulletin's page, or to ``next`` (the schedule page)."""
    user, csrf = await who(request, session)
    to = safe_next(next) if next else f"/bulletins/{bulletin_id}"
    steps = {"pause": airtimes.pause, "resume": airtimes.resume, "cancel": airtimes.cancel}
    try:
        check_csrf(csrf, csrf_token)
        if action not in steps:
            raise WorkflowError("action", f"thao tác '{action}' không có", 422)
        await steps[action](session, user, bulletin_id, schedule_id)
    except WorkflowError as exc:
        return failed(to, exc)
    request.app.state.services.dispatcher.wake.set()
    return back(to)
