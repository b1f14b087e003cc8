"""POST /api/v1/alerts/cap: CAP 1.2 alerts become emergency or priority bulletins."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api.deps import Caller, caller, db
from gateway.bulletins import service
from gateway.bulletins.cap import parse_cap
from gateway.bulletins.errors import WorkflowError
from gateway.db.models import Area, Bulletin, Delivery, Device, Schedule

router = APIRouter(prefix="/api/v1", tags=["alerts"])
CAP_CHANNELS = ("file", "loudspeaker", "call", "sms")


async def _cancel(session: AsyncSession, keys: tuple[str, ...], actor: str) -> list[int]:
    ids = []
    for key in keys:
        bulletin = (await session.execute(select(Bulletin).where(Bulletin.external_id == key))).scalar_one_or_none()
        if bulletin is None or bulletin.status == "cancelled":
            continue
        bulletin.status = "cancelled"
        await session.execute(update(Schedule).where(Schedule.bulletin_id == bulletin.id).values(done=True))
        await session.execute(
            update(Delivery)
            .where(Delivery.bulletin_id == bulletin.id, Delivery.state.in_(("pending", "retry")))
            .values(state="cancelled", detail="hủy theo cảnh báo CAP")
        )
        await service.audit(session, actor, "cap_cancel", "bulletin", bulletin.id, reference=key)
        ids.append(bulletin.id)
    await session.commit()
    return ids


@router.post("/alerts/cap", status_code=201)
async def ingest_cap(
    request: Request, session: AsyncSession = Depends(db), who: Caller = Depends(caller)
) -> dict[str, object]:
    alert = parse_cap(await request.body())
    refs = tuple(alert.references)
    if alert.msg_type in ("Ack", "Error"):
        return {"accepted": True, "bulletin": None, "note": f"msgType {alert.msg_type}: không tạo bản tin"}
    if (await session.execute(select(Bulletin.id).where(Bulletin.external_id == alert.key))).scalar_one_or_none():
        raise WorkflowError("alert.identifier", f"cảnh báo {alert.identifier} đã được nhận trước đó", 409)
    cancelled = await _cancel(session, refs, who.user.username) if alert.msg_type in ("Update", "Cancel") else []
    if alert.msg_type == "Cancel":
        return {"accepted": True, "bulletin": None, "cancelled": cancelled}
    codes = set(alert.area_codes)
    areas = (
        (
            await session.execute(
                select(Area).where(
                    Area.code.in_(codes) | func.lower(Area.name).in_([n.lower() for n in alert.area_names])
                )
            )
        )
        .scalars()
        .all()
    )
    if not areas:
        raise WorkflowError(
            "info.area", "không khớp địa bàn nào (geocode value = mã địa bàn, hoặc areaDesc = tên)", 422
        )
    channels = [c for c in CAP_CHANNELS if c in request.app.state.services.channels]
    if not (await session.execute(select(Device.id).where(Device.enabled.is_(True)).limit(1))).first():
        channels = [c for c in channels if c != "loudspeaker"]  # no cluster registered yet
    title = alert.headline or alert.event
    data = service.BulletinInput(
        title=title[:300],
        body=alert.text,
        sms_text=(alert.headline or alert.event)[:300],
        priority=alert.priority,
        voice=request.app.state.services.settings.voice,
        targets=tuple((c, a.code) for c in channels for a in areas),
    )
    bulletin = await service.create(session, who.user, data, source="cap", external_id=alert.key)
    await service.audit(
        session,
        who.user.username,
        "cap_ingest",
        "bulletin",
        bulletin.id,
        identifier=alert.identifier,
        msg_type=alert.msg_type,
        severity=alert.severity,
        urgency=alert.urgency,
        status=alert.status,
    )
    await session.commit()
    if alert.status != "Actual":
        return {"accepted": True, "bulletin": bulletin.id, "note": f"status {alert.status}: giữ ở bản nháp"}
    if alert.priority == "emergency" and (who.user.can_skip_approval or who.user.role == "admin"):
        await service.emergency_release(session, who.user, bulletin.id)
        request.app.state.services.dispatcher.wake.set()
    else:
        await service.submit(session, who.user, bulletin.id)
    return {"accepted": True, "bulletin": bulletin.id, "priority": alert.priority, "cancelled": cancelled}
