"""SMS channel adapter: ledger rows <-> the SMS service.

An area target expands to the area's subscribers (its villages included) who have not
opted out. A row whose parts the SMSC accepted is ``sent``; receipts settle it as
delivered (every part) or failed (any part). Before sending, the channel checks again
that the resident has not opted out since the campaign was planned, and applies the
per-number daily cap to everything but emergencies.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import SmsPart, Subscriber
from gateway.db.states import DeliveryState, PartState
from gateway.delivery.channel import Job
from gateway.delivery.ledger import Outcome
from gateway.sms import recipients
from gateway.sms.service import BULLETIN_PREFIX, Message, SmsService, parts_reference


class SmsChannel:
    name = "sms"
    quiet_hours_apply = True
    empty_detail = "không có người đăng ký nhận tin nhắn ở địa bàn này"
    batch = 500  # rows claimed, checked, sent and reported together (deliver_many)

    def __init__(self, service: SmsService, daily_cap: int = 0, timezone: str = "Asia/Ho_Chi_Minh") -> None:
        self.service = service
        self.daily_cap = daily_cap
        self.zone = ZoneInfo(timezone)
        self.concurrency = max(1, service.transport.window)

    @property
    def ready(self) -> bool:
        """Rows are claimed only by a process that may send: one holding a bind slot."""
        return self.service.sending

    async def targets_query(self, session: AsyncSession, area_ids: list[int], emergency: bool = False) -> Select[Any]:
        """The phone numbers this campaign goes to, for the planner's INSERT ... SELECT."""
        return await recipients.query(session, area_ids, emergency)

    def _local_midnight(self) -> datetime:
        now = datetime.now(self.zone)
        return now.replace(hour=0, minute=0, second=0, microsecond=0)

    async def _refusals(self, jobs: Sequence[Job]) -> dict[int, Outcome]:
        """Opt-outs since planning, and the daily cap (emergencies excepted), for a batch
        in two queries (the cap reads sms_parts by its recipient index)."""
        fresh = [job for job in jobs if not job.claim.recovered]
        if not fresh:
            return {}
        phones = sorted({job.claim.target for job in fresh})
        refusals: dict[int, Outcome] = {}
        async with self.service.sessions() as session:
            opted = set(
                (
                    await session.execute(
                        select(Subscriber.phone).where(Subscriber.phone.in_(phones), Subscriber.opted_out.is_(True))
                    )
                ).scalars()
            )
            capped = [job for job in fresh if job.priority != "emergency" and job.claim.target not in opted]
            capped_ids = {job.claim.id for job in capped}
            counts: dict[str, int] = {}
            since = self._local_midnight()
            if self.daily_cap and capped:
                own = [f"{BULLETIN_PREFIX}{job.claim.id}" for job in capped]
                query = (
                    select(SmsPart.recipient, func.count(func.distinct(SmsPart.reference)))
                    .where(
                        SmsPart.recipient.in_(sorted({job.claim.target for job in capped})),
                        SmsPart.created_at >= since,
                        SmsPart.reference.like(f"{BULLETIN_PREFIX}%"),
                        SmsPart.reference.not_in(own),  # a retry of this very message is not a new one
                        SmsPart.state != PartState.FAILED,
                    )
                    .group_by(SmsPart.recipient)
                )
                counts = {phone: int(n) for phone, n in (await session.execute(query)).all()}
        tomorrow = since + timedelta(days=1)
        for job in fresh:
            if job.claim.target in opted and job.priority != "emergency":  # an opt-out never covers emergencies
                refusals[job.claim.id] = Outcome(
                    DeliveryState.CANCELLED, detail="người nhận đã nhắn HUY sau khi lập danh sách"
                )
            elif self.daily_cap and job.claim.id in capped_ids and counts.get(job.claim.target, 0) >= self.daily_cap:
                count = counts[job.claim.target]
                refusals[job.claim.id] = Outcome(
                    DeliveryState.FAILED,
                    detail=f"số này đã nhận {count} bản tin hôm nay (hạn mức {self.daily_cap}/ngày); "
                    f"có thể gửi lại sau {tomorrow:%d/%m %H:%M}",
                )
        return refusals

    async def deliver(self, job: Job) -> Outcome:
        return (await self.deliver_many([job]))[0]

    async def deliver_many(self, jobs: Sequence[Job]) -> list[Outcome]:
        """One outcome per job, in order: refusals checked for the batch, then every
        message sent through the window at once."""
        refusals = await self._refusals(jobs)
        sending = [job for job in jobs if job.claim.id not in refusals]
        messages = [
            Message(
                job.claim.target,
                job.sms_text.strip() or job.title,
                f"{BULLETIN_PREFIX}{job.claim.id}",
                job.claim.id,
                at_least_once=job.priority == "emergency",
            )
            for job in sending
        ]
        outcomes = dict(refusals)
        for job, sent in zip(sending, await self.service.send_many(messages), strict=True):
            if sent.kind == DeliveryState.RETRY:
                outcomes[job.claim.id] = Outcome(DeliveryState.RETRY, detail=sent.detail, retry_after=60)
            else:
                outcomes[job.claim.id] = Outcome(sent.kind, reference=parts_reference(sent.parts), detail=sent.detail)
        return [outcomes[job.claim.id] for job in jobs]
