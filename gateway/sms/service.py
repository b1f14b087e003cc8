"""The SMS service: splits messages into wire parts, keeps one row per part, submits them
through the configured transport, and settles parts and ledger rows from receipts.

Part states: submitting (written before the transport is asked) -> submitted (the SMSC
accepted it; its id stored with that answer) -> delivered | failed (receipt); unknown
(written to the SMSC, whose answer was lost: it may have reached the resident).

Sending policy (docs/sms.md):
- a part the transport refused for now is removed again, so the next attempt sends it;
- a part found ``submitting`` or ``unknown`` by a later attempt may have gone out: the row
  is reported ``unknown`` and nothing is sent again automatically (at most once), until
  an operator confirms "Phát lại", which sends the parts no receipt confirmed;
- emergencies are at least once: a part whose answer was lost is resubmitted on the next
  bind, and an unsure part found by a later attempt is sent again, so a resident may get
  it twice but never misses it.
Part rows are written in bulk and answers and receipts are stored by group commit
(``batching``), so a campaign costs a few transactions per batch, not several per part.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.bulletins.errors import WorkflowError
from gateway.bulletins.service import audit
from gateway.db.models import SmsPart
from gateway.db.retry import retrying
from gateway.db.session import write_lock
from gateway.phones import to_e164
from gateway.sms import assembly, inbound, parts, receipts
from gateway.sms.batching import Batcher
from gateway.sms.codec import WirePart, wire_parts
from gateway.sms.parts import Answer, parts_reference
from gateway.sms.transport import Mo, OutPart, Receipt, Transport

log = logging.getLogger(__name__)
BULLETIN_PREFIX = "d"  # part references of ledger rows: d<delivery id>
UNSURE = ("submitting", "unknown")
__all__ = ["BULLETIN_PREFIX", "Message", "Sent", "SmsService", "parts_reference"]


@dataclass(frozen=True)
class Sent:
    kind: str  # sent | retry | failed | unknown
    parts: int
    detail: str


@dataclass(frozen=True)
class Message:
    to: str
    text: str
    reference: str
    delivery_id: int | None = None
    at_least_once: bool = False  # emergencies


@functools.lru_cache(maxsize=1024)
def _wire(text: str, reference: int) -> tuple[WirePart, ...]:
    """A campaign sends one text with at most 256 concatenation references: split once."""
    return tuple(wire_parts(text, reference))


def concat_reference(reference: str) -> int:
    """The 8-bit concatenation reference of a message: stable across retries."""
    return hashlib.blake2s(reference.encode(), digest_size=1).digest()[0]


class SmsService:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], transport: Transport, mo_assembly_s: float = 600.0
    ) -> None:
        self.sessions = sessions
        self.transport = transport
        self.mo_assembly = timedelta(seconds=mo_assembly_s)
        self._replies: set[asyncio.Task[None]] = set()
        # one writer for answers and receipts: they never wait on each other's lock
        self._writer: Batcher[Answer | Receipt] = Batcher(self._write)

    async def start(self) -> None:
        await self.transport.start(self.on_mo, self.on_receipt)

    async def close(self) -> None:
        for task in list(self._replies):
            await task
        await self.transport.close()

    # --- outbound --------------------------------------------------------------------
    async def send(
        self, to: str, text: str, reference: str, delivery_id: int | None = None, at_least_once: bool = False
    ) -> Sent:
        return (await self.send_many([Message(to, text, reference, delivery_id, at_least_once)]))[0]

    async def send_many(self, messages: Sequence[Message]) -> list[Sent]:
        """Send every message, all through the transport's window at once (parts of one
        message in order). One read and one bulk write of part rows for the batch."""
        planned = [_wire(m.text, concat_reference(m.reference)) for m in messages]
        known: dict[str, dict[int, str]] = {}
        async with self.sessions() as session:
            refs = [m.reference for m in messages]
            for start in range(0, len(refs), 500):
                query = select(SmsPart.reference, SmsPart.seq, SmsPart.state).where(
                    SmsPart.reference.in_(refs[start : start + 500])
                )
                for reference, seq, state in (await session.execute(query)).all():
                    known.setdefault(reference, {})[seq] = state
        results: list[Sent | None] = [None] * len(messages)
        work: list[tuple[int, list[WirePart]]] = []
        rows: list[dict[str, object]] = []
        stale: list[tuple[str, int]] = []  # unsure parts of emergencies: sent again
        for i, (message, wire) in enumerate(zip(messages, planned, strict=True)):
            done = known.get(message.reference, {})
            if message.at_least_once:
                stale += [(message.reference, seq) for seq, state in done.items() if state in UNSURE]
                done = {seq: state for seq, state in done.items() if state not in UNSURE}
            if not wire:
                results[i] = Sent("failed", 0, "tin nhắn rỗng")
            elif any(state in UNSURE for state in done.values()):
                results[i] = Sent(
                    "unknown",
                    len(wire),
                    "có phần đã gửi mà không rõ tổng đài đã nhận chưa (tiến trình dừng hoặc mất kết nối); "
                    "không tự gửi lại để tránh trùng, dùng Phát lại sau khi xác nhận",
                )
            else:
                todo = [part for part in wire if part.seq not in done]
                work.append((i, todo))
                rows += [self._row(message, part) for part in todo]
        if rows:
            async with self.sessions() as session:
                if stale:
                    await session.execute(
                        delete(SmsPart)
                        .where(tuple_(SmsPart.reference, SmsPart.seq).in_(stale))
                        .execution_options(synchronize_session=False)
                    )
                await session.execute(insert(SmsPart), rows)
                await session.commit()
        sent = await asyncio.gather(*(self._submit(messages[i], todo, len(planned[i])) for i, todo in work))
        for (i, _), outcome in zip(work, sent, strict=True):
            results[i] = outcome
        return [r if r is not None else Sent("failed", 0, "") for r in results]

    def _row(self, message: Message, part: WirePart) -> dict[str, object]:
        return {
            "reference": message.reference,
            "delivery_id": message.delivery_id,
            "recipient": message.to,
            "seq": part.seq,
            "total": part.total,
            "encoding": "ucs2" if part.data_coding == 8 else "gsm7",
            "transport": self.transport.name,
            "message_id": "",
            "state": "submitting",
            "detail": "",
        }

    async def _submit(self, message: Message, todo: list[WirePart], total: int) -> Sent:
        """The parts of one message in order; each answer is stored before the next part
        goes; the first refusal stops the message (parts not tried are removed again)."""
        for index, part in enumerate(todo):
            out = OutPart(message.to, part, f"{message.reference}.{part.seq}", message.at_least_once)
            result = await self.transport.submit(out)
            where = f"phần {part.seq}/{total}"
            if result.accepted:
                message_id = receipts.normalize_id(result.message_id) if result.message_id else ""
                await self._writer.put(Answer(message.reference, part.seq, "submitted", result.detail, message_id))
                continue
            rest = todo[index + 1 :]
            if result.unknown:
                await self._writer.put(Answer(message.reference, part.seq, "unknown", result.detail))
                outcome = Sent(
                    "unknown", total, f"{where}: {result.detail}; có thể đã đến người nhận, không tự gửi lại"
                )
            elif result.temporary:
                rest = todo[index:]
                outcome = Sent("retry", total, f"{where}: {result.detail}")
            else:
                await self._writer.put(Answer(message.reference, part.seq, "failed", result.detail))
                outcome = Sent("failed", total, f"{where}: {result.detail}")
            for dropped in rest:
                await self._writer.put(Answer(message.reference, dropped.seq, "drop", ""))
            return outcome
        return Sent("sent", total, f"tổng đài đã nhận {total} phần, chờ báo nhận")

    async def _write(self, batch: list[Answer | Receipt]) -> None:
        """One transaction for what the SMSC said meanwhile, tried again while the
        database is unreachable: what the SMSC answered exists only here."""
        await retrying(lambda: self._write_once(batch), "storing the SMSC's answers")

    async def _write_once(self, batch: list[Answer | Receipt]) -> None:
        """Answers first (their ids), then receipts (which may name those ids), then the
        ledger rows they settle."""
        answers = [a for a in batch if isinstance(a, Answer)]
        found = [r for r in batch if isinstance(r, Receipt)]
        async with self.sessions() as session:
            ids = [a.message_id for a in answers]
            ids += [c for r in found if r.message_id for c in receipts.id_candidates(r.message_id)]
            await parts.lock_ids(session, ids)
            settle = await parts.record_answers(session, self.transport.name, [a for a in answers if a.state != "drop"])
            dropped = [(a.reference, a.seq) for a in answers if a.state == "drop"]
            if dropped:
                await session.execute(
                    delete(SmsPart)
                    .where(tuple_(SmsPart.reference, SmsPart.seq).in_(dropped), SmsPart.state == "submitting")
                    .execution_options(synchronize_session=False)
                )
            kept, rows, loaded = await parts.record_receipts(session, self.transport.name, found)
            for receipt in kept:
                await audit(
                    session, self.transport.name, "sms_receipt", "sms_part", receipt.message_id or receipt.reference,
                    outcome=receipt.outcome, detail=receipt.detail[:200], matched=False,
                )  # fmt: skip
            await parts.settle(session, settle | rows, loaded)
            await session.commit()

    # --- receipts --------------------------------------------------------------------
    async def on_receipt(self, receipt: Receipt) -> None:
        """Returns once the receipt is stored (applied, or kept until its id lands)."""
        await self._writer.put(receipt)

    # --- inbound ---------------------------------------------------------------------
    async def on_mo(self, mo: Mo) -> None:
        """Store the message (one part of it, or the whole, filed as a case) before the
        transport answers the network; raises if it cannot be stored. Replies go out in
        the background."""
        async with self.sessions() as session:
            await write_lock(session)
            text = await assembly.add_part(session, mo)
            filed = [(mo.sender, text)] if text is not None else []
            filed += await assembly.stale(session, self.mo_assembly)
            if not filed:
                await session.commit()
            for sender, whole in filed:
                await self._file(session, sender, whole, mo.transport)

    async def _file(self, session: AsyncSession, sender: str, text: str, transport: str) -> None:
        reply = await inbound.handle(session, sender, text)
        await audit(session, transport, "sms_mo", "sms", sender[:40], ticket=reply.case_ticket)
        await session.commit()
        try:
            to = to_e164(sender, "from")
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
