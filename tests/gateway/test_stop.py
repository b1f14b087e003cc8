"""Stopping a broadcast from one place (issue 13): the schedule the clusters pull never
holds an item of a stopped or cancelled bulletin; ``POST /api/v1/bulletins/{id}/stop``
settles every row of the bulletin with its reason and silences the live channels; daily
recurrences can be seen, paused, resumed and cancelled. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from urllib.parse import unquote

import httpx
import pytest
from sqlalchemy import select

from gateway.db.models import Bulletin, Delivery
from tests.gateway.conftest import Gateway, seed
from tests.gateway.test_devices import emergency, register
from tests.support.smsc import Smsc

pytestmark = pytest.mark.asyncio


async def _sent_pull_item(gateway: Gateway) -> tuple[dict[str, tuple[object, str]], object, int]:
    users = await seed(gateway)
    token = await register(gateway)
    device = gateway.client()
    device.headers["Authorization"] = f"Bearer {token}"
    bid = await emergency(gateway, users)
    await gateway.run_worker()
    (item,) = (await device.get("/api/device/v1/schedule")).json()["items"]
    assert item["bulletin"] == bid
    async with gateway.services.sessions() as s:
        (row,) = (await s.execute(select(Delivery).where(Delivery.bulletin_id == bid))).scalars()
    assert row.state == "sent"
    return users, device, bid  # type: ignore[return-value]


@pytest.mark.parametrize("status", ["cancelled", "stopped"])
async def test_a_cancelled_or_stopped_bulletin_leaves_the_clusters_schedule_even_with_a_sent_row(
    gateway: Gateway, status: str
) -> None:
    """Issue 13: a cancelled alert's ``sent`` row kept it on the pull schedule, playing."""
    _, device, bid = await _sent_pull_item(gateway)
    async with gateway.services.sessions() as s:
        bulletin = await s.get(Bulletin, bid)
        assert bulletin is not None
        bulletin.status = status  # as a CAP Cancel leaves it, its row still "sent"
        await s.commit()
    await asyncio.sleep(2.1)  # past every cache of the schedule
    assert (await device.get("/api/device/v1/schedule")).json()["items"] == []  # type: ignore[attr-defined]


async def test_stop_settles_every_row_with_its_reason_wakes_the_clusters_and_is_audited(gateway: Gateway) -> None:
    users, device, bid = await _sent_pull_item(gateway)
    etag = (await device.get("/api/device/v1/schedule")).headers["etag"]  # type: ignore[attr-defined]
    waiting = asyncio.create_task(
        device.get("/api/device/v1/schedule?wait=25", headers={"If-None-Match": etag})  # type: ignore[attr-defined]
    )
    await asyncio.sleep(0.3)
    editor, ecsrf = users["bientap"]
    refused = await editor.post(  # type: ignore[attr-defined]
        f"/api/v1/bulletins/{bid}/stop", json={"reason": "nhầm địa bàn"}, headers={"X-CSRF-Token": ecsrf}
    )
    assert refused.status_code == 403 and refused.json()["errors"][0]["field"] == "role"
    approver, acsrf = users["duyet"]
    h = {"X-CSRF-Token": acsrf}
    empty = await approver.post(f"/api/v1/bulletins/{bid}/stop", json={"reason": "  "}, headers=h)  # type: ignore[attr-defined]
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "reason"
    r = await approver.post(f"/api/v1/bulletins/{bid}/stop", json={"reason": "phát nhầm bản tin"}, headers=h)  # type: ignore[attr-defined]
    assert r.status_code == 200, r.text
    assert r.json()["rows"] == {"loudspeaker": {"sent": 1}} and r.json()["status"] == "stopped"
    answer = await asyncio.wait_for(waiting, 10)  # the long poll is answered at once, without the item
    assert answer.status_code == 200 and answer.json()["items"] == []
    async with gateway.services.sessions() as s:
        (row,) = (await s.execute(select(Delivery).where(Delivery.bulletin_id == bid))).scalars()
        bulletin = await s.get(Bulletin, bid)
        from gateway.db.models import AuditLog

        (logged,) = (await s.execute(select(AuditLog).where(AuditLog.action == "stop"))).scalars()
    assert row.state == "cancelled" and "dừng phát" in row.detail and "phát nhầm bản tin" in row.detail
    assert bulletin is not None and bulletin.status == "stopped"
    assert logged.actor == "duyet" and logged.entity_id == str(bid) and logged.detail["reason"] == "phát nhầm bản tin"
    again = await approver.post(f"/api/v1/bulletins/{bid}/stop", json={"reason": "lần nữa"}, headers=h)  # type: ignore[attr-defined]
    assert again.status_code == 409
    await gateway.run_worker()
    async with gateway.services.sessions() as s:
        (row,) = (await s.execute(select(Delivery).where(Delivery.bulletin_id == bid))).scalars()
    assert row.state == "cancelled"  # the worker did not put it back


