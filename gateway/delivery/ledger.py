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
from typing import cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, false, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import Bulletin, Delivery, utcnow
from gateway.db.session import write_lock
from gateway.db.states import (
    FINAL_DELIVERY,
    OPEN_DELIVERY,
    OUTCOME_KINDS,
    BulletinStatus,
    DeliveryState,
    OutcomeKind,
    ReceiptKind,
)

FINAL_STATES = FINAL_DELIVERY
OPEN_STATES = OPEN_DELIVERY
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
    kind: OutcomeKind
    reference: str = ""
    detail: str = ""
    retry_after: float = 30.0
    defer: bool = False  # a retry that was not an attempt (outside the call window): not counted

    def __post_init__(self) -> None:
        if self.kind not in OUTCOME_KINDS:  # a value that came past the type checker (a str from outside)
            raise ValueError(f"unknown outcome kind {self.kind!r}")


def _claimable(channel: str, now: datetime) -> ColumnElement[bool]:
    return and_(
        Delivery.channel == channel,
        or_(
            and_(Delivery.state.in_((DeliveryState.PENDING, DeliveryState.RETRY)), Delivery.next_attempt_at <= now),
            and_(Delivery.state == DeliveryState.IN_PROGRESS, Delivery.lease_expires_at < now),
        ),
    )


RETRYABLE = (DeliveryState.FAILED, DeliveryState.UNKNOWN)  # what an operator may queue again
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
                select(Bulletin.id).where(
                    Bulletin.expires_at <= now, or_(Bulletin.status == BulletinStatus.DELIVERING, recent)
                )
            )
        )
        .scalars()
        .all()
    )
    if not expired:
        return 0
    waiting = _claimable(channel, now)
    if sent:
        waiting = or_(waiting, and_(Delivery.channel == channel, Delivery.state == DeliveryState.SENT))
    result = await session.execute(
        update(Delivery)
        .where(waiting, Delivery.bulletin_id.in_(expired))
        .values(state=DeliveryState.EXPIRED, detail=EXPIRED_DETAIL, lease_owner=None, lease_expires_at=None)
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
        # SQLite has one writer at a time: take it only when something is due (an idle
        # channel does not queue for the lock; with nothing claimable, nothing expires
        # either), then expire, select and update in one write transaction.
        due = await session.execute(select(Delivery.id).where(_claimable(channel, now)).limit(1))
        if due.first() is None:
            await session.rollback()
            return []
        await write_lock(session)
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
        # A row taken over from a holder that died continues that holder's try: counting it
        # again gave a resident fewer calls than configured (docs/chaos.md).
        recovered = row.state == DeliveryState.IN_PROGRESS
        if not recovered or row.attempts == 0:
            row.attempts += 1
        claims.append(
            Claim(row.id, row.bulletin_id, row.occurrence, row.channel, row.target, row.attempts, recovered=recovered)
        )
        row.state = DeliveryState.IN_PROGRESS
        row.lease_owner = worker
        row.lease_expires_at = expires
    await session.commit()
    return claims


async def report(session: AsyncSession, claim_id: int, worker: str, outcome: Outcome, max_attempts: int) -> bool:
    """Record an outcome for a row this worker holds. False when the lease was lost."""
    return bool(await report_many(session, {claim_id: outcome}, worker, max_attempts))


async def report_many(session: AsyncSession, outcomes: dict[int, Outcome], worker: str, max_attempts: int) -> set[int]:
    """Record outcomes for rows this worker holds, in one transaction. Returns the rows
    recorded; the others' leases were lost (a receipt or another worker settled them)."""
    recorded: set[int] = set()
    ids = sorted(outcomes)
    await write_lock(session)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = (
            (
                await session.execute(
                    select(Delivery).where(Delivery.id.in_(chunk)).order_by(Delivery.id).with_for_update()
                )
            )
            .scalars()
            .all()
        )
        for row in rows:
            if row.state == DeliveryState.IN_PROGRESS and row.lease_owner == worker:
                _record(row, outcomes[row.id], max_attempts)
                recorded.add(row.id)
    if recorded:
        await session.commit()
    else:
        await session.rollback()
    return recorded


def _record(row: Delivery, outcome: Outcome, max_attempts: int) -> None:
    row.reference = outcome.reference or row.reference
    row.detail = outcome.detail
    row.lease_owner = None
    row.lease_expires_at = None
    if outcome.kind == DeliveryState.RETRY and outcome.defer:
        row.state = DeliveryState.RETRY
        row.attempts = max(0, row.attempts - 1)
        row.next_attempt_at = utcnow() + timedelta(seconds=outcome.retry_after)
    elif outcome.kind == DeliveryState.RETRY:
        if row.attempts >= max_attempts:
            row.state = DeliveryState.FAILED
            row.detail = f"{outcome.detail} (hết {max_attempts} lần thử)".strip()
        else:
            row.state = DeliveryState.RETRY
            row.next_attempt_at = utcnow() + timedelta(seconds=outcome.retry_after)
    else:
        row.state = outcome.kind


async def extend(session: AsyncSession, claim_id: int, worker: str, lease_seconds: int) -> bool:
    """Renew a lease during a long action."""
    result = await session.execute(
        update(Delivery)
        .where(Delivery.id == claim_id, Delivery.lease_owner == worker, Delivery.state == DeliveryState.IN_PROGRESS)
        .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
    )
    await session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def retry_now(session: AsyncSession, delivery_id: int, states: tuple[DeliveryState, ...] = RETRYABLE) -> bool:
    """Operator action: put a row in one of ``states`` back in the queue. Commits what the
    session holds with it (a channel's preparation), or rolls it all back when the row is
    not in those states any more."""
    result = await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.state.in_(states))
        .values(state=DeliveryState.RETRY, next_attempt_at=utcnow(), attempts=0)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        await session.rollback()
        return False
    await session.commit()
    return True


