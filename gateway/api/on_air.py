"""Taking a bulletin off the air and steering its air times:
``POST /api/v1/bulletins/{id}/stop`` (every channel, one reason, audited) and the
bulletin's schedules (next air times; pause, resume, cancel a daily recurrence)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api.deps import Caller, caller, db
from gateway.api.schemas import StopIn
from gateway.bulletins import airtimes
from gateway.bulletins.errors import WorkflowError
from gateway.bulletins.schedule import local_text
from gateway.bulletins.service import get
from gateway.delivery.stop import stop_broadcast

router = APIRouter(prefix="/api/v1", tags=["bulletins"])


@router.post("/bulletins/{bulletin_id}/stop")
async def stop(
    bulletin_id: int,
    data: StopIn,
    request: Request,
    session: AsyncSession = Depends(db),
    who: Caller = Depends(caller),
) -> dict[str, Any]:
    """Stop the bulletin on every channel. ``sms_parts_accepted``: parts the SMSC had
    already accepted, which cannot be recalled."""
    summary, cut = await stop_broadcast(session, request.app.state.services, who.user, bulletin_id, data.reason)
    return summary.as_dict() | {"status": "stopped", "cut": cut}


def _out(found: airtimes.AirTimes) -> dict[str, Any]:
    return {
        "id": found.schedule_id,
        "recurrence": found.recurrence,
        "paused": found.paused,
        "next": [t.isoformat() for t in found.next_times],
        "next_local": [local_text(t) for t in found.next_times],
    }


@router.get("/bulletins/{bulletin_id}/schedules")
async def schedules(
    bulletin_id: int, session: AsyncSession = Depends(db), who: Caller = Depends(caller)
) -> list[dict[str, Any]]:
    """The air times still to come (times in UTC, and as shown to people in Asia/Ho_Chi_Minh)."""
    await get(session, bulletin_id)
    return [_out(found) for found in await airtimes.air_times(session, bulletin_id)]


@router.post("/bulletins/{bulletin_id}/schedules/{schedule_id}/{action}")
async def change_schedule(
    bulletin_id: int,
    schedule_id: int,
    action: str,
    request: Request,
    session: AsyncSession = Depends(db),
    who: Caller = Depends(caller),
) -> list[dict[str, Any]]:
    """``action``: pause | resume | cancel. Answers the air times left."""
    steps = {"pause": airtimes.pause, "resume": airtimes.resume, "cancel": airtimes.cancel}
    if action not in steps:
        raise WorkflowError("action", f"thao tác '{action}' không có (chọn: pause, resume, cancel)", 404)
    await steps[action](session, who.user, bulletin_id, schedule_id)
    request.app.state.services.dispatcher.wake.set()
    return [_out(found) for found in await airtimes.air_times(session, bulletin_id)]
