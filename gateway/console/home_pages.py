"""Console pages that read: the bulletin list with the delivery chart, and the audit log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api.deps import db
from gateway.console.common import APPROVERS, page, waiting_count, who
from gateway.db.models import AuditLog, Bulletin, Delivery, utcnow
from gateway.db.states import DeliveryState
from gateway.loudspeakers.channel import BUSY_DETAIL

router = APIRouter(include_in_schema=False)


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
    if user.must_change_password:  # the one-time password of the first start
        return RedirectResponse("/account", status_code=303)
    waiting, queue = 0, []
    if user.role in APPROVERS:  # "Chờ duyệt": what waits for this approver, oldest first
        waiting = await waiting_count(session)
        oldest = (
            select(Bulletin)
            .where(Bulletin.status == "submitted", Bulletin.source != "reply")
            .order_by(Bulletin.updated_at, Bulletin.id)
            .limit(20)
        )
        queue = list((await session.execute(oldest)).scalars())
    return page(
        request,
        "home.html",
        user=user,
        csrf=csrf,
        bulletins=bulletins,
        status=status,
        chart=_chart(list(per_day)),
        trouble=await _trouble(session, [b.id for b in bulletins]),
        waiting=waiting,
        queue=queue,
    )


async def _trouble(session: AsyncSession, ids: list[int]) -> dict[int, str]:
    """Per listed bulletin, its deliveries that failed or wait for another try, in words,
    with the reason of a failure: a bulletin still "scheduled" whose speaker is busy says
    "Đang chờ loa rảnh", and once it gave up, why."""
    if not ids:
        return {}
    rows = await session.execute(
        select(Delivery.bulletin_id, Delivery.state, Delivery.detail, func.count())
        .where(Delivery.bulletin_id.in_(ids), Delivery.state.in_(("failed", "retry", "unknown")))
        .group_by(Delivery.bulletin_id, Delivery.state, Delivery.detail)
    )
    words = {"failed": "lỗi", "retry": "đang thử lại", "unknown": "không rõ kết quả", "busy": "Đang chờ loa rảnh"}
    counts: dict[int, dict[str, int]] = {}
    reasons: dict[int, str] = {}
    for bulletin_id, state, detail, n in rows.all():
        kind = "busy" if state == "retry" and detail == BUSY_DETAIL else state
        per = counts.setdefault(bulletin_id, {})
        per[kind] = per.get(kind, 0) + n
        if state == "failed" and detail:
            reasons[bulletin_id] = detail
    found = {
        b: [f"{words[k]} ({n} loa)" if k == "busy" else f"{n} lượt {words[k]}" for k, n in per.items()]
        for b, per in counts.items()
    }
    return {
        b: ", ".join(sorted(parts)) + (f" — lý do: {reasons[b][:160]}" if b in reasons else "")
        for b, parts in found.items()
    }


def _chart(rows: list[Any]) -> list[dict[str, Any]]:
    days: dict[str, dict[str, int]] = {}
    for day, state, n in rows:
        days.setdefault(str(day), {})[state] = n
    top = max((sum(v.values()) for v in days.values()), default=1) or 1
    return [
        {
            "day": d[5:],
            DeliveryState.DELIVERED: v.get(DeliveryState.DELIVERED, 0),
            "other": sum(v.values()) - v.get(DeliveryState.DELIVERED, 0),
            "scale": 120 / top,
        }
        for d, v in sorted(days.items())
    ]


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(request: Request, session: AsyncSession = Depends(db)) -> Response:
    user, csrf = await who(request, session)
    rows = (await session.execute(select(AuditLog).order_by(AuditLog.id.desc()).limit(300))).scalars().all()
    return page(request, "audit.html", user=user, csrf=csrf, rows=rows)
