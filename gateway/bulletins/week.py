"""What airs where in one week (Monday to Sunday, Vietnam time): the times still to come
from the schedules (a daily recurrence gives every one of its times, a paused one is
shown paused) and what already went out, from the delivery ledger."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.bulletins.schedule import LOCAL, next_occurrence
from gateway.db.models import Area, Bulletin, Delivery, Schedule, Target

MAX_PER_SCHEDULE = 7 * 24  # times listed per schedule and week (a daily recurrence has a few a day)


@dataclass
class Slot:
    at: datetime  # UTC
    bulletin_id: int
    schedule_id: int | None = None  # a time still to come; None: from the ledger
    recurrence: str = ""
    paused: bool = False
    states: dict[str, int] = field(default_factory=dict)  # ledger rows of that airing by state


@dataclass(frozen=True)
class Week:
    monday: date
    days: list[tuple[date, list[Slot]]]
    bulletins: dict[int, Bulletin]
    places: dict[int, list[tuple[str, str]]]  # bulletin -> (channel, area name)


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _utc(day: date) -> datetime:
    return datetime.combine(day, time(0), LOCAL).astimezone(UTC)


def _times(schedule: Schedule, start: datetime, end: datetime) -> list[datetime]:
    """The schedule's times inside [start, end)."""
    times: list[datetime] = []
    at = schedule.run_at
    for _ in range(MAX_PER_SCHEDULE * 8):
        if at >= end or len(times) >= MAX_PER_SCHEDULE:
            break
        if at >= start:
            times.append(at)
        following = next_occurrence(schedule.recurrence, at) if schedule.recurrence else None
        if following is None:
            break
        at = following
    return times


async def week(session: AsyncSession, any_day: date) -> Week:
    monday = monday_of(any_day)
    start, end = _utc(monday), _utc(monday + timedelta(days=7))
    slots: list[Slot] = []
    schedules = await session.execute(select(Schedule).where(Schedule.done.is_(False), Schedule.run_at < end))
    for s in schedules.scalars():
        slots += [Slot(t, s.bulletin_id, s.id, s.recurrence, s.paused) for t in _times(s, start, end)]
    aired = await session.execute(
        select(Delivery.bulletin_id, Delivery.occurrence, Delivery.state, func.min(Delivery.created_at), func.count())
        .where(Delivery.created_at >= start, Delivery.created_at < end)
        .group_by(Delivery.bulletin_id, Delivery.occurrence, Delivery.state)
    )
    past: dict[tuple[int, int], Slot] = {}
    for bulletin_id, occurrence, state, first, n in aired.all():
        slot = past.setdefault((bulletin_id, occurrence), Slot(first, bulletin_id))
        slot.at = min(slot.at, first)
        slot.states[state] = n
    slots += past.values()
    ids = {s.bulletin_id for s in slots}
    bulletins = {b.id: b for b in (await session.execute(select(Bulletin).where(Bulletin.id.in_(ids)))).scalars()}
    places: dict[int, list[tuple[str, str]]] = defaultdict(list)
    rows = await session.execute(
        select(Target.bulletin_id, Target.channel, Area.name)
        .join(Area, Area.id == Target.area_id)
        .where(Target.bulletin_id.in_(ids))
        .order_by(Target.id)
    )
    for bulletin_id, channel, name in rows.all():
        places[bulletin_id].append((channel, name))
    by_day: dict[date, list[Slot]] = defaultdict(list)
    for slot in sorted(slots, key=lambda s: (s.at, s.bulletin_id)):
        by_day[slot.at.astimezone(LOCAL).date()].append(slot)
    days = [(monday + timedelta(days=i), by_day.get(monday + timedelta(days=i), [])) for i in range(7)]
    return Week(monday, days, bulletins, dict(places))
