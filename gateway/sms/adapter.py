"""SMS channel adapter: ledger rows <-> the SMS service.

An area target expands to the area's subscribers (its villages included) who have not
opted out. A row whose parts the SMSC accepted is ``sent``; receipts settle it as
delivered (every part) or failed (any part). Before sending, the channel checks again
that the resident has not opted out since the campaign was planned, and applies the
per-number daily cap to everything but emergencies.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import Subscriber
from gateway.delivery.channel import Job
from gateway.delivery.ledger import Outcome
from gateway.sms import recipients
from gateway.sms.service import BULLETIN_PREFIX, SmsService, parts_reference


class SmsChannel:
    name = "sms"
    quiet_hours_apply = True
    empty_detail = "không có người đăng ký nhận tin nhắn ở địa bàn này"

    def __init__(self, service: SmsService, daily_cap: int = 0, timezone: str = "Asia/Ho_Chi_Minh") -> None:
        self.service = service
        self.daily_cap = daily_cap
        self.zone = ZoneInfo(timezone)
        self.concurrency = max(1, service.transport.window)

    async def targets_query(self, session: AsyncSession, area_ids: list[int], emergency: bool = False) -> Select[Any]:
        """The phone numbers this campaign goes to, for the planner's INSERT ... SELECT."""
        return await recipients.query(session, area_ids, emergency)

    def _local_midnight(self) -> datetime:
        now = datetime.now(self.zone)
        return now.replace(hour=0, minute=0, second=0, microsecond=0)

    async def _refusal(self, job: Job) -> Outcome | None:
        async with self.service.sessions() as session:
            opted_out = (
                await session.execute(select(Subscriber.opted_out).where(Subscriber.phone == job.claim.target))
            ).scalar_one_or_none()
            if opted_out and job.priority != "emergency":
                return Outcome("cancelled", detail="người nhận đã nhắn HUY sau khi lập danh sách")
            if self.daily_cap and job.priority != "emergency":
                since = self._local_midnight()
                count = await self.service.bulletins_since(session, job.claim.target, since)
                if count >= self.daily_cap:
                    tomorrow = since + timedelta(days=1)
                    return Outcome(
                        "failed",
                        detail=f"số này đã nhận {count} bản tin hôm nay (hạn mức {self.daily_cap}/ngày); "
                        f"có thể gửi lại sau {tomorrow:%d/%m %H:%M}",
                    )
        return None

    async def deliver(self, job: Job) -> Outcome:
        reference = f"{BULLETIN_PREFIX}{job.claim.id}"
        if not job.claim.recovered:
            refusal = await self._refusal(job)
            if refusal is not None:
                return refusal
        text = job.sms_text.strip() or job.title
        sent = await self.service.send(job.claim.target, text, reference, delivery_id=job.claim.id)
        if sent.kind == "retry":
            return Outcome("retry", detail=sent.detail, retry_after=60)
        return Outcome(sent.kind, reference=parts_reference(sent.parts), detail=sent.detail)
