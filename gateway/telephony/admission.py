"""Whether a call may be dialled now: the call window (only emergencies ring outside it;
the row waits, and a deferral does not count as an attempt), an opt-out made since the
campaign was planned, and the daily cap of bulletin calls a number has answered
(emergencies exempt from both)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.bulletins.schedule import in_quiet_hours
from gateway.config import QuietHours
from gateway.db.models import CallAttempt, Subscriber, utcnow
from gateway.db.states import DeliveryState
from gateway.delivery import ledger
from gateway.delivery.channel import Job
from gateway.delivery.ledger import Outcome


async def refusal(
    sessions: async_sessionmaker[AsyncSession], job: Job, window: QuietHours | None, zone: ZoneInfo, daily_cap: int
) -> Outcome | None:
    """The outcome that stands for the call when it may not be dialled now, else None."""
    emergency = job.priority == "emergency"
    if window is not None and not emergency:
        resume = in_quiet_hours(utcnow(), window.start, window.end, zone)
        if resume is not None:
            wait = max(60.0, (resume - utcnow()).total_seconds())
            local = resume.astimezone(zone)
            return Outcome(
                DeliveryState.RETRY, detail=f"ngoài giờ gọi, chờ tới {local:%H:%M}", retry_after=wait, defer=True
            )
    async with sessions() as session:
        opted_out = (
            await session.execute(select(Subscriber.opted_out).where(Subscriber.phone == job.claim.target))
        ).scalar_one_or_none()
        if opted_out and not emergency:
            return Outcome(DeliveryState.CANCELLED, detail="người nghe đã từ chối nhận bản tin sau khi lập danh sách")
        if daily_cap and not emergency:
            midnight = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
            answered = (
                await session.execute(
                    select(func.count())
                    .select_from(CallAttempt)
                    .where(
                        CallAttempt.number == job.claim.target,
                        CallAttempt.answered_at >= midnight,
                        CallAttempt.priority < ledger.PRIORITY_RANK["emergency"],
                    )
                )
            ).scalar_one()
            if answered >= daily_cap:
                return Outcome(
                    DeliveryState.FAILED,
                    detail=f"số này đã nghe {answered} cuộc gọi bản tin hôm nay (hạn mức {daily_cap}/ngày)",
                )
    return None
