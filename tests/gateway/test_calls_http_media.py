"""Media over HTTP (issue 19): Asterisk shares no directory with Loa. It plays prompts and
bulletins from signed URLs through its media cache (res_http_media_cache.c: a curl GET,
the format from the Content-Type or the URL path's extension, kept per Cache-Control and
revalidated with If-None-Match), and Loa fetches each recording back with ARI
(resource_recordings.c: GET /ari/recordings/stored/{name}/file, then DELETE). The stand-in
runs on its own address (127.0.0.2) with its own directory."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import uvicorn
from sqlalchemy import select

from gateway.app import Services, build_services, create_app
from gateway.config import AsteriskServer, Settings
from gateway.db.models import AuditLog, Case
from gateway.ivr.media import MediaLinks, media_key
from gateway.ivr.runner import RECORDING_LOST
from gateway.telephony.setup import Telephony, build_telephony
from tests.gateway.conftest import Gateway, seed
from tests.gateway.test_telephony import _speech, release, settle, subscribe
from tests.support.asterisk import AgiCall, Asterisk, CallLog, Script
from tests.support.server import free_port
from tests.support.smsc import wait_until

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(180)]


def server(name: str, pbx: Asterisk) -> AsteriskServer:
    return AsteriskServer(
        name,
        host=pbx.host,
        port=pbx.port,
        username="loa",
        secret="s3cret",
        channels=4,
        ari_url=pbx.ari.url,
        ari_username="loa",
        ari_password="ari-s3cret",
        recordings_dir=str(pbx.recording_dir),
    )


def http_settings(base: Settings, *boxes: Asterisk, port: int) -> Settings:
    return dataclasses.replace(
        base,
        asterisk=tuple(server(f"pbx{n}", box) for n, box in enumerate(boxes)),
        agi_listen="127.0.0.1:0",
        asterisk_media="http",
        asterisk_media_url=f"http://127.0.0.1:{port}",
        call_cps=20.0,
        quiet_hours={},
    )


@pytest_asyncio.fixture
async def pbx() -> AsyncIterator[Asterisk]:
    server = Asterisk(speed=200.0, host="127.0.0.2")
    await server.start()
    yield server
    await server.stop()


@pytest_asyncio.fixture
async def pbx2() -> AsyncIterator[Asterisk]:
    server = Asterisk(speed=200.0, host="127.0.0.3")
    await server.start()
    yield server
    await server.stop()


@contextlib.asynccontextmanager
async def worker_a(gateway: Gateway, *boxes: Asterisk) -> AsyncIterator[Telephony]:
    """One worker serving its media over real HTTP on loopback, the Asterisks its trunks;
    their dialplans' LOA names it."""
    services = gateway.services
    port = free_port()
    settings = http_settings(services.settings, *boxes, port=port)
    links = MediaLinks(settings.media_url, media_key(services.secret_key), settings.asterisk_media_link_seconds)
    built = build_telephony(settings, services.sessions, services.renderer, services.spool, None, "w1", links)
    assert built is not None
    built.channel.window = None
    services.settings = services.dispatcher.settings = settings
    services.media_links, services.telephony = links, built
    services.channels["call"] = built.channel
    services.dispatcher.worker = "w1"
    web = uvicorn.Server(uvicorn.Config(gateway.app, host="127.0.0.1", port=port, lifespan="off", log_level="error"))  # type: ignore[arg-type]
    serving = asyncio.create_task(web.serve())
    await wait_until(lambda: web.started)
    await built.start()
    for box in boxes:
        box.dialplan.globals.update(LOA=built.channel.agi_url, LOA_SECRET=settings.agi_secret)
    for trunk in built.channel.pool.trunks:
        assert await trunk.client.wait_ready(5)
    stop = asyncio.Event()
    worker = asyncio.create_task(services.dispatcher.run(stop, interval=0.1))
    try:
        yield built
    finally:
        stop.set()
        await worker
        await built.close()
        await built.channel.close()
        web.should_exit = True
        await serving


@pytest_asyncio.fixture
async def http_telephony(gateway: Gateway, pbx: Asterisk) -> AsyncIterator[Telephony]:
    async with worker_a(gateway, pbx) as built:
        yield built


@pytest_asyncio.fixture
async def two_trunks(gateway: Gateway, pbx: Asterisk, pbx2: Asterisk) -> AsyncIterator[Telephony]:
    async with worker_a(gateway, pbx, pbx2) as built:
        yield built


