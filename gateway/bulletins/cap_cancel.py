"""Taking alerts referenced by a CAP Update or Cancel off the air.

One call, inside the caller's transaction (it never commits): the new bulletin of an
Update and these cancellations commit together or not at all. The stop path
(stopping a broadcast on every channel) is meant to replace the body of this function.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.bulletins.service import audit
from gateway.db.models import Bulletin, Delivery, Schedule


async def cancel_referenced(
    session: AsyncSession, bulletins: Sequence[Bulletin], actor: str, reason: str, reference: str = ""
) -> list[int]:
    """Cancel each bulletin not cancelled yet: its schedules end, its pending and retry
    ledger rows are cancelled with ``reason``. Returns the ids cancelled now. No commit."""
    ids = []
    for bulletin in bulletins:
        if bulletin.status == "cancelled":
            continue
        bulletin.status = "cancelled"
        await session.execute(update(Schedule).where(Schedule.bulletin_id == bulletin.id).values(done=True))
        await session.execute(
            update(Delivery)
            .where(Delivery.bulletin_id == bulletin.id, Delivery.state.in_(("pending", "retry")))
            .values(state="cancelled", detail=reason)
        )
        await audit(session, actor, "cap_cancel", "bulletin", bulletin.id, reason=reason, reference=reference)
        ids.append(bulletin.id)
    return ids
