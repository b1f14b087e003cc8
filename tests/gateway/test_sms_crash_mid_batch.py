"""A worker that dies in the middle of a batch (the chaos suite's finding, seed 10911:
200 rows ``unknown`` of which 160 never reached the SMSC). Only the parts whose submit_sm
may have been written (SMPP 3.4 §2.7: no response, the outcome is not known) become
``unknown``; the parts of the batch never written are sent by the next attempt on its
own, exactly once, and no resident gets a part twice. Against the independent SMSC
(smpp34.Server); runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from sqlalchemy import delete, select

from gateway.db.models import SmsPart
from gateway.sms import parts
from gateway.sms.service import Message, SmsService
from gateway.sms.smpp.session import SessionConfig
from gateway.sms.smpp.transport import SmppConfig, SmppTransport
from tests.gateway.conftest import Gateway
from tests.support.smsc import Smsc, wait_until

pytestmark = pytest.mark.asyncio

WINDOW = 4


def service_for(gateway: Gateway, smsc: Smsc, tps: float = 0.0) -> SmsService:
    session = SessionConfig("127.0.0.1", smsc.port, "loa", "secret", window=WINDOW, reconnect_min_s=0.1)
    return SmsService(gateway.services.sessions, SmppTransport(SmppConfig(session, sender="UBNDXA", tps=tps)))


async def states(gateway: Gateway, references: list[str]) -> dict[str, str]:
    async with gateway.services.sessions() as s:
        query = select(SmsPart.reference, SmsPart.state).where(SmsPart.reference.in_(references))
        return {reference: state for reference, state in (await s.execute(query)).all()}


@pytest.mark.parametrize("tps", [0.0, 500.0], ids=["unpaced", "paced"])
async def test_s2_7_a_worker_killed_mid_batch_leaves_unknown_only_what_was_written_and_the_rest_goes_exactly_once(
    gateway: Gateway, smsc: Smsc, tps: float
) -> None:
    """Paced (``sms_tps``), a part is marked in its window slot after its pace slot: the
    parts ``unknown`` are exactly those written. Unpaced, the next window's parts are
    marked while this one is on the wire: at most one window more."""
    messages = [Message(f"+849120{i:05d}", "Bao so 9: so tan truoc 17 gio", f"r-batch-{i}") for i in range(20)]
    references = [m.reference for m in messages]
    first = service_for(gateway, smsc, tps)
    await first.start()
    await wait_until(lambda: smsc.esmes)
    smsc.hold_after = 2  # two answered, then the SMSC holds what comes: the window fills
    sending = asyncio.create_task(first.send_many(messages))
    await wait_until(lambda: len(smsc.accepted) == 2 and len(smsc.held) == WINDOW)
    for _ in range(200):  # the two answers stored (a later kill would not lose them)
        if list((await states(gateway, references)).values()).count("submitted") == 2:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # whatever marks were under way are stored
    written = [s.destination for s in smsc.accepted] + [e.destination_addr for e in smsc.held]

    # kill -9 of the worker: its send loop stops where it is, its bind dies with it
    sending.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sending
    await smsc.stop()  # the held submits' answers never come
    await first.close()
    second_smsc = Smsc(port=smsc.port)
    await second_smsc.start()
    taker = service_for(gateway, second_smsc, tps)
    await taker.start()
    try:
        await wait_until(lambda: second_smsc.esmes)
        results = await taker.send_many(messages)
        kinds = {m.to.lstrip("+"): r.kind for m, r in zip(messages, results, strict=True)}
        resent = [s.destination for s in second_smsc.accepted]
        unknown = [d for d, kind in kinds.items() if kind == "unknown"]
        assert not set(written) & set(resent)  # no resident gets the warning twice
        assert len(resent) == len(set(resent))
        assert {kinds[d] for d in resent} == {"sent"}
        assert {kinds[d] for d in written[2:]} == {"unknown"}  # written, no answer: may have gone out
        # every resident got it (written before the kill, or sent by the take-over), or is
        # ``unknown``: written, or (unpaced) marked one window ahead and never written
        assert sorted(written + resent + [d for d in unknown if d not in written]) == sorted(kinds)
        never_written = [d for d in unknown if d not in written]
        assert len(never_written) == (0 if tps else len(never_written)) and len(never_written) <= WINDOW
        assert len(resent) >= len(messages) - 2 - 2 * WINDOW  # the parts never written went on their own
        found = await states(gateway, references)
        assert sorted(found.values()).count("submitted") == 2 + len(resent)
    finally:
        await taker.close()
        await second_smsc.stop()


async def test_the_second_part_left_queued_by_a_dead_worker_goes_alone_and_the_first_is_not_resent(
    gateway: Gateway, smsc: Smsc
) -> None:
    text = "Thông báo khẩn: bão số 9 đổ bộ đêm nay, gió giật cấp 12, bà con sơ tán trước 17 giờ."  # 2 parts
    async with gateway.services.sessions() as s:
        for seq, state in ((1, "submitted"), (2, "queued")):  # part 1 answered, part 2 never written
            s.add(
                SmsPart(
                    reference="r-half", recipient="+84912000001", seq=seq, total=2, encoding="ucs2",
                    transport="smpp", message_id="1f0001" if seq == 1 else "", state=state,
                )
            )  # fmt: skip
        await s.commit()
    taker = service_for(gateway, smsc)
    await taker.start()
    try:
        await wait_until(lambda: smsc.esmes)
        sent = await taker.send("+84912000001", text, "r-half")
        assert sent.kind == "sent"
        assert [(s.destination, s.payload[5]) for s in smsc.accepted] == [("84912000001", 2)]  # UDH: part 2 of 2
    finally:
        await taker.close()


async def test_a_part_whose_row_another_attempt_took_over_is_not_written_by_the_first(
    gateway: Gateway, smsc: Smsc
) -> None:
    """A worker slower than its lease: the taker re-queued the parts it had not written;
    the first worker's marks find the rows no longer its own and write nothing more."""
    messages = [Message(f"+849130{i:05d}", "Hop dan luc 8 gio", f"r-slow-{i}") for i in range(14)]
    first = service_for(gateway, smsc)
    await first.start()
    try:
        await wait_until(lambda: smsc.esmes)
        smsc.hold = True
        sending = asyncio.create_task(first.send_many(messages))
        await wait_until(lambda: len(smsc.held) == WINDOW)
        async with gateway.services.sessions() as s:  # the taker's delete and insert of the queued rows
            queued = (await s.execute(select(SmsPart).where(SmsPart.state == "queued"))).scalars().all()
            assert len(queued) >= len(messages) - 2 * WINDOW  # a window on the wire, at most one marked ahead
            for part in queued:
                s.expunge(part)
            await s.execute(delete(SmsPart).where(SmsPart.state == "queued"))
            s.add_all(
                SmsPart(
                    reference=p.reference, recipient=p.recipient, seq=p.seq, total=p.total,
                    encoding=p.encoding, transport=p.transport, state="queued",
                )
                for p in queued
            )  # fmt: skip
            await s.commit()
        smsc.release()
        results = await asyncio.wait_for(sending, 20)
        taken = {p.reference for p in queued}
        assert len(smsc.accepted) == len(messages) - len(taken)  # none of the taker's parts
        assert not {s.destination for s in smsc.accepted} & {p.recipient.lstrip("+") for p in queued}
        overtaken = [r for m, r in zip(messages, results, strict=True) if m.reference in taken]
        assert {r.kind for r in overtaken} == {"retry"} and all("lượt gửi khác" in r.detail for r in overtaken)
    finally:
        await first.close()


async def test_a_mark_stored_twice_by_a_retry_after_a_lost_commit_answer_still_belongs_to_its_attempt(
    gateway: Gateway,
) -> None:
    """A database restart during COMMIT: the mark was stored, its answer lost, and
    ``retrying`` runs it again. The part is still this attempt's to write (else the row
    ends ``unknown`` with nothing sent, seen once in the chaos suite); another
    attempt's mark is refused either way."""
    async with gateway.services.sessions() as s:
        part = SmsPart(
            reference="r-mark", recipient="+84912000001", seq=1, total=1, encoding="gsm7",
            transport="smpp", state="queued", attempt="a1",
        )  # fmt: skip
        s.add(part)
        await s.commit()
        part_id = part.id
    outcomes = []
    for attempt in ("a1", "a1", "b2"):
        mark = parts.Mark(part_id, attempt)
        async with gateway.services.sessions() as s:
            await parts.mark_on_wire(s, [mark])
            await s.commit()
        outcomes.append(mark.taken)
    assert outcomes == [True, True, False]
    assert (await states(gateway, ["r-mark"])) == {"r-mark": "submitting"}