RECEIPT_KINDS = (DeliveryState.DELIVERED, DeliveryState.FAILED)
SETTLED_BY_RECEIPT = (*OPEN_STATES, DeliveryState.SENT, DeliveryState.UNKNOWN)


@dataclass(frozen=True)
class Settlement:
    """What a receipt from the network says about a row (see ``confirm``)."""

    delivery_id: int
    kind: ReceiptKind
    detail: str = ""
    reference: str = ""


async def confirm_many(session: AsyncSession, settled: list[Settlement]) -> None:
    """``confirm`` for many rows in one statement; does not commit."""
    if not settled:
        return
    if any(s.kind not in RECEIPT_KINDS for s in settled):
        raise ValueError("a receipt settles a row as delivered or failed")
    table = cast(Table, Delivery.__table__)
    connection = await session.connection()
    await connection.execute(
        update(table)
        # no IN (...): an expanding parameter cannot go with executemany
        .where(table.c.id == bindparam("i"), or_(*(table.c.state == s for s in SETTLED_BY_RECEIPT)))
        .values(
            state=bindparam("k"),
            detail=bindparam("d"),
            reference=func.coalesce(func.nullif(bindparam("r"), ""), table.c.reference),
            updated_at=utcnow(),
        ),
        [{"i": s.delivery_id, "k": s.kind, "d": s.detail, "r": s.reference} for s in settled],
    )


async def confirm(
    session: AsyncSession,
    delivery_id: int,
    kind: ReceiptKind,
    detail: str = "",
    reference: str = "",
    commit: bool = True,
) -> bool:
    """A receipt from the network (an SMS delivery report, a cluster's proof of play)
    settles a row that is not final yet, whatever its place in the queue: a cluster that
    played by its own clock may report before the worker has even claimed the row, and the
    worker's later report is refused because it no longer holds the row: whatever that
    report would have recorded (the parts of an SMS) comes with the receipt as ``reference``.
    With ``commit`` False the caller commits it with what caused it (an SMS part's state)."""
    if kind not in RECEIPT_KINDS:
        raise ValueError(f"a receipt settles a row as delivered or failed, not {kind!r}")
    # a proof that it was delivered after all (played while it expired) outranks ``expired``
    settles = (*SETTLED_BY_RECEIPT, *((DeliveryState.EXPIRED,) if kind == DeliveryState.DELIVERED else ()))
    result = await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.state.in_(settles))
        .values(state=kind, detail=detail, **({"reference": reference} if reference else {}))
    )
    if commit:
        await session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]
