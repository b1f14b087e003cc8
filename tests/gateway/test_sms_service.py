"""The SMS service over SMPP against an independent SMSC (smpp34.Server): residents'
messages filed and answered, bulletins split into parts, every part settled by its own
receipt, daily cap and opt-out applied at sending time, retries that never resend a part
the SMSC accepted. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from gateway.bulletins.schedule import LOCAL
from gateway.config import QuietHours
from gateway.db.models import AuditLog, Case, Delivery, SmsPart
from gateway.delivery import ledger
from gateway.sms.codec import split_udh
from gateway.sms.inbound import handle
from gateway.sms.smpp import pdu
from tests.gateway.conftest import Gateway, seed
from tests.support.smsc import Seen, Smsc, wait_until

pytestmark = pytest.mark.asyncio

STORM = (
    "Thông báo khẩn: bão số 9 đổ bộ đêm nay, gió giật cấp 12. Bà con thôn Một di chuyển đến "
    "nhà văn hóa xã trước 17 giờ, mang theo giấy tờ, thuốc men và lương thực cho 3 ngày."
)


def text_of(seen: Seen) -> str:
    _, data = split_udh(seen.payload) if seen.esm_class & 0x40 else (None, seen.payload)
    return data.decode("utf-16-be") if seen.data_coding == 8 else data.decode("latin-1")


async def subscribe(smsc: Smsc, *numbers: str) -> None:
    before = len(smsc.accepted)
    for number in numbers:
        assert await smsc.mo(number, b"DK T1") == 0
    await wait_until(lambda: len(smsc.accepted) >= before + len(numbers))  # one confirmation each


async def release(gateway: Gateway, users, sms_text: str, priority: str, work: bool = True) -> int:  # type: ignore[no-untyped-def]
    """Written by the editor; approved by the approver, or sent at once by the operator."""
    editor, ecsrf = users["bientap"]
    body = {
        "title": "Thông báo",
        "body": sms_text,
        "sms_text": sms_text,
        "priority": priority,
        "targets": [{"channel": "sms", "area": "XA1"}],
    }
    bid = int((await editor.post("/api/v1/bulletins", json=body, headers={"X-CSRF-Token": ecsrf})).json()["id"])
    if priority == "emergency":
        operator, ocsrf = users["vanhanh"]
        r = await operator.post(f"/api/v1/bulletins/{bid}/emergency", headers={"X-CSRF-Token": ocsrf})
    else:
        await editor.post(f"/api/v1/bulletins/{bid}/submit", headers={"X-CSRF-Token": ecsrf})
        approver, acsrf = users["duyet"]
        await approver.post(f"/api/v1/bulletins/{bid}/approve", headers={"X-CSRF-Token": acsrf})
        r = await approver.post(f"/api/v1/bulletins/{bid}/schedule", json={}, headers={"X-CSRF-Token": acsrf})
    assert r.status_code == 200, r.text
    if work:
        await gateway.run_worker()
    return bid


async def rows(gateway: Gateway, bulletin_id: int) -> dict[str, Delivery]:
    async with gateway.services.sessions() as s:
        found = (await s.execute(select(Delivery).where(Delivery.bulletin_id == bulletin_id))).scalars()
        return {row.target: row for row in found}


async def test_a_resident_sms_is_filed_and_answered_with_its_ticket(gateway: Gateway, sms, smsc: Smsc) -> None:  # type: ignore[no-untyped-def]
    await seed(gateway)
    assert await smsc.mo("84912345678", "PA rác đổ trộm ở đầu thôn".encode("utf-16-be"), data_coding=8) == 0
    await wait_until(lambda: smsc.accepted)
    reply = text_of(smsc.accepted[0])
    async with gateway.services.sessions() as s:
        case = (await s.execute(select(Case))).scalar_one()
    assert case.caller == "+84912345678" and case.text == "rác đổ trộm ở đầu thôn"
    assert case.ticket in reply and smsc.accepted[0].destination == "84912345678"


async def test_every_part_is_settled_by_its_own_receipt_in_either_id_style(gateway: Gateway, sms, smsc: Smsc) -> None:  # type: ignore[no-untyped-def]
    users = await seed(gateway)
    await subscribe(smsc, "84912000001", "84912000002")
    first = len(smsc.accepted)
    bid = await release(gateway, users, STORM, "emergency")
    await wait_until(lambda: len(smsc.accepted) == first + 6)
    parts = smsc.accepted[first:]
    by_number: dict[str, list[Seen]] = {}
    for seen in parts:
        by_number.setdefault(seen.destination, []).append(seen)
    assert {n: len(p) for n, p in by_number.items()} == {"84912000001": 3, "84912000002": 3}
    assert {r.state for r in (await rows(gateway, bid)).values()} == {"sent"}

    for seen in by_number["84912000001"]:  # this SMSC reports ids in decimal, it answered in hex
        # (from the handset the part went to, as Appendix B says: a converted id is matched only so)
        assert await smsc.receipt(str(int(seen.message_id, 16)), "DELIVRD", seen.destination) == 0
    a, b, _ = by_number["84912000002"]
    assert await smsc.receipt(a.message_id, "DELIVRD") == 0
    assert await smsc.receipt(b.message_id.upper(), "UNDELIV") == 0
    assert await smsc.receipt("ffffff", "DELIVRD") == 0  # unknown id: acknowledged, recorded
    settled = await rows(gateway, bid)
    assert settled["+84912000001"].state == "delivered"
    assert settled["+84912000002"].state == "failed" and "phần 2/3" in settled["+84912000002"].detail
    async with gateway.services.sessions() as s:
        query = select(SmsPart.state).where(SmsPart.recipient == "+84912000002", SmsPart.delivery_id.is_not(None))
        states = (await s.execute(query)).scalars().all()
        unmatched = (
            await s.execute(select(AuditLog).where(AuditLog.action == "sms_receipt", AuditLog.entity_id == "ffffff"))
        ).scalar_one()
    assert sorted(states) == ["delivered", "failed", "submitted"]
    assert unmatched.detail["matched"] is False


async def test_opt_out_and_the_daily_cap_apply_when_sending_emergencies_excepted(
    gateway: Gateway,
    sms,  # type: ignore[no-untyped-def]
    smsc: Smsc,
) -> None:
    users = await seed(gateway)
    await subscribe(smsc, "84912000001", "84912000002")
    first = await release(gateway, users, "Hop dan luc 15h tai nha van hoa", "normal")
    assert {r.state for r in (await rows(gateway, first)).values()} == {"sent"}
    # The second resident opts out after the next campaign was planned.
    second = await release(gateway, users, "Lich tiem chung ngay mai", "normal", work=False)
    await gateway.queue_due()
    assert set(await rows(gateway, second)) == {"+84912000001", "+84912000002"}
    before = len(smsc.accepted)
    assert await smsc.mo("84912000002", b"HUY") == 0
    await wait_until(lambda: len(smsc.accepted) > before)  # the opt-out confirmation
    await gateway.run_worker()
    settled = await rows(gateway, second)
    assert settled["+84912000002"].state == "cancelled"
    assert settled["+84912000001"].state == "failed" and "hạn mức 1/ngày" in settled["+84912000001"].detail
    third = await release(gateway, users, "Bao so 9: so tan ngay", "emergency")
    # An opt-out stops bulletins, never warnings (issue 18): the emergency reaches both.
    assert {t: r.state for t, r in (await rows(gateway, third)).items()} == {
        "+84912000001": "sent",
        "+84912000002": "sent",
    }


async def test_a_retry_sends_only_the_parts_the_smsc_did_not_accept(gateway: Gateway, sms, smsc: Smsc) -> None:  # type: ignore[no-untyped-def]
    smsc.decide = lambda n: pdu.ESME_RTHROTTLED if n >= 2 else None  # part 2 throttled, twice
    first = await sms.send("+84912345678", STORM, "r-test")
    assert first.kind == "retry" and "phần 2/3" in first.detail
    smsc.decide = lambda n: None
    second = await sms.send("+84912345678", STORM, "r-test")
    assert second.kind == "sent"
    seqs = sorted(split_udh(s.payload)[0].seq for s in smsc.accepted)  # type: ignore[union-attr]
    assert seqs == [1, 2, 3]  # part 1 was not sent twice


async def test_a_part_left_mid_submit_by_a_dead_worker_is_not_sent_again(gateway: Gateway, sms, smsc: Smsc) -> None:  # type: ignore[no-untyped-def]
    async with gateway.services.sessions() as s:
        s.add(
            SmsPart(
                reference="r-dead",
                recipient="+84912345678",
                seq=1,
                total=1,
                encoding="gsm7",
                transport="smpp",
                created_at=datetime.now(UTC),
            )
        )
        await s.commit()
    sent = await sms.send("+84912345678", "Hop dan", "r-dead")
    assert sent.kind == "unknown" and not smsc.accepted


async def test_staff_subscribe_numbers_with_reasons_for_the_rejected_and_see_the_cost(gateway: Gateway) -> None:
    users = await seed(gateway)
    editor, csrf = users["bientap"]
    h = {"X-CSRF-Token": csrf}
    phones = ["0912 000 001", "84912000001", "+84912000002", "01662000003", "12345", "ba con"]
    r = await editor.post("/api/v1/subscribers", json={"area": "T1", "phones": phones}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["added"], body["moved"]) == (3, 0)
    assert [(x["phone"], x["field"]) for x in body["rejected"]] == [("12345", "phones[4]"), ("ba con", "phones[5]")]
    assert all(x["reason"] for x in body["rejected"])
    async with gateway.services.sessions() as s:
        await handle(s, "0912000002", "HUY")
    again = (await editor.post("/api/v1/subscribers", json={"area": "T2", "phones": ["0912000002"]}, headers=h)).json()
    assert again["opted_out_kept"] == 1 and again["added"] == 0  # only the resident can undo her HUY
    r = await editor.post("/api/v1/subscribers", json={"area": "XX", "phones": ["0912000009"]}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "area"

    cost = (await editor.post("/api/v1/sms/preview", json={"text": STORM, "areas": ["XA1"]}, headers=h)).json()
    assert (cost["encoding"], cost["parts"], cost["recipients"], cost["total"]) == ("ucs2", 3, 2, 6)
    assert (cost["unaccented"]["encoding"], cost["unaccented"]["parts"], cost["unaccented"]["total"]) == ("gsm7", 2, 4)
    long = (await editor.post("/api/v1/sms/preview", json={"text": STORM * 2, "areas": []}, headers=h)).json()
    assert long["recipients"] == 0 and "rút gọn" in long["warning"]
    listed = (await users["vanhanh"][0].get("/api/v1/subscribers?area=T1")).json()["subscribers"]
    assert len(listed) == 3 and all("*" in x["phone"] for x in listed)  # masked for operators
    status = (await editor.get("/api/v1/sms/status")).json()
    assert status["transport"] is None and "sms_transport" in status["last_error"]


async def test_the_operator_sees_the_smpp_link(gateway: Gateway, sms, smsc: Smsc) -> None:  # type: ignore[no-untyped-def]
    users = await seed(gateway)
    gateway.services.sms = sms
    status = (await users["vanhanh"][0].get("/api/v1/sms/status")).json()
    assert status == {"transport": "smpp", "connected": True, "binds": 1, "last_error": "", "window": 10}


async def test_quiet_hours_hold_normal_sms_until_morning_but_not_emergencies(gateway: Gateway, sms, smsc: Smsc) -> None:  # type: ignore[no-untyped-def]
    users = await seed(gateway)
    await subscribe(smsc, "84912000001")
    local = datetime.now(LOCAL)
    start, end = (local - timedelta(hours=1)).strftime("%H:%M"), (local + timedelta(hours=1)).strftime("%H:%M")
    dispatcher = gateway.services.dispatcher
    dispatcher.settings = dataclasses.replace(dispatcher.settings, quiet_hours={"sms": QuietHours(start, end)})
    normal = await release(gateway, users, "Hop dan luc 15h", "normal")
    (row,) = (await rows(gateway, normal)).values()
    assert row.state == "pending"
    assert timedelta(minutes=55) < row.next_attempt_at - datetime.now(UTC) <= timedelta(hours=1)
    urgent = await release(gateway, users, "Bao so 9: so tan ngay", "emergency")
    assert [r.state for r in (await rows(gateway, urgent)).values()] == ["sent"]


async def test_receipts_that_beat_the_workers_report_still_record_the_parts(gateway: Gateway, sms, smsc: Smsc) -> None:  # type: ignore[no-untyped-def]
    """The SMSC may report delivery of the last part before the worker has written its own
    outcome: the receipt settles the row, the worker's report is refused, and the row still
    shows how many parts the message took."""
    users = await seed(gateway)
    await subscribe(smsc, "84912000001")
    bid = await release(gateway, users, STORM, "normal", work=False)
    await gateway.queue_due()
    async with gateway.services.sessions() as s:
        (claim,) = await ledger.claim(s, "sms", "w-test", 60)
    first = len(smsc.accepted)
    sent = await sms.send(claim.target, STORM, f"b{claim.id}", delivery_id=claim.id)
    assert sent.kind == "sent" and len(smsc.accepted) == first + 3
    for seen in smsc.accepted[first:]:
        assert await smsc.receipt(seen.message_id, "DELIVRD") == 0
    async with gateway.services.sessions() as s:
        outcome = ledger.Outcome("sent", reference="3 phần")
        assert not await ledger.report(s, claim.id, "w-test", outcome, max_attempts=3)
    row = (await rows(gateway, bid))["+84912000001"]
    assert (row.state, row.reference) == ("delivered", "3 phần")
