"""The SMS part store: what the SMSC said about each wire part, and the ledger row it settles.

Exactly once, or an explained ``unknown`` (DESIGN.md, trust rules):
- the SMSC's message id is stored in the transaction that records its submit_sm_resp;
  a receipt that names an id not stored yet (SMPP sets no order between the two) is kept
  in ``sms_pending_receipts`` and applied in the transaction that stores the id;
- a receipt settles its part and the part's ledger row in one transaction, and a receipt
  repeated for a part already final settles the row again (a row left ``sent`` by a crash
  is repaired by the SMSC's redelivery).
Both sides take the same per-id lock first (the SQLite write lock; a transaction-level
advisory lock on PostgreSQL), so an id and its early receipt cannot pass each other.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, cast

from sqlalchemy import Table, and_, bindparam, delete, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import Delivery, SmsPart, SmsPendingReceipt
from gateway.db.session import write_lock
from gateway.db.states import DeliveryState, PartState, ReceiptState
from gateway.delivery import ledger
from gateway.sms import receipts
from gateway.sms.transport import Receipt

FINAL = (PartState.DELIVERED, PartState.FAILED)


def parts_reference(parts: int) -> str:
    """What the ledger row of an SMS shows as its reference: how many parts it took."""
    return f"{parts} phần"


@dataclass(frozen=True)
class Answer:
    """The SMSC's answer to one submitted part."""

    reference: str
    seq: int
    # "drop": a later part of a message whose earlier part failed, never sent (its row removed)
    state: Literal[PartState.SUBMITTED, PartState.FAILED, PartState.UNKNOWN, "drop"]
    detail: str
    message_id: str = ""  # normalized


@dataclass
class Mark:
    """A part about to be written: its row, ``queued`` by this attempt, becomes
    ``submitting``. ``taken`` is false when the row was no longer this attempt's (another
    worker took the message over and sends it): the part must not be written."""

    part_id: int
    attempt: str
    taken: bool = False


async def mark_on_wire(session: AsyncSession, marks: Sequence[Mark]) -> None:
    """One statement for a group of parts about to be written (a window's worth); does
    not commit. A part is written only once its mark is committed, so a part a crash
    leaves ``queued`` never reached the SMSC."""
    if not marks:
        return
    table = cast(Table, SmsPart.__table__)
    connection = await session.connection()  # Core: no ORM work on the window's path
    by_attempt: dict[str, set[int]] = {}
    for mark in marks:
        by_attempt.setdefault(mark.attempt, set()).add(mark.part_id)
    taken: set[int] = set()
    for attempt, ids in by_attempt.items():  # one attempt, one statement, as a rule
        query = (
            update(table)
            .where(
                table.c.id.in_(sorted(ids)),
                table.c.attempt == attempt,
                # already ``submitting`` under this attempt: this mark's own commit, whose
                # answer a database restart lost (tried again by ``retrying``)
                table.c.state.in_((PartState.QUEUED, PartState.SUBMITTING)),
            )
            .values(state=PartState.SUBMITTING)
            .returning(table.c.id)
        )
        taken |= set((await connection.execute(query)).scalars())
    for mark in marks:
        mark.taken = mark.part_id in taken


async def lock_ids(session: AsyncSession, ids: Iterable[str]) -> None:
    """Serialize writers of the same message ids (sorted: no deadlock between batches)."""
    if session.get_bind().dialect.name != "postgresql":
        await write_lock(session)
        return
    keys = sorted({i for i in ids if i})
    if keys:
        await session.execute(
            # in the order of the locks themselves: two ids may share a hash
            text(
                "SELECT pg_advisory_xact_lock(h) FROM "
                "(SELECT DISTINCT hashtext(k) AS h FROM unnest(CAST(:keys AS text[])) AS k) AS l ORDER BY h"
            ),
            {"keys": keys},
        )


