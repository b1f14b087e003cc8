"""A bulletin's air times: the schedules still to come, with their next times, and the
officer's controls over a daily recurrence (pause, resume, cancel), every one audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.bulletins.errors import WorkflowError
from gateway.bulletins.schedule import next_occurrence
from gateway.bulletins.service import audit, get
from gateway.db.models import Delivery, Schedule, User, utcnow
from gateway.db.states import BulletinStatus

SHOWN = 5  # next air times listed per schedule


@dataclass(frozen=True)
class AirTimes:
    schedule_id: int
    recurrence: str
    paused: bool
    next_times: tuple[datetime, ...]  # UTC


def upcoming(first: datetime, recurrence: str, count: int = SHOWN) -> tuple[datetime, ...]:
    """``first`` and, for a daily recurrence, the times after it."""
    times = [first]
    while len(times) < count and recurrence:
        following = next_occurrence(recurrence, times[-1])
        if following is None:
            break
        times.append(following)
    return tuple(times)


async def air_times(session: AsyncSession, bulletin_id: int) -> list[AirTimes]:
    rows = (
        (
            await session.execute(
                select(Schedule)
                .where(Schedule.bulletin_id == bulletin_id, Schedule.done.is_(False))
                .order_by(Schedule.run_at)
            )
        )
        .scalars()
        .all()
    )
    return [AirTimes(s.id, s.recurrence, s.paused, upcoming(s.run_at, s.recurrence)) for s in rows]


def _may_change(user: User) -> None:
    if user.role not in ("approver", "admin", "operator", "editor"):
        raise WorkflowError("role", "tài khoản không được thay đổi lịch phát", 403)


async def _schedule(session: AsyncSession, bulletin_id: int, schedule_id: int) -> Schedule:
    await get(session, bulletin_id)
    found = await session.get(Schedule, schedule_id)
    if found is None or found.bulletin_id != bulletin_id:
        raise WorkflowError("schedule", f"bản tin {bulletin_id} không có lịch phát số {schedule_id}", 404)
    if found.done:
        raise WorkflowError("schedule", "lịch phát này đã kết thúc hoặc đã hủy", 409)
    return found


async def pause(session: AsyncSession, user: User, bulletin_id: int, schedule_id: int) -> Schedule:
    _may_change(user)
    found = await _schedule(session, bulletin_id, schedule_id)
    if not found.recurrence:
        raise WorkflowError("schedule", "chỉ tạm dừng được lịch lặp lại hằng ngày; lịch một lần thì hủy", 422)
    if found.paused:
        raise WorkflowError("schedule", "lịch phát này đang tạm dừng", 409)
    found.paused = True
    await audit(session, user.username, "schedule_pause", "bulletin", bulletin_id, schedule=schedule_id)
    await session.commit()
    return found


async def resume(session: AsyncSession, user: User, bulletin_id: int, schedule_id: int) -> Schedule:
    """Airs again from the recurrence's next time: the times missed while paused are skipped."""
    _may_change(user)
    found = await _schedule(session, bulletin_id, schedule_id)
    if not found.paused:
        raise WorkflowError("schedule", "lịch phát này không tạm dừng", 409)
    now = utcnow()
    if found.run_at <= now:
        found.run_at = next_occurrence(found.recurrence, now) or now
    found.paused = False
    await audit(
        session,
        user.username,
        "schedule_resume",
        "bulletin",
        bulletin_id,
        schedule=schedule_id,
        run_at=found.run_at.isoformat(),
    )
    await session.commit()
    return found


async def cancel(session: AsyncSession, user: User, bulletin_id: int, schedule_id: int) -> Schedule:
    """The schedule ends; a bulletin left with no air time to come is no longer ``scheduled``."""
    _may_change(user)
    found = await _schedule(session, bulletin_id, schedule_id)
    found.done = True
    bulletin = await get(session, bulletin_id)
    left = (
        await session.execute(
            select(func.count())
            .select_from(Schedule)
            .where(Schedule.bulletin_id == bulletin_id, Schedule.done.is_(False), Schedule.id != schedule_id)
        )
    ).scalar_one()
    if not left and bulletin.status == BulletinStatus.SCHEDULED:
        aired = (
            await session.execute(select(func.count()).select_from(Delivery).where(Delivery.bulletin_id == bulletin_id))
        ).scalar_one()
        bulletin.status = BulletinStatus.DONE if aired else BulletinStatus.APPROVED
    await audit(session, user.username, "schedule_cancel", "bulletin", bulletin_id, schedule=schedule_id)
    await session.commit()
    return found