def media_only(played: list[str], base: str) -> bool:
    return bool(played) and all(p.startswith(base + "/asterisk/media/") for p in played)


async def test_a_hotline_call_plays_everything_over_http_and_its_recording_comes_back_by_ari(
    gateway: Gateway, http_telephony: Telephony, pbx: Asterisk, tmp_path: Path
) -> None:
    users = await seed(gateway)
    await subscribe(gateway, ["+84912000701"])
    bid = await release(gateway, users)
    await settle(gateway, bid)
    await subscribe(gateway, ["+84987000701"], area="T2")
    url = f"{http_telephony.channel.agi_url}/hotline"
    log = await pbx.call_in("0987000701", url, Script(keys=["1", "", "", "2", "#"], say=_speech(tmp_path / "y.wav")))
    base = gateway.services.settings.media_url
    assert media_only(log.played, base) and not log.missing, (log.played, log.missing)
    assert any("/asterisk/media/bulletins/" in p for p in log.played)
    assert all(p.is_relative_to(pbx.root) for p in log.recorded)  # written on the Asterisk's side only
    async with gateway.services.sessions() as s:
        case = (await s.execute(select(Case))).scalar_one()
    assert case.channel == "hotline" and case.caller == "+84987000701" and case.audio_sha256
    name = log.recorded[0].stem
    assert ("GET", f"/ari/recordings/stored/{name}/file", 200) in pbx.ari.requests
    assert ("DELETE", f"/ari/recordings/stored/{name}", 204) in pbx.ari.requests
    assert not list(pbx.recording_dir.iterdir())  # fetched, then deleted through ARI
    # the same prompts on a second call come from Asterisk's cache, not from Loa again
    fetched = len([f for f in pbx.media.fetches if f[0] == "GET"])
    again = await pbx.call_in("0987000701", url, Script(keys=["3", case.ticket + "#"]))
    assert media_only(again.played, base) and not again.missing
    hotline = http_telephony.flows["hotline"]
    greeting = await http_telephony.prompts.path(hotline.nodes[hotline.start].text)
    assert [f for f in pbx.media.fetches if f[1] == greeting and f[0] == "GET"] == [("GET", greeting, 200)]
    assert len([f for f in pbx.media.fetches if f[0] == "GET"]) > fetched  # only the new prompts


async def test_an_outbound_call_plays_the_bulletin_over_http(
    gateway: Gateway, http_telephony: Telephony, pbx: Asterisk
) -> None:
    users = await seed(gateway)
    await subscribe(gateway, ["+84912000702"])
    bid = await release(gateway, users)
    rows = await settle(gateway, bid)
    assert rows["+84912000702"].state == "delivered", rows["+84912000702"].detail
    (log,) = [c for c in pbx.calls.values() if c.number == "0912000702"]
    assert media_only(log.played, gateway.services.settings.media_url) and not log.missing
    assert any("/asterisk/media/bulletins/" in p for p in log.played)


async def test_a_bad_or_expired_signature_is_refused_and_asterisk_cannot_play_it(
    gateway: Gateway, http_telephony: Telephony, pbx: Asterisk
) -> None:
    good = await http_telephony.prompts.path("Xin chào")
    async with httpx.AsyncClient() as client:
        ok = await client.get(good)
        assert ok.status_code == 200 and ok.headers["content-type"] == "audio/basic"
        assert "max-age=" in ok.headers["cache-control"] and ok.headers["etag"]
        same = await client.head(good, headers={"If-None-Match": ok.headers["etag"]})
        assert same.status_code == 304
        forged = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
        assert (await client.get(forged)).status_code == 403
        other = good.replace("/prompts/", "/bulletins/")
        assert (await client.get(other)).status_code == 403  # signed for another kind
    past = MediaLinks(gateway.services.settings.media_url, media_key(gateway.services.secret_key), 60, lambda: 1e9)
    expired = past.url("prompts", good.split("/prompts/")[1].split("?")[0])
    async with httpx.AsyncClient() as client:
        assert (await client.get(expired)).status_code == 403
    # Asterisk's media cache gets a 403: the file does not exist for it, so nothing plays
    call = AgiCall(CallLog("x", "0987000703"), Script(), 200.0, {}, pbx.media, pbx.host)
    for url in (forged, expired):
        assert await call._locate(url) is None
    assert ("GET", forged, 403) in pbx.media.fetches and ("GET", expired, 403) in pbx.media.fetches
    assert await call._locate(good) is not None