async def record_answers(session: AsyncSession, transport: str, answers: Sequence[Answer]) -> set[int]:
    """Store what the SMSC answered for ``answers`` and apply receipts that came first
    (the caller holds the ids' locks). Returns the ledger rows those receipts may settle.
    One statement for the batch; does not commit."""
    if not answers:
        return set()
    table = cast(Table, SmsPart.__table__)
    connection = await session.connection()
    await connection.execute(
        update(table)
        .where(
            table.c.reference == bindparam("r"),
            table.c.seq == bindparam("s"),
            # not final: a receipt carrying our reference may have settled it already
            # (no IN: an expanding parameter cannot go into an executemany)
            or_(table.c.state == PartState.QUEUED, table.c.state == PartState.SUBMITTING),
        )
        .values(state=bindparam("st"), detail=bindparam("d"), message_id=bindparam("m")),
        [{"r": a.reference, "s": a.seq, "st": a.state, "d": a.detail[:500], "m": a.message_id} for a in answers],
    )
    ids = [a.message_id for a in answers if a.message_id]
    if not ids:
        return set()
    early = (
        (
            await session.execute(
                select(SmsPendingReceipt)
                .where(SmsPendingReceipt.transport == transport, SmsPendingReceipt.message_id.in_(ids))
                .order_by(SmsPendingReceipt.id)
            )
        )
        .scalars()
        .all()
    )
    settle: set[int] = set()
    found = await _by_ids(session, transport, [p.message_id for p in early])
    applied: set[str] = set()
    for pending in early:
        part = found.get(pending.message_id)
        if part is not None and pending.receipt_key not in applied and same_number(pending.sender, part.recipient):
            applied.add(pending.receipt_key)
            settle |= _apply(part, pending.outcome, pending.detail)
    if applied:
        keys = applied
        await session.execute(delete(SmsPendingReceipt).where(SmsPendingReceipt.receipt_key.in_(keys)))
    return settle


async def record_receipts(
    session: AsyncSession, transport: str, batch: Sequence[Receipt]
) -> tuple[list[Receipt], set[int], dict[int, list[SmsPart]]]:
    """Apply receipts to their parts, or keep them until the parts' ids are stored (the
    caller holds the ids' locks). Returns the receipts kept (no part yet), the ledger rows
    to settle, and every part of those rows (for ``settle``). One query for the whole
    batch; does not commit."""
    candidates = {r: receipts.id_candidates(r.message_id) if r.message_id else [] for r in batch}
    found, rows = await _with_rows(session, transport, [c for cs in candidates.values() for c in cs])
    kept: list[Receipt] = []
    settle: set[int] = set()
    for receipt, spellings in candidates.items():
        if receipt.reference:
            part = await _by_reference(session, receipt.reference)
        else:  # its own spelling, else a converted one that went to the receipt's handset
            part = found.get(spellings[0]) if spellings else None
            if part is None:
                converted = (found[c] for c in spellings[1:] if c in found)
                part = next((p for p in converted if same_number(receipt.sender, p.recipient)), None)
        if part is None:
            kept.append(receipt)
            if spellings and receipt.outcome in FINAL:
                key = uuid.uuid4().hex
                for n, candidate in enumerate(spellings):
                    session.add(
                        SmsPendingReceipt(
                            transport=transport,
                            message_id=candidate,
                            receipt_key=key,
                            outcome=ReceiptState(receipt.outcome),
                            detail=receipt.detail[:500],
                            sender=receipt.sender[:24] if n else "",
                        )
                    )
        elif receipt.outcome in FINAL:
            settle |= _apply(part, ReceiptState(receipt.outcome), receipt.detail)
    return kept, settle, rows


def same_number(sender: str, recipient: str) -> bool:
    """Whether a receipt's handset (84…, 0…, +84…) is the part's recipient (E.164); an
    unknown handset matches any. The last nine digits decide: TON/NPI vary by SMSC."""
    digits = "".join(ch for ch in sender if ch.isdigit())
    if len(digits) < 9:
        return True
    return "".join(ch for ch in recipient if ch.isdigit())[-9:] == digits[-9:]


def _apply(part: SmsPart, outcome: ReceiptState, detail: str) -> set[int]:
    """A final outcome for a part; a part already final keeps its first one, and its row
    is settled again either way (idempotent repair)."""
    if part.state not in FINAL:
        part.state, part.detail = PartState(outcome), detail[:500]
    return {part.delivery_id} if part.delivery_id is not None else set()


async def _by_reference(session: AsyncSession, ours: str) -> SmsPart | None:
    part = receipts.part_reference(ours)  # "²" passes str.isdigit, not int()
    if part is None:
        return None
    query = select(SmsPart).where(SmsPart.reference == part[0], SmsPart.seq == part[1])
    return (await session.execute(query)).scalar_one_or_none()


