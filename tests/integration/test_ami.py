"""The AMI wrapper against the Asterisk stand-in over real TCP: each of panoramisk 1.4's
reproduced bugs (reference/telephony.md §1.2) has a test that would fail without the
wrapper."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from gateway.telephony.ami import AmiClient, AmiDisconnected, AmiError, AmiEvent, ServerConfig
from tests.support.asterisk import Asterisk, Script
from tests.support.smsc import wait_until

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]


@pytest_asyncio.fixture
async def asterisk() -> AsyncIterator[Asterisk]:
    server = Asterisk()
    await server.start()
    yield server
    await server.stop()


async def client_for(server: Asterisk, **kw: object) -> AmiClient:
    config = ServerConfig("xa", port=server.port, username=server.username, secret=server.secret)
    client = AmiClient(config, reconnect_delay=0.1, **kw)  # type: ignore[arg-type]
    await client.start()
    assert await client.wait_ready(5)
    return client


async def test_login_banner_and_ping_manager_c_2_1(asterisk: Asterisk) -> None:
    client = await client_for(asterisk)
    try:
        answer = await client.action({"Action": "Ping"})
        assert not isinstance(answer, list)
        assert answer["Ping"] == "Pong"
        assert client.manager is not None and client.manager.protocol.version == "9.0.0"
    finally:
        await client.close()


async def test_a_vietnamese_name_split_inside_a_utf8_character_arrives_whole(asterisk: Asterisk) -> None:
    """panoramisk decodes each TCP read on its own and drops a split character."""
    asterisk.fragment = 1  # every byte its own write
    client = await client_for(asterisk)
    seen: list[AmiEvent] = []
    client.listeners.append(seen.append)
    try:
        asterisk.broadcast("Newchannel", {"Channel": "PJSIP/x-1", "CallerIDName": "Nguyễn Văn Ánh", "Uniqueid": "1.1"})
        await wait_until(lambda: any(e.name == "Newchannel" for e in seen))
        event = next(e for e in seen if e.name == "Newchannel")
        assert event.get("calleridname") == "Nguyễn Văn Ánh"
        assert (await client.action({"Action": "Ping"}))["Ping"] == "Pong"  # type: ignore[call-overload]
    finally:
        await client.close()


async def test_an_originate_without_async_gets_one_and_keeps_the_connection(asterisk: Asterisk) -> None:
    """Without an Async header panoramisk raises KeyError in data_received (issue #90)."""
    client = await client_for(asterisk)
    try:
        answer = await client.action(
            {"Action": "Originate", "Channel": "PJSIP/0912000001@trunk", "Application": "Wait", "Data": "1"}
        )
        assert isinstance(answer, list) and answer[-1]["Response"] == "Success"
        assert asterisk.originates[-1]["async"] == "true"  # explicit: a campaign never blocks the session
        assert (await client.action({"Action": "Ping"}))["Ping"] == "Pong"  # type: ignore[call-overload]
    finally:
        await client.close()


async def test_async_originate_answer_is_success_then_originate_response(asterisk: Asterisk) -> None:
    asterisk.scripts["0912000002"] = Script("busy")
    client = await client_for(asterisk)
    try:
        answer = await client.action(
            {
                "Action": "Originate",
                "Channel": "Local/0912000002@trunk",  # chan_pjsip would give Reason 0 (pbx_dial_reason)
                "Application": "Wait",
                "Data": "1",
                "Async": "yes",
                "ChannelId": "loa-1-1",
            }
        )
        assert isinstance(answer, list)
        assert answer[0]["Message"] == "Originate successfully queued"
        assert answer[-1]["Event"] == "OriginateResponse" and answer[-1]["Reason"] == "5"
        assert answer[-1]["Uniqueid"] == "loa-1-1"
    finally:
        await client.close()


async def test_every_action_has_a_timeout_and_leaves_no_entry_behind(asterisk: Asterisk) -> None:
    """panoramisk waits forever for an answer that never comes."""
    asterisk.scripts["0912000003"] = Script("answer", ring_seconds=5)
    client = await client_for(asterisk)
    try:
        with pytest.raises(AmiError, match="không trả lời"):
            await client.action(
                {"Action": "Originate", "Channel": "PJSIP/0912000003@trunk", "Application": "Wait", "Async": "false"},
                wait=0.3,
            )
        assert client.manager is not None and not client.manager.protocol.responses
        assert not client._pending
    finally:
        await client.close()


async def test_error_responses_raise_with_asterisks_message(asterisk: Asterisk) -> None:
    client = await client_for(asterisk)
    try:
        with pytest.raises(AmiError, match="Invalid channel"):
            await client.action({"Action": "Originate", "Channel": "nonsense", "Application": "Wait"})
        with pytest.raises(AmiError, match="Invalid/unknown command"):
            await client.action({"Action": "NoSuchThing"})
    finally:
        await client.close()


async def test_an_action_waiting_through_a_restart_is_sent_after_login_without_fullybooted(asterisk: Asterisk) -> None:
    """panoramisk re-sends only on FullyBooted, which a user without read=system never gets."""
    asterisk.read_system = False
    client = await client_for(asterisk)
    try:
        await asterisk.stop()
        await wait_until(lambda: not client.ready)
        pending = asyncio.create_task(client.action({"Action": "Ping"}, wait=10))
        await asyncio.sleep(0.3)
        await asterisk.start(asterisk.port)
        answer = await pending
        assert not isinstance(answer, list) and answer["Ping"] == "Pong"
    finally:
        await client.close()


async def test_an_originate_cut_by_a_restart_is_not_dialled_twice(asterisk: Asterisk) -> None:
    asterisk.scripts["0912000004"] = Script("answer", ring_seconds=2)
    client = await client_for(asterisk)
    try:
        call = asyncio.create_task(
            client.action(
                {"Action": "Originate", "Channel": "PJSIP/0912000004@trunk", "Application": "Wait", "Async": "true"},
                wait=10,
            )
        )
        await wait_until(lambda: len(asterisk.originates) == 1)
        await asterisk.restart(down_for=0.2)
        with pytest.raises(AmiDisconnected) as lost:
            await call
        assert lost.value.answered  # Asterisk had said "queued": the caller checks, we do not resend
        assert await client.wait_ready(5)
        await asyncio.sleep(0.3)
        assert len(asterisk.originates) == 1
    finally:
        await client.close()


async def test_a_half_open_connection_is_found_by_the_keepalive_and_reconnected() -> None:
    """Answers Login, then stays silent: panoramisk's ping never notices."""
    logins = 0
    handlers: set[asyncio.Task[None]] = set()

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            await answer_login_then_nothing(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def answer_login_then_nothing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal logins
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        block = b""
        while b"\r\n\r\n" not in block:
            chunk = await reader.read(1024)
            if not chunk:
                return
            block += chunk
        action_id = next(line.split(b": ", 1)[1] for line in block.split(b"\r\n") if line.startswith(b"ActionID"))
        logins += 1
        writer.write(b"Response: Success\r\nActionID: " + action_id + b"\r\nMessage: Authentication accepted\r\n\r\n")
        while await reader.read(1024):
            pass

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = AmiClient(ServerConfig("xa", port=port, username="u", secret="s"), keepalive=0.3, reconnect_delay=0.1)
    await client.start()
    try:
        await wait_until(lambda: logins >= 2, within=10)
    finally:
        await client.close()
        server.close()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


async def test_a_wrong_secret_is_reported_and_retried_with_backoff(asterisk: Asterisk) -> None:
    asterisk.login_fail_delay = 0.05
    config = ServerConfig("xa", port=asterisk.port, username="loa", secret="sai")
    client = AmiClient(config, reconnect_delay=0.1)
    await client.start()
    try:
        assert not await client.wait_ready(1.0)
        assert client.last_error
        assert client.manager is not None and client.manager.reconnect_timeout >= 0.1
    finally:
        await client.close()


async def test_malformed_manager_output_costs_nothing(asterisk: Asterisk) -> None:
    """Junk lines, a bare event without a name, invalid UTF-8, an orphan response: the
    connection stays up and the next real event is routed."""
    client = await client_for(asterisk)
    seen: list[AmiEvent] = []
    client.listeners.append(seen.append)
    try:
        for session in asterisk.sessions:
            session.write("garbage without a colon\r\n\xff\r\n\r\n")
            session.writer.write(b"Event: Bad\xc3\r\nValue: \xff\xfe\r\n\r\n")
            session.write("Response: Success\r\nActionID: nobody-asked\r\n\r\n")
            session.write("Event\r\n: no name\r\n\r\n")
        asterisk.broadcast("Hangup", {"Uniqueid": "1.2", "Cause": "16", "Cause-txt": "Normal Clearing"})
        await wait_until(lambda: any(e.name == "Hangup" for e in seen))
        assert (await client.action({"Action": "Ping"}))["Ping"] == "Pong"  # type: ignore[call-overload]
    finally:
        await client.close()
