"""SMS channel adapter: ledger rows <-> transport submissions and delivery reports.

An area target expands to the area's subscribers (its villages included) who have not
opted out. A submission the transport accepted is ``sent``; the delivery report settles it
as delivered or failed. A recovered claim (a worker died after claiming) is not sent
again: SMS cannot be un-sent, so it is marked ``unknown`` for an operator to decide.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import Area, Subscriber
from gateway.delivery.channel import Job
from gateway.delivery.ledger import Outcome
from gateway.sms.kannel import KannelTransport

REFERENCE_PREFIX = "d"


class SmsChannel:
    name = "sms"
    quiet_hours_apply = True

    def __init__(self, transport: KannelTransport) -> None:
        self.transport = transport

    async def expand(self, session: AsyncSession, area_id: int) -> list[str]:
        areas, frontier = {area_id}, {area_id}
        while frontier:  # the area and everything under it
            children = set((await session.execute(select(Area.id).where(Area.parent_id.in_(frontier)))).scalars())
            frontier = children - areas
            areas |= frontier
        phones = await session.execute(
            select(Subscriber.phone)
            .where(Subscriber.area_id.in_(areas), Subscriber.opted_out.is_(False))
            .order_by(Subscriber.phone)
        )
        return list(phones.scalars())

    async def deliver(self, job: Job) -> Outcome:
        if job.claim.recovered:
            return Outcome("unknown", detail="có thể đã gửi trước khi tiến trình dừng; không gửi lại để tránh trùng")
        text = job.sms_text.strip() or job.title
        result = await self.transport.send(job.claim.target, text, f"{REFERENCE_PREFIX}{job.claim.id}")
        if result.accepted:
            return Outcome("sent", reference=f"{result.parts} phần", detail="đã chuyển tổng đài, chờ báo nhận")
        if result.temporary:
            return Outcome("retry", detail=result.detail, retry_after=60)
        return Outcome("failed", detail=result.detail)
