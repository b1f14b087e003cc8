"""SMS exactly once, or an explained ``unknown`` (issue 17), against the independent SMSC
(smpp34.Server): receipts that arrive before submit_sm_resp are kept, part and row settle
together and a repeated receipt repairs a row left ``sent``, a submit whose response was
lost is not sent again (emergencies excepted), "Phát lại" sends only what the resident
has not received once the operator confirms, and residents' multi-part messages survive
a restart between their parts. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from sqlalchemy import select, update

from gateway.db.models import Case, Delivery, SmsPart
from gateway.sms import parts, receipts
from gateway.sms.codec import split_udh
from gateway.sms.service import SmsService
from gateway.sms.smpp.session import SessionConfig
from gateway.sms.smpp.transport import SmppConfig, SmppTransport
from gateway.sms.transport import Receipt
from tests.gateway.conftest import Gateway, seed
from tests.gateway.test_sms_service import STORM, release, rows, subscribe
from tests.support.smsc import Smsc, wait_until

pytestmark = pytest.mark.asyncio


async def parts_of(gateway: Gateway, delivery_id: int) -> dict[int, str]:
    async with gateway.services.sessions() as s:
        found = (await s.execute(select(SmsPart).where(SmsPart.delivery_id == delivery_id))).scalars()
        return {p.seq: p.state for p in found}


async def test_s4_6_a_receipt_acknowledged_before_submit_sm_resp_is_kept_and_settles_the_row(
    gateway: Gateway,
    sms,  # type: ignore[no-untyped-def]
    smsc: Smsc,
) -> None:
    """SMPP 3.4 sets no order between a receipt (deliver_sm) and the submit_sm_resp that
    gives the id it names: a receipt for an id not stored yet is kept, not dropped."""
    users = await seed(gateway)
    await subscribe(smsc, "84912000001", "84912000002")
    smsc.early_receipt = "DELIVRD"
    bid = await release(gateway, users, STORM, "normal")
    await wait_until(lambda: len(smsc.accepted) == 2 + 6)
    settled = await rows(gateway, bid)
    assert {t: r.state for t, r in settled.items()} == {"+84912000001": "delivered", "+84912000002": "delivered"}
    assert await parts_of(gateway, settled["+84912000001"].id) == {1: "delivered", 2: "delivered", 3: "delivered"}


async def test_s4_6_2_a_repeated_receipt_repairs_a_row_left_sent_by_a_crash(gateway: Gateway, sms, smsc: Smsc) -> None:  # type: ignore[no-untyped-def]
    """A worker killed between settling the part and settling the row left the row
    ``sent``: the SMSC's redelivery of the same receipt settles it."""
    users = await seed(gateway)
    await subscribe(smsc, "84912000001")
    first = len(smsc.accepted)
    bid = await release(gateway, users, "Hop dan luc 15h", "normal")
    (row,) = (await rows(gateway, bid)).values()
    async with gateway.services.sessions() as s:  # the state the crash left
        await s.execute(update(SmsPart).where(SmsPart.delivery_id == row.id).values(state="delivered"))
        await s.commit()
    assert (await rows(gateway, bid))["+84912000001"].state == "sent"
    assert await smsc.receipt(smsc.accepted[first].message_id, "DELIVRD") == 0
    assert (await rows(gateway, bid))["+84912000001"].state == "delivered"


async def lose_responses(gateway: Gateway, sms: SmsService, smsc: Smsc, users, priority: str) -> tuple[int, Smsc]:  # type: ignore[no-untyped-def]
    """Part 1 accepted and delivered, part 2 in flight when the SMSC restarts (its
    connection may linger: a short response timer)."""
    session = sms.transport.session
    session.config = dataclasses.replace(session.config, response_timeout_s=1.0, max_submit_tries=10)
    bid = await release(gateway, users, STORM, priority, work=False)
    await gateway.services.dispatcher.run_schedules()
    smsc.hold_after = len(smsc.accepted) + 1
    worker = asyncio.create_task(gateway.run_worker())
    await wait_until(lambda: smsc.held)
    assert await smsc.receipt(smsc.accepted[-1].message_id, "DELIVRD") == 0
    await smsc.stop()
    second = Smsc(port=smsc.port)
    await second.start()
    await asyncio.wait_for(worker, 30)
    return bid, second