async def test_stop_cuts_a_playing_rtp_stream_and_does_not_queue_it_again(gateway: Gateway) -> None:
    import socket

    from tests.gateway.test_devices import market_day

    users = await seed(gateway)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as speaker:
        speaker.bind(("127.0.0.1", 0))
        speaker.settimeout(0.5)
        await register(gateway, "LOA-CHO", kind="rtp", rtp_address=f"127.0.0.1:{speaker.getsockname()[1]}")
        bid = await market_day(users, repeats=4)
        await gateway.run_worker()
        speaker.settimeout(10.0)  # the stream starts once the clock process is up: start() does not wait for it
        await asyncio.to_thread(speaker.recv, 2048)
        speaker.settimeout(0.5)
        await asyncio.to_thread(lambda: [speaker.recv(2048) for _ in range(9)])  # on air
        admin, csrf = users["admin"]
        r = await admin.post(  # type: ignore[attr-defined]
            f"/api/v1/bulletins/{bid}/stop", json={"reason": "sai nội dung"}, headers={"X-CSRF-Token": csrf}
        )
        assert r.status_code == 200 and r.json()["cut"]["loudspeaker"] == 1

        def drained() -> bool:
            try:
                while True:
                    speaker.recv(2048)
            except TimeoutError:
                return True

        assert await asyncio.wait_for(asyncio.to_thread(drained), 10)  # silence: no packet for 0.5 s
        await gateway.run_worker()
        async with gateway.services.sessions() as s:
            (row,) = (await s.execute(select(Delivery).where(Delivery.bulletin_id == bid))).scalars()
        assert row.state == "cancelled"
        await asyncio.sleep(1.0)
        speaker.settimeout(0.1)
        assert drained()  # nothing played again
        await gateway.services.channels["loudspeaker"].close()  # type: ignore[attr-defined]


async def test_the_console_stop_button_asks_for_a_reason_and_a_confirmation(gateway: Gateway) -> None:
    users, _device, bid = await _sent_pull_item(gateway)
    operator, ocsrf = users["vanhanh"]  # an operator allowed to release emergencies may stop them
    page = await operator.get(f"/bulletins/{bid}")  # type: ignore[attr-defined]
    assert f'action="/bulletins/{bid}/stop"' in page.text and "Dừng phát" in page.text
    form = {"csrf_token": ocsrf, "reason": "cảnh báo đã hết hiệu lực"}
    unconfirmed = await operator.post(f"/bulletins/{bid}/stop", data=form)  # type: ignore[attr-defined]
    assert unconfirmed.status_code == 303 and "error=" in unconfirmed.headers["location"]
    assert "Hãy đánh dấu ô xác nhận" in unquote(unconfirmed.headers["location"])  # a sentence, no field name
    async with gateway.services.sessions() as s:
        bulletin = await s.get(Bulletin, bid)
        assert bulletin is not None and bulletin.status != "stopped"
    done = await operator.post(f"/bulletins/{bid}/stop", data=form | {"confirm": "yes"})  # type: ignore[attr-defined]
    assert done.status_code == 303 and "error" not in done.headers["location"]
    shown = await operator.get(f"/bulletins/{bid}")  # type: ignore[attr-defined]
    assert "Đã dừng phát" in shown.text and "cảnh báo đã hết hiệu lực" in shown.text
    assert f'action="/bulletins/{bid}/stop"' not in shown.text  # nothing left to stop


