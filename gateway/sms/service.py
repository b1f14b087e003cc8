"""The SMS service: splits messages into wire parts, keeps one row per part, submits them
through the configured transport, and settles parts and ledger rows from receipts.

Part states: queued (the batch's rows, written before anything is sent) -> submitting
(written, in groups, just before the transport writes the part: ``OnWire``) -> submitted
(the SMSC accepted it; its id stored with that answer) -> delivered | failed (receipt);
unknown (written to the SMSC, whose answer was lost: it may have reached the resident).

Sending policy (docs/sms.md):
- a part the transport refused for now is removed again, so the next attempt sends it;
- a part found ``queued`` by a later attempt was never written (a crash, a lost bind):
  it is sent, once, with no one asked;
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
import contextlib
import functools
import hashlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy import delete, insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.bulletins.errors import WorkflowError
from gateway.bulletins.service import audit
from gateway.db.models import SmsPart
from gateway.db.retry import retrying
from gateway.db.session import write_lock
from gateway.db.states import DeliveryState, PartState
from gateway.phones import to_e164
from gateway.sms import assembly, inbound, parts, receipts
from gateway.sms.answers import BULLETIN_PREFIX, store
from gateway.sms.batching import Batcher
from gateway.sms.codec import WirePart, wire_parts
from gateway.sms.limits import LEASE_S, BindLease
from gateway.sms.parts import Answer, parts_reference
from gateway.sms.transport import Mo, OnWire, OutPart, Receipt, Transport

log = logging.getLogger(__name__)
UNSURE = (PartState.SUBMITTING, PartState.UNKNOWN)
__all__ = ["BULLETIN_PREFIX", "Message", "Sent", "SmsService", "parts_reference"]


class Overtaken(Exception):
    """A part's row was taken over by another attempt before this one wrote it."""


