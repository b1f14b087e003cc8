"""The SMS service: splits a message into wire parts, keeps one row per part, submits them
through the configured transport, and settles parts and ledger rows from receipts.

Part states: submitting (written before the transport is asked) -> submitted (the SMSC
accepted it) -> delivered | failed (receipt). A part the transport refused for now is
removed again, so the next attempt sends it; a part found still ``submitting`` by a later
attempt means a worker died mid-submit: it may have gone out, so the row is reported
``unknown`` for an operator instead of being sent twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.bulletins.errors import WorkflowError
from gateway.bulletins.service import audit
from gateway.db.models import SmsPart
from gateway.db.session import write_lock
from gateway.delivery import ledger
from gateway.phones import to_e164
from gateway.sms import inbound, receipts
from gateway.sms.codec import wire_parts
from gateway.sms.transport import Mo, OutPart, Receipt, Transport

log = logging.getLogger(__name__)
BULLETIN_PREFIX = "d"  # part references of ledger rows: d<delivery id>


@dataclass(frozen=True)
class Sent:
    kind: str  # sent | retry | failed | unknown
    parts: int
    detail: str


def parts_reference(parts: int) -> str:
    """What the ledger row of an SMS shows as its reference: how many parts it took."""
    return f"{parts} phần"


def concat_reference(reference: str) -> int:
    """The 8-bit concatenation reference of a message: stable across retries."""
    return hashlib.blake2s(reference.encode(), digest_size=1).digest()[0]


class SmsService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], transport: Transport) -> None:
        self.sessions = sessions
        self.transport = transport
        self._replies: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self.transport.start(self.on_mo, self.on_receipt)

    async def close(self) -> None:
        for task in list(self._replies):
            await task
        await self.transport.close()

    # --- outbound --------------------------------------------------------------------
    async def send(self, to: str, text: str, reference: str, delivery_id: int | None = None) -> Sent:
        parts = wire_parts(text, concat_reference(reference))
        if not parts:
            return Sent("failed", 0, "tin nhắn rỗng")
        async with self.sessions() as session:
            rows = (await session.execute(select(SmsPart).where(SmsPart.reference == reference))).scalars().all()
            done = {row.seq for row in rows if row.state != "submitting"}
            if any(row.state == "submitting" for row in rows):
                return Sent(
                    "unknown", len(parts), "có phần đang gửi dở khi tiến trình dừng; không gửi lại để tránh trùng"
                )
        for part in parts:
            if part.seq in done:
                continue
            async with self.sessions() as session:
                session.add(
                    SmsPart(
                        reference=reference,
                        delivery_id=delivery_id,
                        recipient=to,
                        seq=part.seq,
                        total=part.total,
                        encoding="ucs2" if part.data_coding == 8 else "gsm7",
                        transport=self.transport.name,
                    )
                )
                await session.commit()
            result = await self.transport.submit(OutPart(to, part, f"{reference}.{part.seq}"))
            async with self.sessions() as session:
                where = (SmsPart.reference == reference, SmsPart.seq == part.seq)
                if result.accepted:
                    message_id = receipts.normalize_id(result.message_id) if result.message_id else ""
                    values = {"state": "submitted", "detail": result.detail[:500], "message_id": message_id}
                    await session.execute(update(SmsPart).where(*where).values(**values))
                elif result.temporary:
                    await session.execute(delete(SmsPart).where(*where))
                else:
                    await session.execute(
                        update(SmsPart).where(*where).values(state="failed", detail=result.detail[:500])
                    )
                await session.commit()
            if not result.accepted:
                kind = "retry" if result.temporary else "failed"
                return Sent(kind, len(parts), f"phần {part.seq}/{part.total}: {result.detail}")
        return Sent("sent", len(parts), f"tổng đài đã nhận {len(parts)} phần, chờ báo nhận")

    # --- receipts --------------------------------------------------------------------
    async def on_receipt(self, receipt: Receipt) -> None:
        async with self.sessions() as session:
            await write_lock(session)
            row = await self._part_for(session, receipt)
            await audit(
                session,
                self.transport.name,
                "sms_receipt",
                "sms_part",
                row.id if row else receipt.message_id or receipt.reference,
                outcome=receipt.outcome,
                detail=receipt.detail[:200],
                matched=row is not None,
            )
            if row is None or receipt.outcome == "pending" or row.state in ("delivered", "failed"):
                await session.commit()
                return
            row.state, row.detail = receipt.outcome, receipt.detail[:500]
            await session.commit()
            if row.delivery_id is not None:
                await self._settle(session, row.delivery_id)

    async def _part_for(self, session: AsyncSession, receipt: Receipt) -> SmsPart | None:
        if receipt.reference:
            part = receipts.part_reference(receipt.reference)
            if part is None:
                return None
            query = select(SmsPart).where(SmsPart.reference == part[0], SmsPart.seq == part[1])
            return (await session.execute(query)).scalar_one_or_none()
        for candidate in receipts.id_candidates(receipt.message_id):
            query = select(SmsPart).where(SmsPart.transport == self.transport.name, SmsPart.message_id == candidate)
            row = (await session.execute(query.order_by(SmsPart.id.desc()).limit(1))).scalar_one_or_none()
            if row is not None:
                return row
        return None

    async def _settle(self, session: AsyncSession, delivery_id: int) -> None:
        parts = (await session.execute(select(SmsPart).where(SmsPart.delivery_id == delivery_id))).scalars().all()
        failed = [p for p in parts if p.state == "failed"]
        reference = parts_reference(parts[0].total) if parts else ""
        if failed:
            first = failed[0]
            detail = f"phần {first.seq}/{first.total}: {first.detail}"
            await ledger.confirm(session, delivery_id, "failed", detail, reference=reference)
        elif parts and all(p.state == "delivered" for p in parts) and len(parts) == parts[0].total:
            detail = f"đã đến máy người nhận ({len(parts)} phần)"
            await ledger.confirm(session, delivery_id, "delivered", detail, reference=reference)

    # --- inbound ---------------------------------------------------------------------
    async def on_mo(self, mo: Mo) -> None:
        """File the message (raises if it cannot be stored), then reply in the background."""
        async with self.sessions() as session:
            reply = await inbound.handle(session, mo.sender, mo.text)
            await audit(session, mo.transport, "sms_mo", "sms", mo.sender[:40], ticket=reply.case_ticket)
            await session.commit()
        try:
            to = to_e164(mo.sender, "from")
        except WorkflowError:
            return  # a short code or alphanumeric sender cannot be answered
        task = asyncio.create_task(self._reply(to, reply.text))
        self._replies.add(task)
        task.add_done_callback(self._replies.discard)

    async def _reply(self, to: str, text: str) -> None:
        try:
            sent = await self.send(to, text, f"r{uuid.uuid4().hex[:16]}")
            if sent.kind != "sent":
                log.warning("reply to %s not sent: %s", to, sent.detail)
        except Exception:
            log.exception("reply to %s failed", to)

    async def bulletins_since(self, session: AsyncSession, phone: str, since: datetime) -> int:
        """Bulletin messages (not parts, not replies) sent to ``phone`` since ``since``."""
        query = select(func.count(func.distinct(SmsPart.reference))).where(
            SmsPart.recipient == phone,
            SmsPart.created_at >= since,
            SmsPart.reference.like(f"{BULLETIN_PREFIX}%"),
            SmsPart.state != "failed",
        )
        return int((await session.execute(query)).scalar_one())
