"""The device registry and the pull API the clusters call: tokens, schedule with ETag and
long poll, audio with checksum and Range, proof of play (replays stored once), heartbeats
with clock skew; a LAN speaker fed by RTP through the loudspeaker channel, with an
emergency cutting in. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pytest
from sqlalchemy import select

from gateway.db.models import Delivery
from tests.gateway.conftest import Gateway, seed
from tests.support.smsc import wait_until
from tests.support.udp_capture import main as _capture_main  # noqa: F401 - the module must import cleanly

pytestmark = pytest.mark.asyncio


async def register(gw: Gateway, code: str = "CUM-T1", **extra: object) -> str:
    admin, csrf = await gw.login("admin", gw.admin_password)
    body = {"code": code, "name": f"Cụm loa {code}", "area": "T1"} | extra
    r = await admin.post("/api/v1/devices", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text
    return str(r.json().get("token", ""))


async def emergency(gw: Gateway, users, text: str = "Bão số 9 đổ bộ, sơ tán ngay.") -> int:  # type: ignore[no-untyped-def]
    editor, ecsrf = users["bientap"]
    body = {
        "title": "Khẩn cấp",
        "body": text,
        "priority": "emergency",
        "targets": [{"channel": "loudspeaker", "area": "XA1"}],
    }
    bid = int((await editor.post("/api/v1/bulletins", json=body, headers={"X-CSRF-Token": ecsrf})).json()["id"])
    operator, ocsrf = users["vanhanh"]
    assert (
        await operator.post(f"/api/v1/bulletins/{bid}/emergency", headers={"X-CSRF-Token": ocsrf})
    ).status_code == 200
    return bid


async def market_day(users, repeats: int) -> int:  # type: ignore[no-untyped-def]
    """A normal bulletin for village T1, long enough to be cut: written, approved, sent now."""
    editor, ecsrf = users["bientap"]
    approver, acsrf = users["duyet"]
    long_text = " ".join(["Chợ phiên sáng chủ nhật mở cửa từ năm giờ, bà con đến sớm."] * repeats)
    body = {"title": "Chợ phiên", "body": long_text, "targets": [{"channel": "loudspeaker", "area": "T1"}]}
    normal = int((await editor.post("/api/v1/bulletins", json=body, headers={"X-CSRF-Token": ecsrf})).json()["id"])
    await editor.post(f"/api/v1/bulletins/{normal}/submit", headers={"X-CSRF-Token": ecsrf})
    await approver.post(f"/api/v1/bulletins/{normal}/approve", headers={"X-CSRF-Token": acsrf})
    await approver.post(f"/api/v1/bulletins/{normal}/schedule", json={}, headers={"X-CSRF-Token": acsrf})
    return normal


async def test_registry_refuses_bad_devices_with_the_field_named(gateway: Gateway) -> None:
    await seed(gateway)
    admin, csrf = await gateway.login("admin", gateway.admin_password)
    h = {"X-CSRF-Token": csrf}
    for body, field in (
        ({"code": "có dấu", "name": "x", "area": "T1"}, "code"),
        ({"code": "A1", "name": "x", "area": "ZZ"}, "area"),
        ({"code": "A1", "name": "x", "area": "T1", "kind": "rtp"}, "rtp_address"),
        ({"code": "A1", "name": "x", "area": "T1", "windows": "5h-7h"}, "windows"),
    ):
        r = await admin.post("/api/v1/devices", json=body, headers=h)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, body
    await register(gateway, "A1")
    r = await admin.post("/api/v1/devices", json={"code": "A1", "name": "x", "area": "T1"}, headers=h)
    assert r.status_code == 409


async def test_pull_api_schedule_audio_reports_and_heartbeat(gateway: Gateway) -> None:
    users = await seed(gateway)
    token = await register(gateway)
    device = gateway.client()
    device.headers["Authorization"] = f"Bearer {token}"
    bad = gateway.client()
    bad.headers["Authorization"] = "Bearer khong-dung"
    assert (await bad.get("/api/device/v1/schedule")).status_code == 401

    first = await device.get("/api/device/v1/schedule")
    assert first.status_code == 200 and first.json()["items"] == []
    etag = first.headers["etag"]
    assert (await device.get("/api/device/v1/schedule", headers={"If-None-Match": etag})).status_code == 304

    # A long poll is answered as soon as an emergency reaches the device's schedule.
    waiting = asyncio.create_task(device.get("/api/device/v1/schedule?wait=20", headers={"If-None-Match": etag}))
    await asyncio.sleep(0.3)
    bid = await emergency(gateway, users)
    started = asyncio.get_running_loop().time()
    await gateway.run_worker()
    answer = await asyncio.wait_for(waiting, 15)
    assert answer.status_code == 200 and asyncio.get_running_loop().time() - started < 10
    (item,) = answer.json()["items"]
    assert item["priority"] == "emergency" and item["bulletin"] == bid

    audio = await device.get(item["audio_url"])
    assert hashlib.sha256(audio.content).hexdigest() == item["sha256"] == audio.headers["x-checksum-sha256"]
    tail = await device.get(item["audio_url"], headers={"Range": "bytes=100-"})
    assert tail.status_code == 206 and tail.content == audio.content[100:]  # a broken download resumes

    now = datetime.now(UTC)
    reports = [
        {"item": item["id"], "event": "started", "at": now.isoformat(), "seq": 1},
        {"item": item["id"], "event": "finished", "at": (now + timedelta(seconds=5)).isoformat(), "seq": 2},
    ]
    r = await device.post("/api/device/v1/reports", json={"reports": reports})
    assert r.json() == {"accepted": 2, "duplicates": 0}
    again = await device.post("/api/device/v1/reports", json={"reports": reports})  # the answer was lost: resent
    assert again.json() == {"accepted": 0, "duplicates": 2}
    bogus = await device.post("/api/device/v1/reports", json={"reports": [{**reports[0], "item": "xyz"}]})
    assert bogus.status_code == 422 and bogus.json()["errors"][0]["field"] == "item"
    async with gateway.services.sessions() as s:
        row = (await s.execute(select(Delivery).where(Delivery.bulletin_id == bid))).scalar_one()
    assert row.state == "delivered" and "finished" in row.detail
    assert (await device.get("/api/device/v1/schedule")).json()["items"] == []  # played: off the schedule

    skewed = (now - timedelta(minutes=7)).isoformat()  # a device whose clock is seven minutes slow
    beat = await device.post(
        "/api/device/v1/heartbeat", json={"clock": skewed, "agent_version": "test/1", "battery": 71}
    )
    assert -425 < beat.json()["clock_skew_s"] < -415
    assert await gateway.services.presence.flush() == 1  # type: ignore[union-attr]  # written in one batch
    admin, _ = users["admin"]
    (listed,) = (await admin.get("/api/v1/devices")).json()
    assert listed["online"] and listed["battery"] == 71 and listed["agent_version"] == "test/1"
    plays = (await admin.get("/api/v1/devices/CUM-T1/plays")).json()
    assert [p["event"] for p in plays] == ["finished", "started"]


async def test_an_area_without_clusters_shows_a_failed_row_not_silence(gateway: Gateway) -> None:
    users = await seed(gateway)
    bid = await emergency(gateway, users)
    await gateway.run_worker()
    async with gateway.services.sessions() as s:
        (row,) = (await s.execute(select(Delivery).where(Delivery.bulletin_id == bid))).scalars()
    assert row.state == "failed" and row.target == "XA1" and "không có cụm loa" in row.detail


async def test_a_lan_speaker_gets_paced_rtp_and_an_emergency_cuts_in(gateway: Gateway) -> None:
    import socket

    users = await seed(gateway)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as speaker:
        speaker.bind(("127.0.0.1", 0))
        speaker.settimeout(0.2)
        await register(gateway, "LOA-CHO", kind="rtp", rtp_address=f"127.0.0.1:{speaker.getsockname()[1]}")
        normal = await market_day(users, repeats=2)
        await gateway.run_worker()
        speaker.settimeout(10.0)  # the stream starts once the clock process is up: start() does not wait for it
        first = await asyncio.to_thread(speaker.recv, 2048)
        speaker.settimeout(0.2)
        packets = [first, *await asyncio.to_thread(lambda: [speaker.recv(2048) for _ in range(24)])]
        assert {p[1] & 0x7F for p in packets} == {0}  # PCMU, the default codec
        urgent = await emergency(gateway, users)
        await gateway.run_worker()
        channel = gateway.services.channels["loudspeaker"]
        seen: set[str] = set()
        for _ in range(600):  # the emergency plays, then the interrupted programme again
            await gateway.run_worker(rounds=1)
            async with gateway.services.sessions() as s:
                states = {
                    r.bulletin_id: r.state
                    for r in (await s.execute(select(Delivery).where(Delivery.channel == "loudspeaker"))).scalars()
                }
            seen.add(states[normal])
            if states == {normal: "delivered", urgent: "delivered"}:
                break
            await asyncio.sleep(0.1)
        assert states == {normal: "delivered", urgent: "delivered"}, states
        assert "retry" in seen  # the programme was cut by the emergency, queued again, then played whole
        await channel.close()  # type: ignore[attr-defined]


async def test_a_stream_receiver_gets_the_bulletin_live_on_icecast(gateway: Gateway, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import soundfile as sf

    from tests.support.icecast import start_icecast

    users = await seed(gateway)
    server = start_icecast()
    try:
        url = f"http://127.0.0.1:{server.port}/xa1.mp3"
        await register(gateway, "LUONG-XA", kind="stream", rtp_address=url)
        channel = gateway.services.channels["loudspeaker"]
        channel.icecast_password = server.password  # type: ignore[attr-defined]
        bid = await emergency(gateway, users, "Bão số chín sắp đổ bộ. Bà con di chuyển đến nơi trú ẩn an toàn ngay.")
        await gateway.run_worker()
        await asyncio.sleep(0.8)
        heard = tmp_path / "heard.wav"
        listener = await asyncio.create_subprocess_exec(
            "ffmpeg", "-v", "error", "-y", "-i", url, "-t", "2", "-ac", "1", str(heard)
        )
        assert await asyncio.wait_for(listener.wait(), 30) == 0
        for _ in range(300):
            async with gateway.services.sessions() as s:
                row = (await s.execute(select(Delivery).where(Delivery.bulletin_id == bid))).scalar_one()
            if row.state == "delivered":
                break
            await asyncio.sleep(0.1)
        assert row.state == "delivered" and url in row.detail
        audio, _ = sf.read(heard, dtype="float32")
        assert len(audio) > 0 and float(np.sqrt(np.mean(audio**2))) > 0.01  # speech, not silence
        await channel.close()  # type: ignore[attr-defined]
    finally:
        server.stop()


async def test_an_emergency_cuts_a_live_icecast_stream_and_the_programme_plays_again(gateway: Gateway) -> None:
    from tests.support.icecast import start_icecast

    users = await seed(gateway)
    server = start_icecast()
    try:
        url = f"http://127.0.0.1:{server.port}/xa1.mp3"
        await register(gateway, "LUONG-XA", kind="stream", rtp_address=url)
        channel = gateway.services.channels["loudspeaker"]
        channel.icecast_password = server.password  # type: ignore[attr-defined]
        normal = await market_day(users, repeats=3)
        await gateway.run_worker()
        for _ in range(100):  # the programme is on air
            if url in channel.casting:  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        urgent = await emergency(gateway, users)
        seen: set[str] = set()
        for _ in range(900):  # the emergency plays at once, then the interrupted programme again
            await gateway.run_worker(rounds=1)
            async with gateway.services.sessions() as s:
                rows = {
                    r.bulletin_id: r
                    for r in (await s.execute(select(Delivery).where(Delivery.channel == "loudspeaker"))).scalars()
                }
            seen.add(rows[normal].state)
            if {b: r.state for b, r in rows.items()} == {normal: "delivered", urgent: "delivered"}:
                break
            await asyncio.sleep(0.1)
        assert {b: r.state for b, r in rows.items()} == {normal: "delivered", urgent: "delivered"}
        assert "retry" in seen  # cut by the emergency, queued again, then streamed whole
        assert url in rows[urgent].detail and url in rows[normal].detail
        await channel.close()  # type: ignore[attr-defined]
    finally:
        server.stop()


async def test_residents_hear_the_live_programme_on_the_gateways_own_stream(gateway: Gateway, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import soundfile as sf
    import uvicorn

    from tests.support.server import free_port

    users = await seed(gateway)
    await register(gateway, "LIVE-XA", kind="stream", rtp_address="loa:live")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(gateway.app, host="127.0.0.1", port=port, lifespan="off", log_level="error"))  # type: ignore[arg-type]
    serving = asyncio.create_task(server.serve())
    try:
        await wait_until(lambda: server.started)
        heard = tmp_path / "live.wav"
        listener = await asyncio.create_subprocess_exec(
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-i",
            f"http://127.0.0.1:{port}/public/live.mp3",
            "-t",
            "6",
            "-ac",
            "1",
            str(heard),
        )
        await asyncio.sleep(0.5)  # tuned in: silence until something airs
        bid = await emergency(gateway, users, "Bão số chín sắp đổ bộ. Bà con di chuyển đến nơi trú ẩn an toàn ngay.")
        await gateway.run_worker()
        assert await asyncio.wait_for(listener.wait(), 60) == 0
        audio, rate = sf.read(heard, dtype="float32")
        loudest = max(float(np.sqrt(np.mean(audio[i : i + rate] ** 2))) for i in range(0, len(audio) - rate, rate // 2))
        assert len(audio) >= 5 * rate and loudest > 0.01  # the emergency, spoken, in the listener's stream
        for _ in range(300):
            async with gateway.services.sessions() as s:
                row = (await s.execute(select(Delivery).where(Delivery.bulletin_id == bid))).scalar_one()
            if row.state == "delivered":
                break
            await asyncio.sleep(0.1)
        assert row.state == "delivered" and "loa:live" in row.detail
    finally:
        server.should_exit = True
        await serving
        await gateway.services.channels["loudspeaker"].close()  # type: ignore[attr-defined]


async def test_a_web_only_process_says_where_the_live_stream_is_instead_of_silence(gateway: Gateway) -> None:
    from gateway.app import create_app

    web = create_app(gateway.services, run_worker=False, role="web")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://loa.test") as client:
        r = await client.get("/public/live.mp3")
    (problem,) = r.json()["errors"]
    assert r.status_code == 503 and problem["field"] == "role" and "Icecast" in problem["message"]