async def test_s2_7_a_lost_submit_sm_resp_makes_the_part_unknown_and_it_is_not_sent_again(
    gateway: Gateway,
    sms,  # type: ignore[no-untyped-def]
    smsc: Smsc,
) -> None:
    users = await seed(gateway)
    await subscribe(smsc, "84912000001")
    bid, second = await lose_responses(gateway, sms, smsc, users, "normal")
    try:
        (row,) = (await rows(gateway, bid)).values()
        assert row.state == "unknown" and "phần 2/3" in row.detail
        assert await parts_of(gateway, row.id) == {1: "delivered", 2: "unknown"}
        assert not second.accepted
    finally:
        await second.stop()


async def test_s2_7_an_emergency_part_whose_response_was_lost_is_resubmitted_at_least_once(
    gateway: Gateway,
    sms,  # type: ignore[no-untyped-def]
    smsc: Smsc,
) -> None:
    users = await seed(gateway)
    await subscribe(smsc, "84912000001")
    bid, second = await lose_responses(gateway, sms, smsc, users, "emergency")
    try:
        await wait_until(lambda: len(second.accepted) == 2)
        assert sorted(split_udh(s.payload)[0].seq for s in second.accepted) == [2, 3]  # type: ignore[union-attr]
        (row,) = (await rows(gateway, bid)).values()
        assert row.state == "sent"
    finally:
        await second.stop()


async def test_replay_after_confirmation_sends_exactly_the_parts_the_resident_has_not_received(
    gateway: Gateway,
    sms,  # type: ignore[no-untyped-def]
    smsc: Smsc,
) -> None:
    users = await seed(gateway)
    await subscribe(smsc, "84912000001")
    bid, second = await lose_responses(gateway, sms, smsc, users, "normal")
    try:
        (row,) = (await rows(gateway, bid)).values()
        operator, csrf = users["vanhanh"]
        h = {"X-CSRF-Token": csrf}
        asked = await operator.post(f"/api/v1/deliveries/{row.id}/retry", headers=h)
        assert asked.status_code == 409 and "phần 2, 3" in asked.text  # what would go out again, and the risk
        assert (await rows(gateway, bid))["+84912000001"].state == "unknown"
        done = await operator.post(f"/api/v1/deliveries/{row.id}/retry?confirm=true", headers=h)
        assert done.status_code == 200, done.text
        await gateway.run_worker()
        assert sorted(split_udh(s.payload)[0].seq for s in second.accepted) == [2, 3]  # type: ignore[union-attr]
        assert (await rows(gateway, bid))["+84912000001"].state == "sent"
        for seen in second.accepted:
            assert await second.receipt(seen.message_id, "DELIVRD") == 0
        assert (await rows(gateway, bid))["+84912000001"].state == "delivered"
    finally:
        await second.stop()


