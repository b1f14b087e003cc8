"""The delivery ledger: claim rows atomically under a lease, act, report the outcome.

States: pending -> in_progress (leased) -> delivered | failed | unknown, or back to
retry (pending again at ``next_attempt_at``). A row whose bulletin expired (a CAP
``<expires>``) before it was acted on settles ``expired`` and is never claimed. A worker that dies leaves its rows
in_progress; when the lease expires another worker claims them with ``recovered`` set,
and the channel confirms what was already done instead of doing it twice. A report is
accepted only from the lease holder, so a worker that lost its lease cannot overwrite
the outcome of the one that took over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, false, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import Bulletin, Delivery, utcnow
from gateway.db.session import write_lock

FINAL_STATES = ("delivered", "failed", "unknown", "cancelled", "sent", "expired")
OPEN_STATES = ("pending", "retry", "in_progress")
PRIORITY_RANK = {"normal": 0, "priority": 1, "emergency": 2}


@dataclass(frozen=True)
class Claim:
    id: int
    bulletin_id: int
    occurrence: int
    channel: str
    target: str
    attempts: int
    recovered: bool  # a previous holder's lease expired: it may have acted already


@dataclass(frozen=True)
class Outcome:
    # delivered | sent (handed over, a receipt will follow) | retry | failed | unknown | cancelled | expired
    kind: str
    reference: str = ""
    detail: str = ""
    retry_after: float = 30.0
    defer: bool = False  # a retry that was not an attempt (outside the call window): not counted

    def __post_init__(self) -> None:
        if self.kind not in ("delivered", "sent", "retry", "failed", "unknown", "cancelled", "expired"):
            raise ValueError(f"unknown outcome kind {self.kind!r}")


def _claimable(channel: str, now: datetime) -> ColumnElement[bool]:
    return and_(
        Delivery.channel == channel,
        or_(
            and_(Delivery.state.in_(("pending", "retry")), Delivery.next_attempt_at <= now),
            and_(Delivery.state == "in_progress", Delivery.lease_expires_at < now),
        ),
    )


SENT_WINDOW = timedelta(days=1)
EXPIRED_DETAIL = "hết hạn (CAP <expires>) trước khi kịp gửi: không gửi nữa"


async def expire(session: AsyncSession, channel: str, now: datetime, sent: bool = False) -> int:
    """Settle as ``expired`` the rows of ``channel`` nobody acts on (queued, waiting for a
    retry, or left by a worker whose lease ran out) whose bulletin expired; with ``sent``
    also the rows handed to a device that starts nothing past the expiry (a pull cluster).
    No commit."""
    # Open rows belong to bulletins being delivered; sent rows stay on the clusters'
    # schedules for 12 hours. A few ids, found by the expiry index, so a claim in a
    # 100,000-row campaign costs nothing when no alert expired.
    recent = Bulletin.expires_at > now - SENT_WINDOW if sent else false()
    expired = (
        (
            await session.execute(
                select(Bulletin.id).where(Bulletin.expires_at <= now, or_(Bulletin.status == "delivering", recent))
            )
        )
        .scalars()
        .all()
    )
    if not expired:
        return 0
    waiting = _claimable(channel, now)
    if sent:
        waiting = or_(waiting, and_(Delivery.channel == channel, Delivery.state == "sent"))
    result = await session.execute(
        update(Delivery)
        .where(waiting, Delivery.bulletin_id.in_(expired))
        .values(state="expired", detail=EXPIRED_DETAIL, lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def claim(session: AsyncSession, channel: str, worker: str, lease_seconds: int, limit: int = 10) -> list[Claim]:
    """Lease up to ``limit`` due rows of ``channel``, emergencies first; rows of expired
    bulletins are settled ``expired`` first, never claimed. Commits."""
    now = utcnow()
    expires = now + timedelta(seconds=lease_seconds)
    order = (Delivery.priority.desc(), Delivery.next_attempt_at, Delivery.id)
    if session.bind.dialect.name != "postgresql":  # type: ignore[union-attr]
        await write_lock(session)  # SQLite has one writer at a time: expire, select and update in one
    await expire(session, channel, now)
    if session.bind.dialect.name == "postgresql":  # type: ignore[union-attr]
        rows = (
            (
                await session.execute(
                    select(Delivery)
                    .where(_claimable(channel, now))
                    .order_by(*order)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            .scalars()
            .all()
        )
    else:
        rows = (
            (await session.execute(select(Delivery).where(_claimable(channel, now)).order_by(*order).limit(limit)))
            .scalars()
            .all()
        )
    claims = []
    for row in rows:
        claims.append(
            Claim(
                row.id,
                row.bulletin_id,
                row.occurrence,
                row.channel,
                row.target,
                row.attempts + 1,
                recovered=row.state == "in_progress",
            )
        )
        row.state = "in_progress"
        row.lease_owner = worker
        row.lease_expires_at = expires
        row.attempts += 1
    await session.commit()
    return claims


async def report(session: AsyncSession, claim_id: int, worker: str, outcome: Outcome, max_attempts: int) -> bool:
    """Record an outcome for a row this worker holds. False when the lease was lost."""
    row = (
        await session.execute(select(Delivery).where(Delivery.id == claim_id).with_for_update())
    ).scalar_one_or_none()
    if row is None or row.state != "in_progress" or row.lease_owner != worker:
        await session.rollback()
        return False
    row.reference = outcome.reference or row.reference
    row.detail = outcome.detail
    row.lease_owner = None
    row.lease_expires_at = None
    if outcome.kind == "retry" and outcome.defer:
        row.state = "retry"
        row.attempts = max(0, row.attempts - 1)
        row.next_attempt_at = utcnow() + timedelta(seconds=outcome.retry_after)
    elif outcome.kind == "retry":
        if row.attempts >= max_attempts:
            row.state = "failed"
            row.detail = f"{outcome.detail} (hết {max_attempts} lần thử)".strip()
        else:
            row.state = "retry"
            row.next_attempt_at = utcnow() + timedelta(seconds=outcome.retry_after)
    else:
        row.state = outcome.kind
    await session.commit()
    return True


async def extend(session: AsyncSession, claim_id: int, worker: str, lease_seconds: int) -> bool:
    """Renew a lease during a long action."""
    result = await session.execute(
        update(Delivery)
        .where(Delivery.id == claim_id, Delivery.lease_owner == worker, Delivery.state == "in_progress")
        .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
    )
    await session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def retry_now(session: AsyncSession, delivery_id: int) -> bool:
    """Operator action: put a failed or unknown row back in the queue."""
    result = await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.state.in_(("failed", "unknown")))
        .values(state="retry", next_attempt_at=utcnow(), attempts=0)
    )
    await session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def confirm(session: AsyncSession, delivery_id: int, kind: str, detail: str = "", reference: str = "") -> bool:
    """A receipt from the network (an SMS delivery report, a cluster's proof of play)
    settles a row that is not final yet, whatever its place in the queue: a cluster that
    played by its own clock may report before the worker has even claimed the row, and the
    worker's later report is refused because it no longer holds the row: whatever that
    report would have recorded (the parts of an SMS) comes with the receipt as ``reference``."""
    if kind not in ("delivered", "failed"):
        raise ValueError(f"a receipt settles a row as delivered or failed, not {kind!r}")
    # a proof that it was delivered after all (played while it expired) outranks ``expired``
    settles = (*OPEN_STATES, "sent", "unknown", *(("expired",) if kind == "delivered" else ()))
    result = await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.state.in_(settles))
        .values(state=kind, detail=detail, **({"reference": reference} if reference else {}))
    )
    await session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]
