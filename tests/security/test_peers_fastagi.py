"""Issue 18, "Telephony peers": who may open a FastAGI session and what a session may do.

Before: anyone who could reach the FastAGI port opened an ``outbound`` session with no
call id and a forged caller id, pressed 9, and the number was opted out, emergency SMS
included. The sessions here come from the Asterisk stand-in (tests/support/asterisk.py)
and from a raw client writing the environment block as res_agi.c ``launch_netscript``
does (reference/telephony.md §2.5: ``agi_network_script`` is the raw text after the
first ``/``, query string included).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from gateway.config import AsteriskServer
from gateway.db.models import Subscriber
from gateway.telephony.setup import Telephony, build_telephony
from tests.gateway.conftest import Gateway, seed
from tests.gateway.conftest import gateway as gateway
from tests.gateway.conftest import postgres as postgres
from tests.gateway.test_telephony import dialled, release, settle, subscribe
from tests.support.asterisk import Asterisk, Script

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(180)]
FORGED = "0912000001"


@pytest_asyncio.fixture
async def asterisk() -> AsyncIterator[Asterisk]:
    server = Asterisk(speed=200.0)
    await server.start()
    yield server
    await server.stop()


@asynccontextmanager
async def running(gateway: Gateway, asterisk: Asterisk, **overrides: Any) -> AsyncIterator[Telephony]:
    """Loa's telephony against the stand-in, with these settings changed."""
    services = gateway.services
    settings = dataclasses.replace(
        services.settings,
        asterisk=(AsteriskServer("xa", port=asterisk.port, username="loa", secret="s3cret", channels=4),),
        agi_listen="127.0.0.1:0",
        call_cps=20.0,
        call_retry_busy="1s",
        call_retry_no_answer="1s",
        quiet_hours={},
        **overrides,
    )
    built = build_telephony(settings, services.sessions, services.renderer, services.spool, None, "w1")  # type: ignore[arg-type]
    assert built is not None
    built.channel.window = None
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
    try:
        yield built
    finally:
        stop.set()
        await worker
        await built.close()
        await built.channel.close()


async def raw_session(port: int, script: str, caller: str = FORGED) -> list[str]:
    """A FastAGI client as Asterisk's launch_netscript writes it; returns every command
    Loa sent (each answered ``200 result=0``) until Loa closed the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    header = {
        "agi_network": "yes",
        "agi_network_script": script,
        "agi_request": f"agi://127.0.0.1:{port}/{script}",
        "agi_channel": "PJSIP/trunk-00000001",
        "agi_uniqueid": "1732600000.1",
        "agi_callerid": caller,
    }
    writer.write("".join(f"{k}: {v}\n" for k, v in header.items()).encode() + b"\n")
    await writer.drain()
    commands: list[str] = []
    try:
        while len(commands) < 50:
            line = await asyncio.wait_for(reader.readline(), 10)
            if not line:
                break
            commands.append(line.decode().strip())
            writer.write(b"200 result=0\n")
            await writer.drain()
    except (ConnectionError, TimeoutError):
        pass
    writer.close()
    return commands


async def opted_out(gateway: Gateway, number: str) -> bool | None:
    async with gateway.services.sessions() as session:
        found = await session.execute(select(Subscriber.opted_out).where(Subscriber.phone == number))
        return found.scalar_one_or_none()


async def test_peers_fastagi_only_from_the_configured_asterisk_hosts(gateway: Gateway, asterisk: Asterisk) -> None:
    """Default: the [[asterisk]] hosts. This one is 192.0.2.10; the test connects from 127.0.0.1."""
    await seed(gateway)
    elsewhere = AsteriskServer("xa", host="192.0.2.10", port=asterisk.port, username="loa", secret="s")
    settings = dataclasses.replace(gateway.services.settings, asterisk=(elsewhere,), agi_listen="127.0.0.1:0")
    s = gateway.services
    built = build_telephony(settings, s.sessions, s.renderer, s.spool, None, "w1")  # type: ignore[arg-type]
    assert built is not None
    await built.agi.start()
    try:
        assert await raw_session(built.agi.port, "hotline", "0912000009") == []
        assert built.ivr.calls == 0 and built.agi.refused == 1
    finally:
        await built.agi.close()
    allowed = dataclasses.replace(settings, agi_allowed_hosts=("127.0.0.0/8",))
    built = build_telephony(allowed, s.sessions, s.renderer, s.spool, None, "w1")  # type: ignore[arg-type]
    assert built is not None
    await built.agi.start()
    try:
        commands = await raw_session(built.agi.port, "hotline", "0912000009")
        assert commands and commands[0] == "ANSWER" and built.ivr.calls == 1
    finally:
        await built.agi.close()


async def test_peers_an_outbound_session_without_an_issued_call_id_opts_nobody_out(
    gateway: Gateway, asterisk: Asterisk
) -> None:
    """The attack of the issue: outbound with no call id (or a made-up one), forged caller, 9."""
    await seed(gateway)
    await subscribe(gateway, ["+84912000001"])
    async with running(gateway, asterisk) as telephony:
        port = telephony.agi.port
        for script in ("outbound", "outbound?call=loa-1-1", "reply?call=loa-7-1"):
            log = await asterisk.call_in(FORGED, f"agi://127.0.0.1:{port}/{script}", Script(keys=["9", "9", "9"]))
            assert all(c.split()[0] == "HANGUP" for c, _ in log.commands), log.commands
        assert await opted_out(gateway, "+84912000001") is False


async def test_peers_agi_url_secret_read_from_agi_network_script_res_agi_launch_netscript(
    gateway: Gateway, asterisk: Asterisk
) -> None:
    """With agi_secret set, a session whose URL lacks ?secret= (or has a wrong one) runs no
    flow; Loa's own originates carry it, so a campaign still reaches the resident."""
    users = await seed(gateway)
    await subscribe(gateway, ["+84912000001"])
    asterisk.scripts["0912000001"] = Script("answer")
    async with running(gateway, asterisk, agi_secret="k9-Zx") as telephony:
        port = telephony.agi.port
        assert await raw_session(port, "hotline") == []
        assert await raw_session(port, "hotline?secret=wrong") == []
        commands = await raw_session(port, "hotline?secret=k9-Zx")
        assert commands and commands[0] == "ANSWER"
        bid = await release(gateway, users)
        rows = await settle(gateway, bid)
        assert rows["+84912000001"].state == "delivered"
        # the dialplan adds it (LOA_SECRET in [globals]); the Originate itself carries no secret
        (call,) = [c for c in asterisk.calls.values() if c.requests]
        assert "secret=k9-Zx" in call.requests[0] and "k9-Zx" not in str(asterisk.originates[-1])


