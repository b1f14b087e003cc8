"""One stop path for a broadcast (the console's "Dừng phát", the REST API, a CAP Cancel).

``stop_rows`` runs inside the caller's transaction and changes only the database: every
row of the bulletin that is not final yet (pending, retry, in progress, and ``sent``:
playing on a loudspeaker, on a stream, in a call) is settled ``cancelled`` with its own
reason; the bulletin's schedules end (a daily recurrence too); programmes that carry the
item are marked; the bulletin ends ``stopped``. It also counts what cannot be taken back:
SMS parts the SMSC already accepted.

``announce_stop`` runs after the commit and acts on what is live in this process: the
long-polling clusters are woken (their schedule no longer holds the item, so an agent
playing it stops), RTP streams, Icecast mounts and the live stream are cut, calls in
progress are hung up over AMI. A worker in another process finds the same rows cancelled
on its next tick (``Dispatcher.sweep``) and cuts what it holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal, Protocol, runtime_checkable

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.bulletins.errors import WorkflowError
from gateway.bulletins.service import OFF_AIR, audit
from gateway.db.models import Bulletin, CallAttempt, Delivery, ProgrammeRun, Schedule, SmsPart, User, utcnow
from gateway.db.session import write_lock
from gateway.db.states import BulletinStatus, DeliveryState, PartState, ProgrammeRunStatus

STOPPABLE_STATUSES = (
    BulletinStatus.APPROVED,
    BulletinStatus.SCHEDULED,
    BulletinStatus.RENDERING,
    BulletinStatus.READY,
    BulletinStatus.DELIVERING,
    BulletinStatus.DONE,
    BulletinStatus.PARTLY_FAILED,
)
# What each row was doing when the stop came: its reason says so.
ROW_REASONS = {
    DeliveryState.PENDING: "chưa gửi",
    DeliveryState.RETRY: "đang chờ gửi lại",
    DeliveryState.IN_PROGRESS: "đang gửi",
    DeliveryState.SENT: "đang phát hoặc chờ xác nhận",
}
ACCEPTED_PARTS = (PartState.SUBMITTED, PartState.DELIVERED)  # the SMSC holds them: they cannot be recalled


@dataclass(frozen=True)
class StopSummary:
    bulletin_id: int
    previous_status: str
    reason: str
    rows: dict[str, dict[str, int]] = field(default_factory=dict)  # channel -> {state before: rows}
    sms_parts_accepted: int = 0
    schedules_ended: int = 0
    programmes: tuple[int, ...] = ()  # programme runs that carry the item, now marked
    calls: tuple[str, ...] = ()  # calls in progress, to hang up after the commit

    @property
    def settled(self) -> int:
        return sum(sum(states.values()) for states in self.rows.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "bulletin": self.bulletin_id,
            "previous_status": self.previous_status,
            "reason": self.reason,
            "rows": self.rows,
            "settled": self.settled,
            "sms_parts_accepted": self.sms_parts_accepted,
            "schedules_ended": self.schedules_ended,
            "programmes": list(self.programmes),
            "calls": list(self.calls),
        }


async def stop_rows(
    session: AsyncSession,
    bulletin_id: int,
    *,
    reason: str,
    actor: str,
    final_status: Literal[BulletinStatus.STOPPED, BulletinStatus.CANCELLED] = BulletinStatus.STOPPED,
) -> StopSummary:
    """Settle the bulletin's open rows and end it, in the caller's transaction (no commit).

    Raises WorkflowError (404 when there is no such bulletin, 409 when it never went out
    or is already off the air, 422 when the reason is empty)."""
    reason = reason.strip()
    if not reason:
        raise WorkflowError("reason", "cần ghi lý do dừng phát", 422)
    await write_lock(session)
    bulletin = (
        await session.execute(select(Bulletin).where(Bulletin.id == bulletin_id).with_for_update())
    ).scalar_one_or_none()
    if bulletin is None:
        raise WorkflowError("id", f"không có bản tin số {bulletin_id}", 404)
    if bulletin.status in OFF_AIR:
        raise WorkflowError("status", "bản tin đã dừng phát hoặc đã hủy trước đó", 409)
    if bulletin.status not in STOPPABLE_STATUSES:
        raise WorkflowError("status", "bản tin chưa được duyệt phát nên không có gì để dừng", 409)
    rows: dict[str, dict[str, int]] = {}
    counted = await session.execute(
        select(Delivery.channel, Delivery.state, func.count())
        .where(Delivery.bulletin_id == bulletin_id, Delivery.state.in_(tuple(ROW_REASONS)))
        .group_by(Delivery.channel, Delivery.state)
    )
    for channel, state, n in counted.all():
        rows.setdefault(channel, {})[state] = n
    reasons = {state: f"dừng phát ({doing}): {reason}"[:2000] for state, doing in ROW_REASONS.items()}
    await session.execute(  # one statement: a row changing state meanwhile is caught in its new state
        update(Delivery)
        .where(Delivery.bulletin_id == bulletin_id, Delivery.state.in_(tuple(ROW_REASONS)))
        .values(
            state=DeliveryState.CANCELLED,
            lease_owner=None,
            lease_expires_at=None,
            detail=case(reasons, value=Delivery.state, else_=reason),
        )
        .execution_options(synchronize_session=False)
    )
    row_ids = select(Delivery.id).where(Delivery.bulletin_id == bulletin_id).scalar_subquery()
    accepted = (
        await session.execute(
            select(func.count())
            .select_from(SmsPart)
            .where(SmsPart.delivery_id.in_(row_ids), SmsPart.state.in_(ACCEPTED_PARTS))
        )
    ).scalar_one()
    calls = (
        (
            await session.execute(
                select(CallAttempt.call_id).where(CallAttempt.delivery_id.in_(row_ids), CallAttempt.ended_at.is_(None))
            )
        )
        .scalars()
        .all()
    )
    ended = await session.execute(
        update(Schedule)
        .where(Schedule.bulletin_id == bulletin_id, Schedule.done.is_(False))
        .values(done=True)
        .execution_options(synchronize_session=False)
    )
    programmes = await _mark_programmes(session, bulletin_id, reason)
    summary = StopSummary(
        bulletin_id=bulletin_id,
        previous_status=bulletin.status,
        reason=reason,
        rows=rows,
        sms_parts_accepted=int(accepted),
        schedules_ended=int(ended.rowcount or 0),  # type: ignore[attr-defined]
        programmes=tuple(programmes),
        calls=tuple(calls),
    )
    bulletin.status = final_status
    bulletin.updated_at = utcnow()
    await audit(session, actor, "stop", "bulletin", bulletin_id, **summary.as_dict())
    return summary


async def _mark_programmes(session: AsyncSession, bulletin_id: int, reason: str) -> list[int]:
    """Programme runs whose chapters carry the bulletin: the chapter is marked stopped and
    the run says so, so an officer sees which programme still holds the item's audio."""
    marked = []
    runs = (
        (await session.execute(select(ProgrammeRun).where(ProgrammeRun.status == ProgrammeRunStatus.READY)))
        .scalars()
        .all()
    )
    for run in runs:
        if not any(c.get("bulletin_id") == bulletin_id for c in run.chapters):
            continue
        run.chapters = [c | {"stopped": True} if c.get("bulletin_id") == bulletin_id else c for c in run.chapters]
        note = f"Tin số {bulletin_id} đã bị dừng phát ({reason}); chương trình vẫn chứa âm thanh của tin này."
        run.warning = f"{run.warning} {note}".strip()
        marked.append(run.id)
    return marked