async def test_stop_hangs_up_the_call_in_progress_over_ami_and_cancels_the_queued_ones(gateway: Gateway) -> None:
    import dataclasses

    from gateway.config import AsteriskServer
    from gateway.db.models import CallAttempt
    from gateway.telephony.setup import build_telephony
    from tests.gateway.test_telephony import subscribe
    from tests.support.asterisk import Asterisk
    from tests.support.smsc import wait_until

    asterisk = Asterisk(speed=1.0)  # real time: the bulletin lasts long enough to be cut
    await asterisk.start()
    services = gateway.services
    settings = dataclasses.replace(
        services.settings,
        asterisk=(AsteriskServer("xa", port=asterisk.port, username="loa", secret="s3cret", channels=1),),
        agi_listen="127.0.0.1:0",
        call_cps=20.0,
        quiet_hours={},
    )
    built = build_telephony(settings, services.sessions, services.renderer, services.spool, None, "w1")  # type: ignore[arg-type]
    assert built is not None
    built.channel.window = None
    services.dispatcher.worker, services.dispatcher.settings = "w1", settings
    services.channels["call"] = built.channel
    services.telephony = built
    await built.start()
    asterisk.dialplan.globals.update(LOA=built.channel.agi_url)  # the dialplan's [globals]: where Loa is
    stop = asyncio.Event()
    worker = asyncio.create_task(services.dispatcher.run(stop, interval=0.1))
    try:
        users = await seed(gateway)
        await subscribe(gateway, ["+84912000001", "+84912000002", "+84912000003"])
        editor, ecsrf = users["bientap"]
        body = {
            "title": "Thông báo",
            "body": " ".join(["Trạm y tế xã tiêm phòng dại cho chó mèo vào sáng thứ hai."] * 6),
            "priority": "emergency",
            "targets": [{"channel": "call", "area": "XA1"}],
        }
        bid = int((await editor.post("/api/v1/bulletins", json=body, headers={"X-CSRF-Token": ecsrf})).json()["id"])  # type: ignore[attr-defined]
        operator, ocsrf = users["vanhanh"]
        h = {"X-CSRF-Token": ocsrf}
        assert (await operator.post(f"/api/v1/bulletins/{bid}/emergency", headers=h)).status_code == 200  # type: ignore[attr-defined]
        await wait_until(lambda: any(s["ChannelStateDesc"] == "Up" for s in asterisk.live.values()), within=60)
        await asyncio.sleep(0.5)  # the resident is listening
        r = await operator.post(f"/api/v1/bulletins/{bid}/stop", json={"reason": "gọi nhầm"}, headers=h)  # type: ignore[attr-defined]
        assert r.status_code == 200, r.text
        settled = r.json()["rows"]["call"]  # the one on the line, one claimed ahead by the feeder, the rest queued
        # hung up over AMI, unless the call's own AGI session, finding its row stopped, ended it first
        assert r.json()["cut"]["call"] <= 1 and sum(settled.values()) == 3 and settled["in_progress"] >= 1
        await wait_until(lambda: not asterisk.live, within=10)  # hung up
        (log,) = asterisk.calls.values()
        await asyncio.wait_for(log.ended.wait(), 10)
        assert log.cause == 16
        await asyncio.sleep(1.5)
        assert len(asterisk.originates) == 1  # the queued calls, the one claimed ahead too, were never dialled
        async with services.sessions() as s:
            rows = list((await s.execute(select(Delivery).where(Delivery.bulletin_id == bid))).scalars())
            (attempt,) = (await s.execute(select(CallAttempt))).scalars()
        assert {r.state for r in rows} == {"cancelled"} and all("gọi nhầm" in r.detail for r in rows)
        assert attempt.ended_at is not None and attempt.cause == 16  # the attempt record closed as any call
    finally:
        stop.set()
        await worker
        await built.close()
        await built.channel.close()
        await asterisk.stop()