async def test_peers_opt_out_by_phone_is_confirmed_by_a_second_press(gateway: Gateway, asterisk: Asterisk) -> None:
    users = await seed(gateway)
    await subscribe(gateway, ["+84912000001", "+84912000002"])
    asterisk.scripts["0912000001"] = Script("answer", keys=["9"])  # pressed once, by mistake
    asterisk.scripts["0912000002"] = Script("answer", keys=["9", "9"])  # pressed again: confirmed
    async with running(gateway, asterisk):
        await settle(gateway, await release(gateway, users))
    assert await opted_out(gateway, "+84912000001") is False
    assert await opted_out(gateway, "+84912000002") is True


async def test_peers_an_opt_out_never_stops_an_emergency_call(gateway: Gateway, asterisk: Asterisk) -> None:
    users = await seed(gateway)
    await subscribe(gateway, ["+84912000001"])
    asterisk.scripts["0912000001"] = Script("answer", keys=["9", "9"])
    async with running(gateway, asterisk):
        await settle(gateway, await release(gateway, users))
        assert await opted_out(gateway, "+84912000001") is True
        await release(gateway, users)
        await asyncio.sleep(1.0)
        assert dialled(asterisk, "+84912000001") == 1  # a normal bulletin: no call
        emergency = await release(gateway, users, priority="emergency")
        rows = await settle(gateway, emergency)
        assert rows["+84912000001"].state == "delivered"
        assert dialled(asterisk, "+84912000001") == 2


async def test_peers_names_networks_and_dual_stack_addresses() -> None:
    """A name is resolved at start; a network admits its addresses; a dual-stack listener
    reports an IPv4 peer as ::ffff:a.b.c.d, which is the same host."""
    from gateway.ivr.peers import Peers

    peers = Peers(("localhost", "10.0.0.0/24"))
    await peers.resolve()
    assert peers.admits(("127.0.0.1", 40000)) and peers.admits(("::ffff:127.0.0.1", 40000, 0, 0))
    assert peers.admits(("10.0.0.77", 40000)) and not peers.admits(("10.0.1.1", 40000))
    assert not peers.admits(("192.0.2.10", 40000)) and not peers.admits("/run/agi.sock")
    assert Peers().admits(("192.0.2.10", 40000))  # no hosts configured: the library default, open
