"""/api/v1/reports/feedback: received vs processed per area and period, as JSON, CSV or XLSX."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api.deps import Caller, caller, db
from gateway.feedback import report_files, reports

router = APIRouter(prefix="/api/v1", tags=["reports"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def default_period(zone: ZoneInfo) -> tuple[str, str]:
    """This month so far."""
    today = datetime.now(zone).date()
    return today.replace(day=1).isoformat(), today.isoformat()


def as_json(report: reports.Report) -> dict[str, Any]:
    def row(r: reports.Row) -> dict[str, Any]:
        return {
            "area": r.code or None,
            "name": r.name,
            "received": r.received,
            "processed": r.processed,
            "processed_pct": r.processed_pct,
            "open": r.open,
            "overdue_open": r.overdue_open,
            "median_answer_hours": r.median_answer_hours,
            "on_time_pct": r.on_time_pct,
        }

    return {
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "areas": [row(r) for r in report.rows],
        "total": row(report.total),
        "categories": [{"category": k, "name": n, "received": c} for k, n, c in report.categories],
        "channels": report.channels,
        "days": [{"day": d.isoformat(), "received": r, "processed": p} for d, r, p in report.days],
    }


@router.get("/reports/feedback")
async def feedback_report(
    request: Request,
    start: str = "",
    end: str = "",
    format: Literal["json", "csv", "xlsx"] = "json",
    session: AsyncSession = Depends(db),
    who: Caller = Depends(caller),
) -> Any:
    zone = ZoneInfo(request.app.state.services.settings.timezone)
    first_default, last_default = default_period(zone)
    first, last = reports.period(start or first_default, end or last_default)
    report = await reports.build(session, first, last, zone)
    name = f"phan-anh-{first:%Y%m%d}-{last:%Y%m%d}"
    if format == "csv":
        return Response(
            report_files.to_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if format == "xlsx":
        return Response(
            report_files.to_xlsx(report),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    return as_json(report)