async def _with_rows(
    session: AsyncSession, transport: str, ids: list[str]
) -> tuple[dict[str, SmsPart], dict[int, list[SmsPart]]]:
    """Parts by message id, and every part of the ledger rows they belong to."""
    if not ids:
        return {}, {}
    named = and_(SmsPart.transport == transport, SmsPart.message_id.in_(sorted(set(ids))))
    rows = select(SmsPart.delivery_id).where(named, SmsPart.delivery_id.is_not(None)).scalar_subquery()
    query = select(SmsPart).where(or_(named, SmsPart.delivery_id.in_(rows))).order_by(SmsPart.id)
    by_id: dict[str, SmsPart] = {}
    by_row: dict[int, list[SmsPart]] = {}
    wanted = set(ids)
    for part in (await session.execute(query)).scalars():
        if part.transport == transport and part.message_id in wanted:
            by_id[part.message_id] = part
        if part.delivery_id is not None:
            by_row.setdefault(part.delivery_id, []).append(part)
    return by_id, by_row


async def _by_ids(session: AsyncSession, transport: str, ids: list[str]) -> dict[str, SmsPart]:
    """Parts by message id (the newest where an SMSC reused an id)."""
    if not ids:
        return {}
    query = select(SmsPart).where(SmsPart.transport == transport, SmsPart.message_id.in_(sorted(set(ids))))
    out: dict[str, SmsPart] = {}
    for part in (await session.execute(query.order_by(SmsPart.id))).scalars():
        out[part.message_id] = part
    return out


async def settle(
    session: AsyncSession, delivery_ids: Iterable[int], loaded: dict[int, list[SmsPart]] | None = None
) -> None:
    """Settle ledger rows from their parts: failed if any part failed, delivered when every
    part of the message is. ``loaded`` holds every part of some rows already (read with
    the receipts); the others are read here. Idempotent; does not commit."""
    ids = sorted(set(delivery_ids))
    if not ids:
        return
    if session.get_bind().dialect.name == "postgresql":
        # Receipts of one row's parts may be stored by two transactions at once (an SMSC
        # delivers them on any bind of the account): lock the rows, then read their parts
        # again, so the second sees what the first committed. SQLite has one writer.
        await session.flush()
        await session.execute(select(Delivery.id).where(Delivery.id.in_(ids)).order_by(Delivery.id).with_for_update())
        loaded = None
    by_row = {i: loaded[i] for i in ids if loaded and i in loaded}
    missing = [i for i in ids if i not in by_row]
    if missing:
        query = select(SmsPart).where(SmsPart.delivery_id.in_(missing)).execution_options(populate_existing=True)
        for part in (await session.execute(query)).scalars():
            by_row.setdefault(part.delivery_id or 0, []).append(part)
    settled: list[ledger.Settlement] = []
    for delivery_id, found in by_row.items():
        parts = sorted(found, key=lambda p: p.seq)
        reference = parts_reference(parts[0].total)
        failed = [p for p in parts if p.state == PartState.FAILED]
        if failed:
            first = failed[0]
            detail = f"phần {first.seq}/{first.total}: {first.detail}"
            settled.append(ledger.Settlement(delivery_id, DeliveryState.FAILED, detail, reference))
        elif all(p.state == PartState.DELIVERED for p in parts) and len(parts) == parts[0].total:
            detail = f"đã đến máy người nhận ({len(parts)} phần)"
            settled.append(ledger.Settlement(delivery_id, DeliveryState.DELIVERED, detail, reference))
    await ledger.confirm_many(session, settled)


async def undelivered(session: AsyncSession, delivery_id: int, total: int = 0) -> list[int]:
    """The parts of a row that no receipt confirmed (never stored ones included)."""
    found = (await session.execute(select(SmsPart).where(SmsPart.delivery_id == delivery_id))).scalars().all()
    total = max([total, *(p.total for p in found)])
    delivered = {p.seq for p in found if p.state == PartState.DELIVERED}
    return [seq for seq in range(1, total + 1) if seq not in delivered]


async def clear_undelivered(session: AsyncSession, delivery_id: int) -> int:
    """Remove the parts of a row that no receipt confirmed, so the next attempt sends
    them again (stale ``submitting`` and ``unknown`` parts included). Does not commit."""
    result = await session.execute(
        delete(SmsPart).where(SmsPart.delivery_id == delivery_id, SmsPart.state != PartState.DELIVERED)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def failed_answers(session: AsyncSession, ids: Iterable[str], references: Iterable[str]) -> dict[str, str]:
    """Failed parts of messages outside the ledger (answers to cases), by the SMSC's ids or
    by our message references: message reference -> the failure's detail."""
    ids, references = sorted(set(ids)), sorted(set(references))
    if not ids and not references:
        return {}
    query = select(SmsPart.reference, SmsPart.detail).where(
        SmsPart.delivery_id.is_(None),
        SmsPart.state == "failed",
        or_(SmsPart.message_id.in_(ids), SmsPart.reference.in_(references)),
    )
    return {reference: detail for reference, detail in (await session.execute(query)).all()}
