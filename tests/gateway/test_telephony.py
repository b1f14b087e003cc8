"""Outbound campaigns and the hotline against the Asterisk stand-in, over real sockets:
AMI for the Originates and their events, FastAGI from the stand-in into Loa's IVR."""

from __future__ import annotations

import asyncio
import dataclasses
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio
from sqlalchemy import select

from gateway.config import AsteriskServer
from gateway.db.models import Area, Bulletin, CallAttempt, Case, Delivery, Subscriber
from gateway.delivery import ledger
from gateway.telephony.setup import Telephony, build_telephony
from tests.gateway.conftest import Gateway, seed
from tests.support.asterisk import Asterisk, Script
from tests.support.smsc import Smsc, wait_until

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(180)]
NUMBERS = {
    "+84912000001": Script("answer"),
    "+84912000002": Script("busy"),
    "+84912000003": Script("no_answer"),
    "+84912000004": Script("unallocated"),
    "+84912000005": Script("rejected"),
    "+84912000006": Script("congestion"),
    "+84912000007": Script("chanunavail"),
}


@pytest_asyncio.fixture
async def asterisk() -> AsyncIterator[Asterisk]:
    server = Asterisk(speed=200.0)
    await server.start()
    yield server
    await server.stop()


@pytest_asyncio.fixture
async def telephony(gateway: Gateway, asterisk: Asterisk) -> AsyncIterator[Telephony]:
    services = gateway.services
    settings = dataclasses.replace(
        services.settings,
        asterisk=(AsteriskServer("xa", port=asterisk.port, username="loa", secret="s3cret", channels=4),),
        agi_listen="127.0.0.1:0",
        call_cps=20.0,
        call_retry_busy="1s",
        call_retry_no_answer="1s,1s",
        call_congestion_backoff="1s",
        quiet_hours={},
    )
    built = build_telephony(settings, services.sessions, services.renderer, services.spool, None, "w1")  # type: ignore[arg-type]
    assert built is not None
    built.channel.window = None  # the tests run at any hour
    services.dispatcher.worker = "w1"
    services.dispatcher.settings = settings
    services.channels["call"] = built.channel
    services.telephony = built
    await built.start()
    # the shipped dialplan's [globals]: where Asterisk finds Loa, and the AGI secret
    asterisk.dialplan.globals.update(LOA=built.channel.agi_url, LOA_SECRET=settings.agi_secret)
    assert await built.channel.pool.trunks[0].client.wait_ready(5)
    stop = asyncio.Event()
    worker = asyncio.create_task(services.dispatcher.run(stop, interval=0.1))
    yield built
    stop.set()
    await worker
    await built.close()
    await built.channel.close()


async def subscribe(gateway: Gateway, numbers: list[str], area: str = "T1") -> None:
    async with gateway.services.sessions() as session:
        area_id = (await session.execute(select(Area.id).where(Area.code == area))).scalar_one()
        for number in numbers:
            session.add(Subscriber(phone=number, area_id=area_id, source="console"))
        await session.commit()


async def release(gateway: Gateway, users, channel: str = "call", area: str = "XA1", priority: str = "normal") -> int:  # type: ignore[no-untyped-def]
    editor, ecsrf = users["bientap"]
    approver, acsrf = users["duyet"]
    body = {
        "title": "Lịch tiêm phòng",
        "body": "Sáng thứ hai, trạm y tế xã tiêm phòng dại cho chó mèo.",
        "priority": priority,
        "targets": [{"channel": channel, "area": area}],
    }
    bid = int((await editor.post("/api/v1/bulletins", json=body, headers={"X-CSRF-Token": ecsrf})).json()["id"])
    await editor.post(f"/api/v1/bulletins/{bid}/submit", headers={"X-CSRF-Token": ecsrf})
    await approver.post(f"/api/v1/bulletins/{bid}/approve", headers={"X-CSRF-Token": acsrf})
    r = await approver.post(f"/api/v1/bulletins/{bid}/schedule", json={}, headers={"X-CSRF-Token": acsrf})
    assert r.status_code == 200, r.text
    return bid