@dataclass(frozen=True)
class Sent:
    kind: Literal[DeliveryState.SENT, DeliveryState.RETRY, DeliveryState.FAILED, DeliveryState.UNKNOWN]
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
        self,
        sessions: async_sessionmaker[AsyncSession],
        transport: Transport,
        mo_assembly_s: float = 600.0,
        lease: BindLease | None = None,
    ) -> None:
        """``lease``: the transport binds only while this process holds one of the
        account's bind slots (SMPP, ``limits``); without one it is always started."""
        self.sessions = sessions
        self.transport = transport
        self.lease = lease
        self.sending = False  # the transport is started: this process may send
        self._keeper: asyncio.Task[None] | None = None
        self.mo_assembly = timedelta(seconds=mo_assembly_s)
        self._replies: set[asyncio.Task[None]] = set()
        # one writer for answers and receipts: they never wait on each other's lock
        self._writer: Batcher[Answer | Receipt] = Batcher(self._write)
        # marks of parts about to be written, in their own small transactions: a window's
        # parts wait for them, never for a batch of receipts
        self._marker: Batcher[parts.Mark] = Batcher(self._mark)

    async def start(self) -> None:
        if self.lease is None:
            await self.transport.start(self.on_mo, self.on_receipt)
            self.sending = True
            return
        await self._hold()
        self._keeper = asyncio.create_task(self._keep_lease(), name="sms-bind-lease")

    async def close(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
        for task in list(self._replies):
            await task
        self.sending = False
        await self.transport.close()
        if self.lease is not None:
            with contextlib.suppress(Exception):
                await self.lease.release()

    async def _keep_lease(self) -> None:
        while True:
            await asyncio.sleep(LEASE_S / 3)
            await self._hold()

    async def _hold(self) -> None:
        """Take or renew this process's bind slot; bind when it is held, unbind when it
        is lost (a renewal that failed: another process may take the slot)."""
        assert self.lease is not None
        try:
            held = await self.lease.take()
        except Exception:
            log.exception("SMS bind lease: renewal failed; unbinding")
            held = False
        if held and not self.sending:
            await self.transport.start(self.on_mo, self.on_receipt)
            self.sending = True
            log.info("SMS bind slot %s held: sending", self.lease.slot)
        elif not held and self.sending:
            self.sending = False
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
        attempt = uuid.uuid4().hex  # only this call may mark the parts it queues
        work: list[tuple[int, list[WirePart]]] = []
        rows: list[dict[str, object]] = []
        stale: list[tuple[str, int]] = []  # never written, or unsure parts of emergencies: sent again
        for i, (message, wire) in enumerate(zip(messages, planned, strict=True)):
            done = known.get(message.reference, {})
            unsent = [seq for seq, state in done.items() if state == PartState.QUEUED]
            done = {seq: state for seq, state in done.items() if state != PartState.QUEUED}
            if message.at_least_once:
                stale += [(message.reference, seq) for seq, state in done.items() if state in UNSURE]
                done = {seq: state for seq, state in done.items() if state not in UNSURE}
            if not wire:
                results[i] = Sent(DeliveryState.FAILED, 0, "tin nhắn rỗng")
            elif any(state in UNSURE for state in done.values()):
                results[i] = Sent(
                    DeliveryState.UNKNOWN,
                    len(wire),
                    "có phần đã gửi mà không rõ tổng đài đã nhận chưa (tiến trình dừng hoặc mất kết nối); "
                    "không tự gửi lại để tránh trùng, dùng Phát lại sau khi xác nhận",
                )
            else:
                stale += [(message.reference, seq) for seq in unsent]
                todo = [part for part in wire if part.seq not in done]
                work.append((i, todo))
                rows += [self._row(message, part, attempt) for part in todo]
        ids: dict[tuple[str, int], int] = {}
        if rows:
            async with self.sessions() as session:
                if stale:
                    await session.execute(
                        delete(SmsPart)
                        .where(tuple_(SmsPart.reference, SmsPart.seq).in_(stale))
                        .execution_options(synchronize_session=False)
                    )
                added = insert(SmsPart).returning(SmsPart.id, SmsPart.reference, SmsPart.seq)
                ids = {(ref, seq): id_ for id_, ref, seq in (await session.execute(added, rows)).all()}
                await session.commit()
        sent = await asyncio.gather(
            *(self._submit(messages[i], todo, len(planned[i]), ids, attempt) for i, todo in work)
        )
        for (i, _), outcome in zip(work, sent, strict=True):
            results[i] = outcome
        return [r if r is not None else Sent(DeliveryState.FAILED, 0, "") for r in results]

    def _row(self, message: Message, part: WirePart, attempt: str) -> dict[str, object]:
        return {
            "reference": message.reference,
            "delivery_id": message.delivery_id,
            "recipient": message.to,
            "seq": part.seq,
            "total": part.total,
            "encoding": "ucs2" if part.data_coding == 8 else "gsm7",
            "transport": self.transport.name,
            "message_id": "",
            "state": PartState.QUEUED,
            "attempt": attempt,
            "detail": "",
        }

    def _on_wire(self, part_id: int, attempt: str, where: str) -> OnWire:
        async def mark() -> None:
            found = parts.Mark(part_id, attempt)
            await self._marker.put(found)  # grouped with the window's other marks
            if not found.taken:
                raise Overtaken(f"{where}: một lượt gửi khác đã nhận gửi phần này; không gửi ở đây")

        return mark

    async def _submit(
        self, message: Message, todo: list[WirePart], total: int, ids: dict[tuple[str, int], int], attempt: str
    ) -> Sent:
        """The parts of one message in order; each answer is stored before the next part
        goes; the first refusal stops the message (parts not tried are removed again).
        Each part is marked ``submitting`` just before the transport writes it."""
        for index, part in enumerate(todo):
            out = OutPart(message.to, part, f"{message.reference}.{part.seq}", message.at_least_once)
            where = f"phần {part.seq}/{total}"
            try:
                on_wire = self._on_wire(ids[(message.reference, part.seq)], attempt, where)
                result = await self.transport.submit(out, on_wire)
            except Overtaken as exc:  # its rows are another attempt's now: leave them alone
                return Sent(DeliveryState.RETRY, total, str(exc))
            if result.accepted:
                message_id = receipts.normalize_id(result.message_id) if result.message_id else ""
                await self._writer.put(
                    Answer(message.reference, part.seq, PartState.SUBMITTED, result.detail, message_id)
                )
                continue
            rest = todo[index + 1 :]
            if result.unknown:
                await self._writer.put(Answer(message.reference, part.seq, PartState.UNKNOWN, result.detail))
                outcome = Sent(
                    DeliveryState.UNKNOWN,
                    total,
                    f"{where}: {result.detail}; có thể đã đến người nhận, không tự gửi lại",
                )
            elif result.temporary:
                rest = todo[index:]
                outcome = Sent(DeliveryState.RETRY, total, f"{where}: {result.detail}")
            else:
                await self._writer.put(Answer(message.reference, part.seq, PartState.FAILED, result.detail))
                outcome = Sent(DeliveryState.FAILED, total, f"{where}: {result.detail}")
            for dropped in rest:
                await self._writer.put(Answer(message.reference, dropped.seq, "drop", ""))
            return outcome
        return Sent(DeliveryState.SENT, total, f"tổng đài đã nhận {total} phần, chờ báo nhận")

    async def _mark(self, batch: list[parts.Mark]) -> None:
        """One ``UPDATE`` for the parts about to be written (tried again while the
        database is unreachable: the parts wait for it, none is written unmarked)."""

        async def once() -> None:
            async with self.sessions() as session:
                await write_lock(session)  # SQLite: the process's write lock first
                await parts.mark_on_wire(session, batch)
                await session.commit()

        await retrying(once, "marking SMS parts about to be sent")

    async def _write(self, batch: list[Answer | Receipt]) -> None:
        """One transaction for what the SMSC said meanwhile, tried again while the
        database is unreachable: what the SMSC answered exists only here."""
        await retrying(lambda: store(self.sessions, self.transport.name, batch), "storing the SMSC's answers")

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
            if sent.kind != DeliveryState.SENT:
                log.warning("reply to %s not sent: %s", to, sent.detail)
        except Exception:
            log.exception("reply to %s failed", to)