async def test_stop_cancels_sms_not_yet_submitted_and_counts_the_parts_the_smsc_accepted(
    gateway: Gateway, smsc: Smsc
) -> None:
    import dataclasses
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from gateway.bulletins.schedule import LOCAL
    from gateway.config import QuietHours
    from gateway.db.models import SmsPart
    from tests.gateway.test_sms_service import release, subscribe

    service = await _start_sms(gateway, smsc)
    try:
        users = await seed(gateway)
        await subscribe(smsc, "84912000001", "84912000002")
        local = datetime.now(LOCAL)
        quiet = QuietHours(
            (local - timedelta(hours=1)).strftime("%H:%M"), (local + timedelta(hours=1)).strftime("%H:%M")
        )
        dispatcher = gateway.services.dispatcher
        dispatcher.settings = dataclasses.replace(dispatcher.settings, quiet_hours={"sms": quiet})
        long_text = "Thông báo: " + "lịch cắt điện thôn Một sáng mai từ bảy giờ đến mười một giờ. " * 3
        bid = await release(gateway, users, long_text, "normal")  # held by quiet hours: both rows pending
        async with gateway.services.sessions() as s:
            first = min((await s.execute(select(Delivery.id).where(Delivery.bulletin_id == bid))).scalars())
            await s.execute(update(Delivery).where(Delivery.id == first).values(next_attempt_at=datetime.now(UTC)))
            await s.commit()  # one resident's turn came: her parts go out
        before = len(smsc.accepted)
        await gateway.run_worker()
        accepted = len(smsc.accepted) - before
        assert accepted >= 2  # a long Vietnamese text: several UCS-2 parts
        approver, acsrf = users["duyet"]
        r = await approver.post(  # type: ignore[attr-defined]
            f"/api/v1/bulletins/{bid}/stop", json={"reason": "sai giờ cắt điện"}, headers={"X-CSRF-Token": acsrf}
        )
        assert r.status_code == 200, r.text
        assert r.json()["rows"]["sms"] == {"sent": 1, "pending": 1}
        assert r.json()["sms_parts_accepted"] == accepted  # already with the SMSC: cannot be recalled
        dispatcher.settings = dataclasses.replace(dispatcher.settings, quiet_hours={})
        async with gateway.services.sessions() as s:
            await s.execute(
                update(Delivery).where(Delivery.bulletin_id == bid).values(next_attempt_at=datetime.now(UTC))
            )
            await s.commit()
        await gateway.run_worker()
        assert len(smsc.accepted) - before == accepted  # the other resident got nothing
        async with gateway.services.sessions() as s:
            states = {r.state for r in (await s.execute(select(Delivery).where(Delivery.bulletin_id == bid))).scalars()}
            parts = len(list((await s.execute(select(SmsPart))).scalars()))
        assert states == {"cancelled"} and parts >= accepted
        page = await approver.get(f"/bulletins/{bid}")  # type: ignore[attr-defined]
        assert f"{accepted} tin SMS đã được tổng đài nhắn tin tiếp nhận" in page.text
    finally:
        await service.close()


async def _start_sms(gateway: Gateway, smsc: Smsc):  # type: ignore[no-untyped-def]
    from gateway.sms.adapter import SmsChannel
    from gateway.sms.service import SmsService
    from gateway.sms.smpp.session import SessionConfig
    from gateway.sms.smpp.transport import SmppConfig, SmppTransport
    from tests.support.smsc import wait_until

    session = SessionConfig("127.0.0.1", smsc.port, "loa", "secret", reconnect_min_s=0.1, max_submit_tries=2)
    service = SmsService(gateway.services.sessions, SmppTransport(SmppConfig(session, sender="UBNDXA")))
    await service.start()
    gateway.services.channels["sms"] = SmsChannel(service)
    await wait_until(lambda: smsc.esmes)
    return service


