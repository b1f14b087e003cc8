"""Taking alerts referenced by a CAP Update or Cancel off the air.

One call, inside the caller's transaction (it never commits): the new bulletin of an
Update and these cancellations commit together or not at all. An alert that went on the
air is taken off it by the stop path (every open row settled with the reason, sent rows
included, schedules ended, programmes marked); after the commit the caller announces the
stop so live streams, calls and clusters go silent (``gateway.delivery.stop.announce_stop``).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.bulletins.service import OFF_AIR, audit
from gateway.db.models import Bulletin, Delivery, Schedule
from gateway.db.states import BulletinStatus, DeliveryState
from gateway.delivery.stop import STOPPABLE_STATUSES, stop_rows


async def cancel_referenced(
    session: AsyncSession, bulletins: Sequence[Bulletin], actor: str, reason: str, reference: str = ""
) -> list[int]:
    """Cancel each bulletin not off the air yet: one that went out is stopped on every
    channel (its status ``cancelled``); one never released has its schedules ended and its
    waiting rows cancelled. Returns the ids cancelled now. No commit."""
    ids = []
    for bulletin in bulletins:
        if bulletin.status in OFF_AIR:
            continue
        if bulletin.status in STOPPABLE_STATUSES:
            await stop_rows(session, bulletin.id, reason=reason, actor=actor, final_status=BulletinStatus.CANCELLED)
            await audit(session, actor, "cap_cancel", "bulletin", bulletin.id, reason=reason, reference=reference)
            ids.append(bulletin.id)
            continue
        bulletin.status = BulletinStatus.CANCELLED
        await session.execute(update(Schedule).where(Schedule.bulletin_id == bulletin.id).values(done=True))
        await session.execute(
            update(Delivery)
            .where(
                Delivery.bulletin_id == bulletin.id, Delivery.state.in_((DeliveryState.PENDING, DeliveryState.RETRY))
            )
            .values(state=DeliveryState.CANCELLED, detail=reason)
        )
        await audit(session, actor, "cap_cancel", "bulletin", bulletin.id, reason=reason, reference=reference)
        ids.append(bulletin.id)
    return ids
