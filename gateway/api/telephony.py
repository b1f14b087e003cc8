"""Telephony for staff: are the Asterisk servers connected, and what happened to each
call of a bulletin (the answer to "did the typhoon warning reach this number?")."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api.deps import Caller, caller, db
from gateway.bulletins.errors import WorkflowError
from gateway.db.models import Bulletin, CallAttempt, Delivery
from gateway.phones import hides_numbers, mask_text, masked

router = APIRouter(prefix="/api/v1", tags=["telephony"])


@router.get("/telephony/status")
async def status(request: Request, who: Caller = Depends(caller)) -> dict[str, Any]:
    """Each Asterisk server: connected, calls in progress of its budget, back-off, last error."""
    telephony = getattr(request.app.state.services, "telephony", None)
    if telephony is None:
        return {"configured": False, "servers": [], "message": "chưa cấu hình máy chủ Asterisk ([[asterisk]])"}
    return {
        "configured": True,
        "servers": telephony.channel.pool.status(),
        "agi": {"port": telephony.agi.port, "calls_in_ivr": len(telephony.agi.active)},
    }


CSV_FIELDS = (
    "call_id",
    "number",
    "server",
    "outcome",
    "amd",
    "confirmed",
    "heard_to_end_or_confirmed",
    "heard_seconds",
    "reason",
    "cause",
    "detail",
    "started_at",
    "answered_at",
    "ended_at",
)


async def _attempts(session: AsyncSession, bulletin_id: int, hide: bool) -> list[dict[str, Any]]:
    if await session.get(Bulletin, bulletin_id) is None:
        raise WorkflowError("bulletin_id", f"không có bản tin số {bulletin_id}", 404)
    rows = (
        await session.execute(
            select(CallAttempt)
            .join(Delivery, Delivery.id == CallAttempt.delivery_id)
            .where(Delivery.bulletin_id == bulletin_id)
            .order_by(CallAttempt.id)
        )
    ).scalars()
    return [
        {
            "call_id": a.call_id,
            "number": masked(a.number) if hide else a.number,
            "server": a.server,
            "outcome": a.outcome,
            "reason": a.reason,
            "cause": a.cause,
            "heard_seconds": round(a.heard_seconds, 1),
            "heard_to_end_or_confirmed": a.bulletin_complete,
            "confirmed": a.confirmed,
            "amd": a.amd_status,
            "detail": mask_text(a.detail) if hide else a.detail,
            "started_at": a.started_at.isoformat(),
            "answered_at": a.answered_at.isoformat() if a.answered_at else None,
            "ended_at": a.ended_at.isoformat() if a.ended_at else None,
        }
        for a in rows
    ]


@router.get("/bulletins/{bulletin_id}/calls")
async def calls(bulletin_id: int, session: AsyncSession = Depends(db), who: Caller = Depends(caller)) -> dict[str, Any]:
    """Every call attempt of the bulletin: number, server, Asterisk's Reason and Hangup cause,
    the outcome (delivered, partial, voicemail, busy, ...), AMD's verdict and how long the
    resident listened."""
    return {"calls": await _attempts(session, bulletin_id, hides_numbers(who.user.role))}


@router.get("/bulletins/{bulletin_id}/calls.csv")
async def calls_csv(bulletin_id: int, session: AsyncSession = Depends(db), who: Caller = Depends(caller)) -> Response:
    """The same attempts as a spreadsheet (UTF-8 with BOM, for Excel)."""
    rows = await _attempts(session, bulletin_id, hides_numbers(who.user.role))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(CSV_FIELDS))
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in CSV_FIELDS})
    return Response(
        ("\ufeff" + buffer.getvalue()).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="cuoc-goi-ban-tin-{bulletin_id}.csv"'},
    )