def check_may_stop(user: User) -> None:
    """Approvers, admins and the users allowed to release emergencies may stop a broadcast."""
    if not (user.role in ("approver", "admin") or user.can_skip_approval):
        raise WorkflowError("role", "chỉ người duyệt, quản trị hoặc người được phát tin khẩn mới được dừng phát", 403)


async def stop_broadcast(
    session: AsyncSession, services: Any, user: User, bulletin_id: int, reason: str
) -> tuple[StopSummary, dict[str, int]]:
    """The console's and the API's stop: check the role, settle, commit, silence."""
    check_may_stop(user)
    await session.commit()  # end the caller's read transaction: the stop writes from a fresh one
    summary = await stop_rows(session, bulletin_id, reason=reason, actor=user.username)
    await session.commit()
    return summary, await announce_stop(services, bulletin_id)


@runtime_checkable
class Cuttable(Protocol):
    """A channel that holds live work (a stream, a call) for some ledger rows."""

    def live_rows(self) -> set[int]: ...

    async def cut(self, rows: set[int]) -> int: ...


async def announce_stop(services: Any, bulletin_id: int) -> dict[str, int]:
    """After the commit: silence what this process holds of the bulletin. Returns, per
    channel, how many live streams or calls were cut."""
    dispatcher = services.dispatcher
    dispatcher.stopped.add(bulletin_id)  # claimed rows not yet acted on are dropped
    async with services.sessions() as session:
        rows = set((await session.execute(select(Delivery.id).where(Delivery.bulletin_id == bulletin_id))).scalars())
    cut: dict[str, int] = {}
    for name, channel in services.channels.items():
        if isinstance(channel, Cuttable):
            cut[name] = await channel.cut(rows)
    services.device_notifier.notify()
    dispatcher.wake.set()
    return cut


async def sweep(sessions: async_sessionmaker[AsyncSession], channels: dict[str, Any]) -> set[int]:
    """For the worker's tick: a stop committed by another process (the web process, a CAP
    Cancel) cuts what this process holds of the rows it cancelled. Returns the bulletins
    taken off the air within the hour, whose rows claimed already are not acted on."""
    live = {name: channel.live_rows() for name, channel in channels.items() if isinstance(channel, Cuttable)}
    async with sessions() as session:
        since = utcnow() - timedelta(hours=1)
        off_air = set(
            (
                await session.execute(
                    select(Bulletin.id).where(Bulletin.status.in_(OFF_AIR), Bulletin.updated_at >= since)
                )
            ).scalars()
        )
        every = set().union(*live.values())
        gone = (
            set(
                (
                    await session.execute(
                        select(Delivery.id).where(Delivery.id.in_(every), Delivery.state == DeliveryState.CANCELLED)
                    )
                ).scalars()
            )
            if every
            else set()
        )
    for name, rows in live.items():
        if rows & gone:
            await channels[name].cut(rows & gone)
    return off_air
