"""Exports towards the source information system ("hệ thống thông tin nguồn"): bulletins
broadcast, play logs per device, feedback statistics per period, as JSON or CSV (UTF-8
with a BOM, so Excel shows Vietnamese). Documented field by field in the README, ready to
be mapped onto the ministry's format when the commune receives it."""

from __future__ import annotations

import csv
import io
from datetime import datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api.deps import Caller, caller, db
from gateway.api.reports import default_period, feedback_report
from gateway.db.models import Area, Bulletin, Delivery, Device, PlayReport
from gateway.db.states import DeliveryState
from gateway.feedback import reports
from gateway.feedback.report_files import neutral

router = APIRouter(prefix="/api/v1/export", tags=["export"])
BULLETIN_FIELDS = (
    "id",
    "title",
    "priority",
    "source",
    "status",
    "channel",
    "targets",
    "delivered",
    "failed",
    "first",
    "last",
)
PLAY_FIELDS = ("device", "device_name", "area", "item", "event", "device_at", "received_at", "detail")


def _bounds(request: Request, start: str, end: str) -> tuple[datetime, datetime]:
    """The period's first and last local days (this month by default) as UTC bounds."""
    zone = ZoneInfo(request.app.state.services.settings.timezone)
    default_first, default_last = default_period(zone)
    first, last = reports.period(start or default_first, end or default_last)
    return (
        datetime.combine(first, time(), tzinfo=zone),
        datetime.combine(last + timedelta(days=1), time(), tzinfo=zone),
    )


def _csv(fields: tuple[str, ...], rows: list[dict[str, Any]], name: str) -> Response:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fields))
    writer.writeheader()
    for row in rows:
        writer.writerow({k: neutral(row.get(k)) for k in fields})
    return Response(
        ("\ufeff" + buffer.getvalue()).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@router.get("/bulletins")
async def bulletins(
    request: Request,
    start: str = "",
    end: str = "",
    format: Literal["json", "csv"] = "json",
    session: AsyncSession = Depends(db),
    who: Caller = Depends(caller),
) -> Any:
    """Per bulletin and channel: targets, delivered, failed, first and last delivery."""
    since, until = _bounds(request, start, end)
    delivered = func.sum(case((Delivery.state == DeliveryState.DELIVERED, 1), else_=0))
    failed = func.sum(case((Delivery.state.in_((DeliveryState.FAILED, DeliveryState.UNKNOWN)), 1), else_=0))
    query = (
        select(
            Bulletin.id,
            Bulletin.title,
            Bulletin.priority,
            Bulletin.source,
            Bulletin.status,
            Delivery.channel,
            func.count(Delivery.id),
            delivered,
            failed,
            func.min(Delivery.created_at),
            func.max(Delivery.updated_at),
        )
        .join(Delivery, Delivery.bulletin_id == Bulletin.id)
        .where(Delivery.created_at >= since, Delivery.created_at < until)
        .group_by(Bulletin.id, Bulletin.title, Bulletin.priority, Bulletin.source, Bulletin.status, Delivery.channel)
        .order_by(Bulletin.id, Delivery.channel)
    )
    rows = [
        dict(
            zip(
                BULLETIN_FIELDS,
                (bid, title, prio, src, status, channel, n, int(ok or 0), int(bad or 0), first, last),
                strict=True,
            )
        )
        for bid, title, prio, src, status, channel, n, ok, bad, first, last in (await session.execute(query)).all()
    ]
    for row in rows:
        row["first"] = row["first"].isoformat() if row["first"] else None
        row["last"] = row["last"].isoformat() if row["last"] else None
    if format == "csv":
        return _csv(BULLETIN_FIELDS, rows, "ban-tin")
    return {"start": since.isoformat(), "end": until.isoformat(), "bulletins": rows}


@router.get("/plays")
async def plays(
    request: Request,
    start: str = "",
    end: str = "",
    format: Literal["json", "csv"] = "json",
    session: AsyncSession = Depends(db),
    who: Caller = Depends(caller),
) -> Any:
    """Every play report of every device in the period (proof of play)."""
    since, until = _bounds(request, start, end)
    query = (
        select(PlayReport, Device.code, Device.name, Area.code)
        .join(Device, Device.id == PlayReport.device_id)
        .join(Area, Area.id == Device.area_id)
        .where(PlayReport.received_at >= since, PlayReport.received_at < until)
        .order_by(PlayReport.id)
        .limit(200_000)
    )
    rows = [
        {
            "device": code,
            "device_name": name,
            "area": area,
            "item": r.item,
            "event": r.event,
            "device_at": r.device_at.isoformat(),
            "received_at": r.received_at.isoformat(),
            "detail": r.detail,
        }
        for r, code, name, area in (await session.execute(query)).all()
    ]
    if format == "csv":
        return _csv(PLAY_FIELDS, rows, "nhat-ky-phat")
    return {"start": since.isoformat(), "end": until.isoformat(), "plays": rows}


@router.get("/feedback")
async def feedback(
    request: Request,
    start: str = "",
    end: str = "",
    format: Literal["json", "csv"] = "json",
    session: AsyncSession = Depends(db),
    who: Caller = Depends(caller),
) -> Any:
    """Feedback statistics per area for the period: the report page's figures, as its own
    endpoint serves them (``/api/v1/reports/feedback``)."""
    return await feedback_report(request, start, end, format, session, who)
