"""The end of a bulletin's delivery: done or partly failed once no row is open (scheduled
again when occurrences remain), and rows on devices settled ``expired`` past a CAP expiry."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.bulletins.service import audit
from gateway.db.models import Bulletin, Delivery, Schedule, utcnow
from gateway.db.states import BulletinStatus, DeliveryState
from gateway.delivery import ledger
from gateway.delivery.channel import Channel


class Finishing:
    """Part of :class:`~gateway.delivery.dispatcher.Dispatcher`, which sets these."""

    sessions: async_sessionmaker[AsyncSession]
    channels: dict[str, Channel]
    worker: str

    async def expire_sent(self) -> None:
        """Rows handed to devices that never start an expired item (``sent_expires``) settle
        ``expired`` when their bulletin's CAP expiry passes; other rows do when claimed."""
        for channel in self.channels.values():
            if getattr(channel, "sent_expires", False):
                async with self.sessions() as session:
                    await ledger.expire(session, channel.name, utcnow(), sent=True)
                    await session.commit()

    async def finish_bulletins(self) -> None:
        async with self.sessions() as session:
            delivering = (
                (await session.execute(select(Bulletin).where(Bulletin.status == BulletinStatus.DELIVERING)))
                .scalars()
                .all()
            )
            for bulletin in delivering:
                rows: dict[DeliveryState, int] = dict(
                    (
                        await session.execute(
                            select(Delivery.state, func.count())
                            .where(Delivery.bulletin_id == bulletin.id)
                            .group_by(Delivery.state)
                        )
                    ).all()
                )
                if any(state in ledger.OPEN_STATES for state in rows):
                    continue
                succeeded = {DeliveryState.DELIVERED, DeliveryState.SENT, DeliveryState.CANCELLED}
                bulletin.status = BulletinStatus.DONE if set(rows) <= succeeded else BulletinStatus.PARTLY_FAILED
                await audit(session, self.worker, "deliver_end", "bulletin", bulletin.id, counts=rows)
                pending = (
                    await session.execute(
                        select(func.count())
                        .select_from(Schedule)
                        .where(Schedule.bulletin_id == bulletin.id, Schedule.done.is_(False))
                    )
                ).scalar_one()
                if pending:
                    bulletin.status = BulletinStatus.SCHEDULED
            await session.commit()