async def test_a_sent_row_with_a_stale_submitting_part_is_replayed_after_confirmation(
    gateway: Gateway,
    sms,  # type: ignore[no-untyped-def]
    smsc: Smsc,
) -> None:
    users = await seed(gateway)
    await subscribe(smsc, "84912000001")
    first = len(smsc.accepted)
    bid = await release(gateway, users, STORM, "normal")
    (row,) = (await rows(gateway, bid)).values()
    async with gateway.services.sessions() as s:  # part 3 as a worker killed mid-submit leaves it
        await s.execute(
            update(SmsPart).where(SmsPart.delivery_id == row.id, SmsPart.seq == 3).values(state="submitting")
        )
        await s.execute(update(Delivery).where(Delivery.id == row.id).values(state="sent"))
        await s.commit()
    for seen in smsc.accepted[first : first + 2]:
        assert await smsc.receipt(seen.message_id, "DELIVRD") == 0
    operator, csrf = users["vanhanh"]
    r = await operator.post(f"/api/v1/deliveries/{row.id}/retry?confirm=true", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    await gateway.run_worker()
    resent = smsc.accepted[first + 3 :]
    assert [split_udh(s.payload)[0].seq for s in resent] == [3]  # type: ignore[union-attr]
    assert (await rows(gateway, bid))["+84912000001"].state == "sent"


async def test_s4_6_mo_parts_are_stored_before_deliver_sm_resp_and_survive_a_restart(
    gateway: Gateway,
    sms: SmsService,
    smsc: Smsc,
) -> None:
    await seed(gateway)
    first, second = "PA Cầu thôn Đông bị sạt lở, ", "đề nghị xã kiểm tra."
    udh = bytes((5, 0, 3, 77, 2, 1))
    assert await smsc.mo("84911111111", udh + first.encode("utf-16-be"), 8, esm_class=0x40) == 0
    await sms.close()  # the gateway restarts between the two parts
    binds = smsc.binds
    config = SessionConfig("127.0.0.1", smsc.port, "loa", "secret", reconnect_min_s=0.1)
    again = SmsService(gateway.services.sessions, SmppTransport(SmppConfig(config, sender="UBNDXA")))
    await again.start()
    try:
        await wait_until(lambda: smsc.binds > binds)  # the restarted gateway's own bind, not the old session
        udh = bytes((5, 0, 3, 77, 2, 2))
        assert await smsc.mo("84911111111", udh + second.encode("utf-16-be"), 8, esm_class=0x40) == 0
        async with gateway.services.sessions() as s:
            case = (await s.execute(select(Case))).scalar_one()
        assert case.text == "Cầu thôn Đông bị sạt lở, đề nghị xã kiểm tra."
    finally:
        await again.close()


async def test_an_emergency_part_left_mid_submit_by_a_dead_worker_is_sent_again_at_least_once(
    gateway: Gateway,
    sms: SmsService,
    smsc: Smsc,
) -> None:
    async with gateway.services.sessions() as s:
        s.add(SmsPart(reference="r-dead", recipient="+84912345678", seq=1, total=1, encoding="gsm7", transport="smpp"))
        await s.commit()
    assert (await sms.send("+84912345678", "Bao so 9: so tan ngay", "r-dead")).kind == "unknown"
    assert not smsc.accepted
    sent = await sms.send("+84912345678", "Bao so 9: so tan ngay", "r-dead", at_least_once=True)
    assert sent.kind == "sent" and [s.destination for s in smsc.accepted] == ["84912345678"]


async def test_appendix_b_an_early_receipt_is_not_applied_to_the_part_whose_id_is_its_other_spelling(
    gateway: Gateway,
) -> None:
    """An SMSC that writes ids in hex in submit_sm_resp may write them in decimal in its
    receipts, so a receipt is matched under both spellings. A receipt for id "10" (hex)
    that arrives before that id is stored must not settle the part whose id is "a"
    (decimal 10: another message, to another number): it waits for its own part."""
    sessions = gateway.services.sessions
    async with sessions() as s:
        for reference, number, message_id, state in (
            ("r1", "+84912000001", "a", "submitted"),  # the SMSC's 10th message
            ("r2", "+84912000002", "", "submitting"),  # its 16th: "10", answer not stored yet
        ):
            s.add(
                SmsPart(
                    reference=reference, seq=1, total=1, recipient=number, encoding="gsm7",
                    transport="smpp", message_id=message_id, state=state,
                )
            )  # fmt: skip
        await s.commit()
    receipt = Receipt("delivered", "DELIVRD err:000", message_id="10", sender="84912000002")
    async with sessions() as s:
        await parts.lock_ids(s, receipts.id_candidates("10"))
        await parts.record_receipts(s, "smpp", [receipt])
        await s.commit()
    async with sessions() as s:
        await parts.lock_ids(s, ["10"])
        await parts.record_answers(s, "smpp", [parts.Answer("r2", 1, "submitted", "SMSC đã nhận", "10")])
        await s.commit()
    async with sessions() as s:
        states = dict((await s.execute(select(SmsPart.reference, SmsPart.state))).all())
    assert states == {"r1": "submitted", "r2": "delivered"}