@pytest_asyncio.fixture
async def worker_b(
    gateway: Gateway, two_trunks: Telephony, pbx: Asterisk, tmp_path: Path
) -> AsyncIterator[Services]:
    """A second worker on another box: its own data directory (its own sounds), the same
    database, built whole by the composition root; the first Asterisk's LOA names it."""
    port = free_port()
    first = gateway.services.settings
    settings = dataclasses.replace(
        first,
        data_dir=tmp_path / "worker-b",
        database_url=first.db_url,
        asterisk_media_url=f"http://127.0.0.1:{port}",
        secret_key=gateway.services.secret_key,
    )
    services = build_services(settings)
    assert services.telephony is not None and services.media_links is not None
    app = create_app(services, run_worker=False)
    web = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="error"))
    serving = asyncio.create_task(web.serve())
    await wait_until(lambda: web.started)
    await services.telephony.agi.start()
    pbx.dialplan.globals["LOA"] = f"agi://127.0.0.1:{services.telephony.agi.port}"
    yield services
    await services.telephony.close()
    web.should_exit = True
    await serving
    await services.engine.dispose()


async def test_two_workers_two_asterisks_no_shared_filesystem(
    gateway: Gateway, two_trunks: Telephony, worker_b: Services, pbx: Asterisk, pbx2: Asterisk, tmp_path: Path
) -> None:
    """pbx (127.0.0.2) sends its calls to worker B, pbx2 (127.0.0.3) to worker A: each call
    hears the media of the worker that runs it, and each recording is fetched from the ARI
    of the Asterisk that recorded it (told apart by the FastAGI peer's address)."""
    a_url, b_url = gateway.services.settings.media_url, worker_b.settings.media_url
    users = await seed(gateway)
    numbers = [f"+8491200080{n}" for n in range(6)]
    await subscribe(gateway, numbers)
    bid = await release(gateway, users)
    rows = await settle(gateway, bid)
    assert all(row.state == "delivered" for row in rows.values()), [r.detail for r in rows.values()]
    for box, url in ((pbx, b_url), (pbx2, a_url)):
        for log in box.calls.values():
            assert media_only(log.played, url) and not log.missing, (box.host, log.played)
    speech = _speech(tmp_path / "y.wav")
    for box, agi in ((pbx, worker_b.telephony), (pbx2, two_trunks)):
        assert agi is not None
        url = f"agi://127.0.0.1:{agi.agi.port}/hotline"
        log = await box.call_in("0987000801", url, Script(keys=["2", "#"], say=speech))
        assert log.recorded and not list(box.recording_dir.iterdir())  # fetched and deleted by ARI
        assert ("GET", f"/ari/recordings/stored/{log.recorded[0].stem}/file", 200) in box.ari.requests
    for box in (pbx, pbx2):  # each ARI was asked for its own recording only
        assert [r[2] for r in box.ari.requests if r[0] == "GET"] == [200]
    async with gateway.services.sessions() as s:
        assert len((await s.execute(select(Case))).scalars().all()) == 2
    assert not (worker_b.settings.sounds_dir / "prompts").samefile(gateway.services.settings.sounds_dir / "prompts")


async def test_a_recording_ari_refuses_to_give_back_is_told_to_the_caller_and_kept_on_the_asterisk(
    gateway: Gateway, http_telephony: Telephony, pbx: Asterisk, tmp_path: Path
) -> None:
    """resource_recordings.c answers 401 to a wrong ari.conf password: the message is not
    lost silently, the caller hears that it failed, the audit log names the caller, and the
    file stays in the Asterisk's spool for an officer."""
    await seed(gateway)
    pbx.ari.users = {"loa": "a-rotated-password"}
    url = f"{http_telephony.channel.agi_url}/hotline"
    log = await pbx.call_in("0987000704", url, Script(keys=["2", "#"], say=_speech(tmp_path / "y.wav")))
    assert ("GET", f"/ari/recordings/stored/{log.recorded[0].stem}/file", 401) in pbx.ari.requests
    assert log.recorded[0].exists()  # not deleted: nothing was filed
    told = await http_telephony.prompts.path(RECORDING_LOST)
    assert told in log.played
    async with gateway.services.sessions() as s:
        audits = (await s.execute(select(AuditLog).where(AuditLog.action == "recording_failed"))).scalars().all()
        assert not (await s.execute(select(Case))).scalars().all()
    assert len(audits) == 1 and audits[0].detail["caller"] == "+84987000704" and "401" in audits[0].detail["why"]
