"""Due schedules -> ledger rows: an occurrence is taken by one worker (a guarded update),
its render awaited, its targets queued as rows, emergencies first."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from gateway.bulletins.schedule import in_quiet_hours, next_occurrence
from gateway.bulletins.service import OFF_AIR, audit, targets_of
from gateway.config import Settings
from gateway.db.models import Bulletin, Schedule, utcnow
from gateway.db.states import BulletinStatus
from gateway.delivery import ledger, planner
from gateway.delivery.channel import Channel
from gateway.delivery.renders import Renders


class Occurrences(Renders):
    """Part of :class:`~gateway.delivery.dispatcher.Dispatcher`, which sets these."""

    settings: Settings
    channels: dict[str, Channel]
    worker: str

    async def run_schedules(self) -> bool:
        async with self.sessions() as session:
            due = (
                (
                    await session.execute(
                        select(Schedule)
                        .where(Schedule.done.is_(False), Schedule.paused.is_(False), Schedule.run_at <= utcnow())
                        .join(Bulletin, Bulletin.id == Schedule.bulletin_id)
                        # Emergencies skip the queue (Thông tư 39/2020), then the oldest first.
                        .order_by((Bulletin.priority == "emergency").desc(), Schedule.run_at)
                    )
                )
                .scalars()
                .all()
            )
        started = False
        for sched in due:
            started = await self.start_occurrence(sched.id) or started
        return started  # a schedule waiting for its render is not work done: the loop may rest

    async def start_occurrence(self, schedule_id: int) -> bool:
        """Render and queue one due occurrence; whether it was queued."""
        async with self.sessions() as session:
            sched = await session.get(Schedule, schedule_id)
            if sched is None or sched.done or sched.paused:
                return False
            bulletin = await session.get(Bulletin, sched.bulletin_id)
            if bulletin is None or bulletin.status in OFF_AIR:
                sched.done = True
                await session.commit()
                return True
            if bulletin.status == BulletinStatus.SCHEDULED:
                bulletin.status = BulletinStatus.RENDERING
                await audit(session, self.worker, "render_start", "bulletin", bulletin.id)
                await session.commit()
            if not await self._has_renders(session, bulletin) and not self._rendered(bulletin.id):
                return False
            targets = await targets_of(session, bulletin.id)
            occurrence = sched.occurrence
            # Take the schedule: only one worker passes this guarded update.
            following = next_occurrence(sched.recurrence, sched.run_at)
            values = {"occurrence": occurrence + 1, "run_at": following} if following else {"done": True}
            taken = await session.execute(
                update(Schedule)
                .where(
                    Schedule.id == sched.id,
                    Schedule.occurrence == occurrence,
                    Schedule.done.is_(False),
                    Schedule.paused.is_(False),
                )
                .values(**values)
            )
            if not taken.rowcount:  # type: ignore[attr-defined]
                await session.rollback()
                return False
            rank = ledger.PRIORITY_RANK[bulletin.priority]
            occurrence_id = sched.id * 100000 + occurrence
            queued = await planner.queue(
                session,
                self.channels,
                bulletin.id,
                occurrence_id,
                rank,
                targets,
                lambda channel: self._first_attempt(channel, bulletin),
            )
            bulletin.status = BulletinStatus.DELIVERING
            bulletin.render_error = ""
            await audit(
                session,
                self.worker,
                "deliver_start",
                "bulletin",
                bulletin.id,
                occurrence=occurrence_id,
                targets=len(targets),
                rows=queued,
            )
            await session.commit()
        self.wake.set()
        return True

    def _first_attempt(self, channel: str, bulletin: Bulletin) -> datetime:
        now = utcnow()
        quiet = self.settings.quiet_hours.get(channel)
        if quiet is None or bulletin.priority == "emergency":
            return now
        return in_quiet_hours(now, quiet.start, quiet.end) or now