async def test_an_agent_playing_a_stopped_bulletin_stops_at_once_and_never_plays_it_again(
    gateway: Gateway, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from gateway.loudspeakers.agent import Agent, AgentConfig
    from tests.support.smsc import wait_until

    users, device, bid = await _sent_pull_item(gateway)
    client = gateway.client()
    client.headers["Authorization"] = device.headers["Authorization"]  # type: ignore[attr-defined]
    config = AgentConfig("http://loa.test", "", tmp_path / "agent", player="sleep 120", wait_s=5)
    agent = Agent(config, client)
    stop = asyncio.Event()
    running = asyncio.create_task(agent.run(stop))
    try:
        await wait_until(lambda: agent.playing is not None and agent._player is not None, within=20)
        player = agent._player
        assert player is not None and agent.playing is not None and agent.playing["bulletin"] == bid
        approver, acsrf = users["duyet"]
        r = await approver.post(  # type: ignore[attr-defined]
            f"/api/v1/bulletins/{bid}/stop", json={"reason": "tin sai"}, headers={"X-CSRF-Token": acsrf}
        )
        assert r.status_code == 200
        await asyncio.wait_for(player.wait(), 15)  # the long poll woke the agent: the player is gone
        await wait_until(lambda: agent.playing is None, within=5)
        (item,) = [i for i in agent.done]
        assert agent.done[item] == "interrupted" and agent.schedule["stopped"] == [bid]
        await asyncio.sleep(1.5)
        assert agent.playing is None and agent.due() == []  # not started again
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)


async def test_a_stop_committed_by_another_process_is_cut_by_the_workers_next_tick(gateway: Gateway) -> None:
    """The web process commits the stop; the worker that holds the RTP stream finds the row
    cancelled on its next tick and cuts it (nothing lives in one process's memory only)."""
    import socket

    from gateway.delivery.stop import stop_rows
    from tests.gateway.test_devices import market_day

    users = await seed(gateway)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as speaker:
        speaker.bind(("127.0.0.1", 0))
        speaker.settimeout(0.5)
        await register(gateway, "LOA-CHO", kind="rtp", rtp_address=f"127.0.0.1:{speaker.getsockname()[1]}")
        bid = await market_day(users, repeats=4)
        await gateway.run_worker()
        speaker.settimeout(10.0)  # the stream starts once the clock process is up: start() does not wait for it
        await asyncio.to_thread(speaker.recv, 2048)
        speaker.settimeout(0.5)
        await asyncio.to_thread(lambda: [speaker.recv(2048) for _ in range(9)])
        async with gateway.services.sessions() as s:  # as another process would: rows only, no announce
            await stop_rows(s, bid, reason="dừng từ máy khác", actor="duyet")
            await s.commit()
        await asyncio.to_thread(lambda: [speaker.recv(2048) for _ in range(10)])  # still on air here
        await gateway.services.dispatcher.tick()

        def drained() -> bool:
            try:
                while True:
                    speaker.recv(2048)
            except TimeoutError:
                return True

        assert await asyncio.wait_for(asyncio.to_thread(drained), 10)
        await gateway.services.channels["loudspeaker"].close()  # type: ignore[attr-defined]


