"""SMS for staff: the cost preview before sending, and the subscriber list of each area."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api.deps import Caller, caller, db, require_role
from gateway.api.schemas import SmsPreviewIn, SubscribersIn
from gateway.bulletins.errors import WorkflowError
from gateway.bulletins.service import audit
from gateway.db.models import Area, Subscriber
from gateway.phones import masked, to_e164
from gateway.sms import recipients

router = APIRouter(prefix="/api/v1", tags=["sms"])


@router.post("/sms/preview")
async def preview(data: SmsPreviewIn, session: AsyncSession = Depends(db), who: Caller = Depends(caller)) -> Any:
    """Encoding, parts and parts x recipients, for the text and for its unaccented variant."""
    return await recipients.preview(session, data.text, data.areas)


@router.get("/sms/status")
async def status(request: Request, who: Caller = Depends(caller)) -> dict[str, Any]:
    """Which transport carries SMS and whether its link is up."""
    service = getattr(request.app.state.services, "sms", None)
    if service is None:
        return {"transport": None, "connected": False, "last_error": "chưa cấu hình kênh SMS (sms_transport)"}
    return {"transport": service.transport.name, **service.transport.status()}


@router.get("/subscribers")
async def list_subscribers(
    area: str = "", session: AsyncSession = Depends(db), who: Caller = Depends(caller)
) -> dict[str, Any]:
    query = select(Subscriber, Area.code).outerjoin(Area, Area.id == Subscriber.area_id).order_by(Subscriber.phone)
    if area:
        query = query.where(Area.code == area)
    hide = who.user.role == "operator"
    return {
        "subscribers": [
            {
                "phone": masked(s.phone) if hide else s.phone,
                "area": code,
                "opted_out": s.opted_out,
                "source": s.source,
            }
            for s, code in (await session.execute(query.limit(10_000))).all()
        ]
    }


@router.post("/subscribers")
async def add_subscribers(
    data: SubscribersIn,
    session: AsyncSession = Depends(db),
    who: Caller = Depends(require_role("admin", "approver", "editor")),
) -> dict[str, Any]:
    """Subscribe numbers to an area. Invalid numbers are listed with the reason; a number
    given twice counts once; a resident who opted out by SMS stays out (only she can undo it)."""
    area = (await session.execute(select(Area).where(Area.code == data.area))).scalar_one_or_none()
    if area is None:
        raise WorkflowError("area", f"không có địa bàn mã '{data.area}'", 422)
    rejected: list[dict[str, str]] = []
    wanted: dict[str, str] = {}
    for i, raw in enumerate(data.phones):
        try:
            wanted.setdefault(to_e164(raw, f"phones[{i}]"), raw)
        except WorkflowError as exc:
            rejected.append({"phone": raw, "field": exc.field, "reason": exc.message})
    existing = {
        s.phone: s
        for s in (await session.execute(select(Subscriber).where(Subscriber.phone.in_(list(wanted))))).scalars()
    }
    added = moved = kept_out = 0
    for phone in wanted:
        current = existing.get(phone)
        if current is None:
            session.add(Subscriber(phone=phone, area_id=area.id, source="console"))
            added += 1
        elif current.opted_out:
            kept_out += 1
        elif current.area_id != area.id:
            current.area_id = area.id
            moved += 1
    await audit(session, who.user.username, "subscribers_add", "area", area.code, added=added, moved=moved)
    await session.commit()
    return {"added": added, "moved": moved, "opted_out_kept": kept_out, "rejected": rejected}