async def settle(gateway: Gateway, bulletin_id: int, within: float = 60.0) -> dict[str, Delivery]:
    """Run the worker until every row of the bulletin is final."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        async with gateway.services.sessions() as s:
            rows = (await s.execute(select(Delivery).where(Delivery.bulletin_id == bulletin_id))).scalars().all()
        if rows and all(r.state in ledger.FINAL_STATES for r in rows):
            return {r.target: r for r in rows}
        if loop.time() > deadline:
            raise AssertionError(f"rows not settled: {[(r.target, r.state, r.detail) for r in rows]}")
        await asyncio.sleep(0.1)


async def attempts(gateway: Gateway) -> dict[str, list[CallAttempt]]:
    async with gateway.services.sessions() as s:
        rows = (await s.execute(select(CallAttempt).order_by(CallAttempt.id))).scalars().all()
    out: dict[str, list[CallAttempt]] = {}
    for row in rows:
        out.setdefault(row.number, []).append(row)
    return out


def dialled(asterisk: Asterisk, number: str) -> int:
    national = "0" + number[3:]
    return sum(1 for o in asterisk.originates if f"/{national}@" in o["channel"])


async def test_a_campaign_retries_exactly_by_cause_and_the_resident_hears_the_bulletin(
    gateway: Gateway, telephony: Telephony, asterisk: Asterisk
) -> None:
    users = await seed(gateway)
    for number, script in NUMBERS.items():
        asterisk.scripts["0" + number[3:]] = script
    await subscribe(gateway, list(NUMBERS))
    bid = await release(gateway, users)
    await wait_until(lambda: dialled(asterisk, "+84912000006") == 1, within=60)
    asterisk.scripts["0912000006"] = Script("answer")  # the trunk recovers
    rows = await settle(gateway, bid)
    assert rows["+84912000001"].state == "delivered"
    assert "nghe hết" in rows["+84912000001"].detail
    assert rows["+84912000002"].state == "failed" and "máy bận" in rows["+84912000002"].detail
    assert rows["+84912000003"].state == "failed" and "19" in rows["+84912000003"].detail
    assert rows["+84912000004"].state == "failed" and "không gọi lại" in rows["+84912000004"].detail
    assert rows["+84912000005"].state == "failed" and "21" in rows["+84912000005"].detail
    assert rows["+84912000006"].state == "delivered"
    # busy: 1 retry configured; no answer: 2; congestion: until it clears; unallocated and
    # rejected: once more (chan_pjsip gives a trunk's 403/404 the same causes 21 and 1);
    # no channel at all (Reason 0, no Hangup): retried like a call nobody answered
    assert rows["+84912000007"].state == "failed" and "Reason 0" in rows["+84912000007"].detail
    assert [dialled(asterisk, n) for n in NUMBERS] == [1, 2, 3, 2, 2, 2, 3]
    calls = await attempts(gateway)
    # chan_pjsip: Reason 0 for every failure but the ring timeout; the Hangup's Cause decides
    assert [(a.reason, a.cause) for a in calls["+84912000002"]] == [(0, 17), (0, 17)]
    assert [(a.reason, a.cause) for a in calls["+84912000003"]] == [(3, 19)] * 3
    assert [(a.reason, a.cause) for a in calls["+84912000004"]] == [(0, 1), (0, 1)]
    assert [(a.reason, a.cause) for a in calls["+84912000005"]] == [(0, 21), (0, 21)]
    assert calls["+84912000006"][0].outcome == "congestion" and calls["+84912000006"][0].cause == 34
    answered = calls["+84912000001"][0]
    assert answered.outcome == "delivered" and answered.answered_at is not None and answered.heard_seconds > 1
    # what the resident heard: the intro prompt, the bulletin's 8 kHz render, the menu
    log = asterisk.calls[answered.call_id]
    assert any("/bulletins/" in p and p.endswith(".ulaw") for p in log.played)
    assert not log.missing
    assert log.variables["LOA_BULLETIN"] == str(bid)
    for _ in range(100):  # the worker closes the bulletin on its next round
        async with gateway.services.sessions() as s:
            status = (await s.get(Bulletin, bid)).status  # type: ignore[union-attr]
        if status != "delivering":
            break
        await asyncio.sleep(0.1)
    assert status == "partly_failed"
    # the operator's view: every attempt with Asterisk's own codes, and the trunk's state
    admin, _ = users["admin"]
    listed = (await admin.get(f"/api/v1/bulletins/{bid}/calls")).json()["calls"]
    assert len(listed) == 15
    busy = [c for c in listed if c["number"] == "+84912000002"]
    assert [(c["reason"], c["cause"], c["outcome"]) for c in busy] == [(0, 17, "busy"), (0, 17, "busy")]
    trunks = (await admin.get("/api/v1/telephony/status")).json()["servers"]
    assert trunks[0]["name"] == "xa" and trunks[0]["connected"] and trunks[0]["channels"] == 4


def _speech(path: Path, seconds: float = 2.0) -> Path:
    t = np.arange(int(8000 * seconds)) / 8000
    tone = (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(tone.tobytes())
    return path


async def test_a_hotline_caller_hears_the_news_leaves_feedback_and_checks_it_later(
    gateway: Gateway, telephony: Telephony, asterisk: Asterisk, tmp_path: Path
) -> None:
    users = await seed(gateway)
    await subscribe(gateway, ["+84912000001"])
    asterisk.scripts["0912000001"] = Script("answer")
    bid = await release(gateway, users)
    await settle(gateway, bid)
    url = f"agi://127.0.0.1:{telephony.agi.port}/hotline"
    caller = "0987000111"
    await subscribe(gateway, ["+84987000111"], area="T2")  # T2 is in XA1: the bulletin reached it
    # 1 = news (nothing pressed during the intro and the bulletin), then 2 = feedback ended by #
    log = await asterisk.call_in(caller, url, Script(keys=["1", "", "", "2", "#"], say=_speech(tmp_path / "y.wav")))
    assert any("/bulletins/" in p for p in log.played)
    assert log.recorded and not log.missing
    async with gateway.services.sessions() as s:
        case = (await s.execute(select(Case))).scalars().first()
    assert case is not None, "\n".join(f"{c[-60:]} -> {r}" for c, r in log.commands)
    assert case.channel == "hotline" and case.caller == "+84987000111" and case.audio_sha256
    digits = [await telephony.prompts.digit(d) for d in case.ticket]
    played = [p.rsplit(".", 1)[0] for p in log.played]
    runs = [i for i in range(len(played)) if played[i : i + len(digits)] == digits]
    assert len(runs) == 2  # read back digit by digit, then once more
    assert not log.recorded[0].exists()  # moved into the spool, filed as the case's audio
    # later: 3 = status, the ticket keyed in and ended by #
    later = await asterisk.call_in(caller, url, Script(keys=["3", case.ticket + "#"]))
    from gateway.feedback.service import status_sentence

    status = await telephony.prompts.path(status_sentence(case))
    assert status in [p.rsplit(".", 1)[0] for p in later.played]
    # a mistyped code is refused, not read out as someone else's case
    wrong = case.ticket[:-1] + str((int(case.ticket[-1]) + 1) % 10)
    typo = await asterisk.call_in(caller, url, Script(keys=["3", wrong + "#"]))
    not_found = await telephony.prompts.path(telephony.flows["hotline"].nodes["status"].not_found_text)
    assert not_found in [p.rsplit(".", 1)[0] for p in typo.played]


async def test_an_unknown_caller_chooses_a_village_and_hears_only_its_news(
    gateway: Gateway, telephony: Telephony, asterisk: Asterisk
) -> None:
    users = await seed(gateway)
    await subscribe(gateway, ["+84912000001"])
    asterisk.scripts["0912000001"] = Script("answer")
    bid = await release(gateway, users, area="T1")
    await settle(gateway, bid)
    url = f"agi://127.0.0.1:{telephony.agi.port}/hotline"
    empty = await telephony.prompts.path(telephony.flows["hotline"].nodes["latest"].empty_text)
    # 1 = news; not a subscriber, so asked where: 2 = Thôn Hai, which the bulletin did not reach
    elsewhere = await asterisk.call_in("0987000333", url, Script(keys=["1", "2"]))
    assert not any("/bulletins/" in p for p in elsewhere.played)
    assert empty in [p.rsplit(".", 1)[0] for p in elsewhere.played]
    # 1 = Thôn Một: the bulletin plays (nothing pressed during the intro or the bulletin)
    there = await asterisk.call_in("0987000333", url, Script(keys=["1", "1", "", ""]))
    assert any("/bulletins/" in p for p in there.played)


async def test_the_ticket_is_also_sent_by_sms_when_sms_is_configured(
    gateway: Gateway, telephony: Telephony, asterisk: Asterisk, smsc: Smsc, tmp_path: Path
) -> None:
    from gateway.ivr.backend import DatabaseBackend
    from gateway.sms.codec import split_udh
    from gateway.sms.service import SmsService
    from gateway.sms.smpp.session import SessionConfig
    from gateway.sms.smpp.transport import SmppConfig, SmppTransport

    await seed(gateway)
    config = SessionConfig("127.0.0.1", smsc.port, "loa", "secret", reconnect_min_s=0.1)
    sms = SmsService(gateway.services.sessions, SmppTransport(SmppConfig(config, sender="UBNDXA")))
    await sms.start()
    await wait_until(lambda: smsc.esmes)
    backend = telephony.ivr.runner.backend
    assert isinstance(backend, DatabaseBackend)
    backend.sms = sms
    try:
        url = f"agi://127.0.0.1:{telephony.agi.port}/hotline"
        await asterisk.call_in("0987000444", url, Script(keys=["2", "#"], say=_speech(tmp_path / "y.wav")))
        async with gateway.services.sessions() as s:
            case = (await s.execute(select(Case))).scalar_one()
        await wait_until(lambda: smsc.accepted)
        seen = smsc.accepted[0]
        _, data = split_udh(seen.payload) if seen.esm_class & 0x40 else (None, seen.payload)
        text = data.decode("utf-16-be") if seen.data_coding == 8 else data.decode("latin-1")
        assert case.ticket in text and seen.destination.endswith("987000444")
    finally:
        await sms.close()


@pytest.mark.parametrize("node", range(0, 12))
async def test_a_caller_hanging_up_at_any_step_loses_no_recording(
    gateway: Gateway, telephony: Telephony, asterisk: Asterisk, tmp_path: Path, node: int
) -> None:
    await seed(gateway)
    url = f"agi://127.0.0.1:{telephony.agi.port}/hotline"
    log = await asterisk.call_in(
        "0987000222", url, Script(keys=["2", "#"], hangup_at=node, say=_speech(tmp_path / "y.wav"))
    )
    assert log.commands  # the session ran and ended without a crash
    async with gateway.services.sessions() as s:
        cases = (await s.execute(select(Case))).scalars().all()
    assert len(cases) == len(log.recorded)  # every recording made is a case, hangup or not
    assert telephony.agi.active == set()


async def test_an_asterisk_restart_mid_campaign_leaves_no_row_stuck_and_no_one_called_twice(
    gateway: Gateway, telephony: Telephony, asterisk: Asterisk
) -> None:
    users = await seed(gateway)
    numbers = [f"+849120001{n:02d}" for n in range(8)]
    for number in numbers:
        asterisk.scripts["0" + number[3:]] = Script("answer", ring_seconds=0.4)
    await subscribe(gateway, numbers)
    bid = await release(gateway, users)
    await wait_until(lambda: len(asterisk.originates) >= 3, within=30)
    await asterisk.restart(down_for=0.3)
    rows = await settle(gateway, bid, within=90)
    assert {r.state for r in rows.values()} == {"delivered"}
    heard: dict[str, int] = {}
    for log in asterisk.calls.values():
        if any("/bulletins/" in p for p in log.played) and log.cause == 16:
            heard[log.number] = heard.get(log.number, 0) + 1
    calls = await attempts(gateway)
    lost = [a for rows_ in calls.values() for a in rows_ if a.outcome in ("error", "lost")]
    assert lost, "the restart cut at least one call"
    for number in numbers:
        assert calls[number][-1].outcome == "delivered"


async def test_an_officer_answers_a_case_by_phone(gateway: Gateway, telephony: Telephony, asterisk: Asterisk) -> None:
    users = await seed(gateway)
    officer, csrf = users["admin"]
    h = {"X-CSRF-Token": csrf}
    filed = await officer.post("/api/v1/cases", headers=h, json={"text": "Đèn đường hỏng", "caller": "0912000009"})
    ticket = filed.json()["ticket"]
    answer = "Xã đã thay bóng đèn ở đầu thôn Một."
    r = await officer.post(f"/api/v1/cases/{ticket}/reply", headers=h, json={"text": answer, "via": "call"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "answered"
    async with gateway.services.sessions() as s:
        row = await s.get(Delivery, r.json()["reply_delivery"])
        assert row is not None
        bulletin_id = row.bulletin_id
    rows = await settle(gateway, bulletin_id)
    assert rows["+84912000009"].state == "delivered"
    (call,) = [log for log in asterisk.calls.values() if log.number == "0912000009"]
    assert any("/bulletins/" in p for p in call.played)
    outbound = asterisk.originates[-1]
    assert "LOA_FLOW=reply" in outbound["variable"].split("\x00")  # the dialplan runs AGI(${LOA}/reply?...)
    listed = (await officer.get("/api/v1/bulletins")).json()
    assert all(b["id"] != bulletin_id for b in listed)  # replies are not bulletins to the officer
    # without Asterisk the choice is refused with the reason
    del gateway.services.channels["call"]
    r = await officer.post(f"/api/v1/cases/{ticket}/reply", headers=h, json={"text": answer, "via": "call"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "via"


async def test_opt_out_daily_cap_and_call_window_are_checked_before_dialling(
    gateway: Gateway, telephony: Telephony, asterisk: Asterisk
) -> None:
    from gateway.config import QuietHours

    users = await seed(gateway)
    await subscribe(gateway, ["+84912000011", "+84912000012"])
    telephony.channel.daily_cap = 1
    first = await release(gateway, users)
    await settle(gateway, first)
    async with gateway.services.sessions() as s:
        row = (await s.execute(select(Subscriber).where(Subscriber.phone == "+84912000012"))).scalar_one()
    # a second bulletin the same day: one number opts out after it was planned
    telephony.channel.window = QuietHours("00:00", "23:59")  # night all day: normal calls wait
    second = await release(gateway, users)
    for _ in range(100):
        async with gateway.services.sessions() as s:
            rows = (await s.execute(select(Delivery).where(Delivery.bulletin_id == second))).scalars().all()
        if len(rows) == 2 and all(r.state == "retry" for r in rows):
            break
        await asyncio.sleep(0.1)
    assert all(r.state == "retry" and r.attempts == 0 and "ngoài giờ gọi" in r.detail for r in rows)
    dialled_before = len(asterisk.originates)
    async with gateway.services.sessions() as s:
        subscriber = await s.get(Subscriber, row.id)
        assert subscriber is not None
        subscriber.opted_out = True
        for r in (await s.execute(select(Delivery).where(Delivery.bulletin_id == second))).scalars():
            r.next_attempt_at = r.created_at  # due again
        await s.commit()
    telephony.channel.window = None
    rows_by = await settle(gateway, second)
    assert rows_by["+84912000012"].state == "cancelled"
    assert rows_by["+84912000011"].state == "failed" and "hạn mức 1/ngày" in rows_by["+84912000011"].detail
    assert len(asterisk.originates) == dialled_before  # nobody was dialled


async def test_a_row_taken_over_from_a_dead_worker_is_settled_from_its_attempt_record(
    gateway: Gateway, telephony: Telephony, asterisk: Asterisk
) -> None:
    from gateway.delivery.channel import Job

    users = await seed(gateway)
    await subscribe(gateway, ["+84912000021", "+84912000022"])
    bid = await release(gateway, users, channel="file")  # a bulletin to hang the rows on
    await settle(gateway, bid)
    async with gateway.services.sessions() as s:
        rows = []
        for number, outcome in (("+84912000021", "answered"), ("+84912000022", "dialing")):
            row = Delivery(bulletin_id=bid, channel="call-x", target=number, state="in_progress", attempts=1)
            s.add(row)
            await s.flush()
            s.add(
                CallAttempt(call_id=f"loa-{row.id}-1", delivery_id=row.id, number=number, server="xa", outcome=outcome)
            )
            rows.append(row.id)
        await s.commit()
    asterisk.write = {"originate", "reporting", "call"}  # conf/asterisk/manager.conf
    answered = Job(ledger.Claim(rows[0], bid, 0, "call", "+84912000021", 2, recovered=True), bid, "t", "normal", "")
    outcome = await telephony.channel.deliver(answered)
    # Gone from Asterisk, and no IVR session ever served it (connected_at): the bulletin
    # never played. Tried again under the retry policy, never counted delivered (docs/chaos.md fix 5).
    assert outcome.kind == "retry" and not asterisk.originates, outcome.detail
    ringing = Job(ledger.Claim(rows[1], bid, 0, "call", "+84912000022", 2, recovered=True), bid, "t", "normal", "")
    outcome = await telephony.channel.deliver(ringing)
    assert len(asterisk.originates) == 1  # nobody had picked up: dialled again
    calls = await attempts(gateway)
    assert calls["+84912000022"][0].outcome == "lost"
    assert calls["+84912000021"][0].outcome == "lost" and calls["+84912000021"][0].ended_at is not None