async def test_stop_ends_a_live_icecast_source_and_marks_the_programme_that_carries_the_item(
    gateway: Gateway,
) -> None:
    from datetime import UTC, datetime

    from gateway.db.models import ProgrammeRun, ProgrammeTemplate
    from tests.gateway.test_devices import market_day
    from tests.support.icecast import start_icecast
    from tests.support.smsc import wait_until

    users = await seed(gateway)
    server = start_icecast()
    try:
        url = f"http://127.0.0.1:{server.port}/xa1.mp3"
        await register(gateway, "LUONG-XA", kind="stream", rtp_address=url)
        channel = gateway.services.channels["loudspeaker"]
        channel.icecast_password = server.password  # type: ignore[attr-defined]
        bid = await market_day(users, repeats=4)
        async with gateway.services.sessions() as s:  # this morning's programme carries the item
            template = ProgrammeTemplate(name="Bản tin sáng", times="06:00", areas="XA1")
            s.add(template)
            await s.flush()
            chapters = [{"bulletin_id": bid, "title": "Chợ phiên", "start": 0.0, "duration": 30.0}]
            s.add(ProgrammeRun(template_id=template.id, air_at=datetime.now(UTC), status="ready", chapters=chapters))
            await s.commit()
        await gateway.run_worker()
        await wait_until(lambda: url in channel.casting, within=30)  # type: ignore[attr-defined]
        await asyncio.sleep(1.0)
        web = httpx.AsyncClient(timeout=5)

        async def mount_status() -> int:
            answer = await web.send(web.build_request("GET", url), stream=True)
            await answer.aclose()
            return answer.status_code

        assert await mount_status() == 200  # on air
        approver, acsrf = users["duyet"]
        r = await approver.post(  # type: ignore[attr-defined]
            f"/api/v1/bulletins/{bid}/stop", json={"reason": "sai lịch chợ"}, headers={"X-CSRF-Token": acsrf}
        )
        assert r.status_code == 200 and r.json()["cut"]["loudspeaker"] == 1 and len(r.json()["programmes"]) == 1
        await wait_until(lambda: url not in channel.casting, within=5)  # type: ignore[attr-defined]
        for _ in range(50):  # the mount is gone from Icecast: nobody hears it
            if await mount_status() == 404:
                break
            await asyncio.sleep(0.2)
        assert await mount_status() == 404
        await web.aclose()
        async with gateway.services.sessions() as s:
            (run,) = (await s.execute(select(ProgrammeRun))).scalars()
            (row,) = (await s.execute(select(Delivery).where(Delivery.bulletin_id == bid))).scalars()
        assert run.chapters[0]["stopped"] is True and f"Tin số {bid} đã bị dừng phát" in run.warning
        assert row.state == "cancelled"  # not queued again, as an emergency's interruption would be
        await channel.close()  # type: ignore[attr-defined]
    finally:
        server.stop()


async def test_a_row_claimed_before_its_alert_was_cancelled_elsewhere_is_settled_not_delivered(
    gateway: Gateway,
) -> None:
    """A worker holds claimed rows (a call feeder claims ahead); the alert is cancelled by
    another path that leaves them in progress: the worker settles them instead of acting."""
    from gateway.delivery import ledger

    users = await seed(gateway)
    editor, ecsrf = users["bientap"]
    body = {
        "title": "Khẩn",
        "body": "Lũ quét.",
        "priority": "emergency",
        "targets": [{"channel": "file", "area": "XA1"}],
    }
    bid = int((await editor.post("/api/v1/bulletins", json=body, headers={"X-CSRF-Token": ecsrf})).json()["id"])  # type: ignore[attr-defined]
    operator, ocsrf = users["vanhanh"]
    assert (
        await operator.post(f"/api/v1/bulletins/{bid}/emergency", headers={"X-CSRF-Token": ocsrf})
    ).status_code == 200  # type: ignore[attr-defined]
    dispatcher = gateway.services.dispatcher
    await gateway.queue_due()
    async with gateway.services.sessions() as s:
        (claim,) = await ledger.claim(s, "file", dispatcher.worker, 30)
    async with gateway.services.sessions() as s:
        bulletin = await s.get(Bulletin, bid)
        assert bulletin is not None
        bulletin.status = "cancelled"
        await s.commit()
    await dispatcher.sweep()
    await dispatcher._deliver_one(gateway.services.channels["file"], claim)
    async with gateway.services.sessions() as s:
        row = await s.get(Delivery, claim.id)
    assert row is not None and row.state == "cancelled" and "hủy" in row.detail
    outbox = gateway.services.settings.outbox
    assert not outbox.exists() or not any(outbox.rglob("*.wav"))
