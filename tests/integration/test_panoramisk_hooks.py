"""What gateway/telephony/ami.py relies on in panoramisk (pinned at 1.4), one test per hook
it overrides and one for the private state it reads. A panoramisk release that renames,
re-signs or re-wires any of these fails here, by name, before a campaign silently stops
(issue 19)."""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from panoramisk import Manager
from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from gateway.telephony.ami import AmiClient, ServerConfig, _Manager, _Protocol
from tests.support.asterisk import Asterisk
from tests.support.smsc import wait_until

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]


def _params(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)  # type: ignore[arg-type]


@pytest_asyncio.fixture
async def asterisk() -> AsyncIterator[Asterisk]:
    server = Asterisk()
    await server.start()
    yield server
    await server.stop()


async def _client(asterisk: Asterisk, secret: str = "s3cret") -> AmiClient:
    client = AmiClient(ServerConfig("xa", port=asterisk.port, username="loa", secret=secret), reconnect_delay=0.1)
    await client.start()
    return client


async def test_hook_protocol_connection_made_sets_transport_responses_and_queue(asterisk: Asterisk) -> None:
    """_Protocol.connection_made calls AMIProtocol.connection_made(transport) and then
    adds its decoder; the base must set transport, responses, queue and closed."""
    assert _params(AMIProtocol.connection_made) == ["self", "transport"]
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_connection(_Protocol, "127.0.0.1", asterisk.port)
    try:
        assert protocol.transport is transport and protocol.responses == {} and protocol.closed is False
        assert isinstance(protocol.queue, deque) and protocol.pending_text == "" and protocol.version is None
    finally:
        transport.close()


async def test_hook_protocol_data_received_hands_messages_to_handle_message() -> None:
    """_Protocol.data_received replaces the base's decoding and framing, then relies on
    Message.from_line and AMIProtocol.handle_message (responses by id, events to the factory)."""
    assert _params(AMIProtocol.data_received) == ["self", "data"]
    assert _params(AMIProtocol.handle_message) == ["self", "message"]
    message = Message.from_line("Response: Success\r\nActionID: a-1\r\nPing: Pong")
    assert message is not None and message.id == "a-1" and message["Ping"] == "Pong"
    event = Message.from_line("Event: Hangup\r\nCause: 17\r\nUniqueid: loa-1")
    assert event is not None and "event" in event and event["Cause"] == "17"

    seen: list[Message] = []

    class Factory:
        def dispatch(self, m: Message) -> None:
            seen.append(m)

    protocol = _Protocol()
    protocol.connection_made(asyncio.Transport())  # the base keeps it; nothing is written here
    protocol.factory = Factory()
    raw = "Asterisk Call Manager/9.0.0\r\nEvent: Newchannel\r\nCallerIDName: Nguyễn\r\n\r\n".encode()
    cut = raw.index("ễ".encode()) + 1  # inside the character
    protocol.data_received(raw[:cut])
    protocol.data_received(raw[cut:])
    assert protocol.version == "9.0.0" and [m["CallerIDName"] for m in seen] == ["Nguyễn"]


async def test_hook_manager_connect_returns_a_task_wired_to_connection_made(asterisk: Asterisk) -> None:
    """_Manager.connect defers to Manager.connect(), which must create the connection in a
    task whose done-callback is connection_made (the hook the backoff lives in)."""
    assert _params(Manager.connect)[:2] == ["self", "run_forever"]
    client = await _client(asterisk)
    try:
        assert await client.wait_ready(5)
        assert client.manager is not None
        task = client.manager.connect()
        assert isinstance(task, asyncio.Task)
        await asyncio.sleep(0.2)  # the second connection replaces the first, as in a reconnect
        assert await client.wait_ready(5)
    finally:
        await client.close()


async def test_hook_manager_connection_made_sets_the_protocol_and_logs_in(asterisk: Asterisk) -> None:
    """Manager.connection_made(f) must take (transport, protocol) from f, make itself the
    protocol's factory and send Login whose done-callback is login."""
    assert _params(Manager.connection_made) == ["self", "f"]
    client = await _client(asterisk)
    try:
        assert await client.wait_ready(5)
        manager = client.manager
        assert isinstance(manager, _Manager) and isinstance(manager.protocol, _Protocol)
        assert manager.protocol.factory is manager and manager.authenticated
    finally:
        await client.close()


async def test_hook_manager_login_returns_the_outcome_and_keeps_the_message(asterisk: Asterisk) -> None:
    """Manager.login(future) must return whether Asterisk accepted the Login; the wrapper
    reads the refusal's Message from future.result()."""
    assert _params(Manager.login) == ["self", "future"]
    asterisk.login_fail_delay = 0.0
    client = await _client(asterisk, secret="wrong")
    try:
        await wait_until(lambda: "Authentication failed" in client.last_error, within=10)
        assert not client.ready and client.manager is not None and client.manager.reconnect_timeout > 0.1
    finally:
        await client.close()


async def test_hook_manager_connection_lost_reconnects_after_reconnect_timeout(asterisk: Asterisk) -> None:
    """Manager.connection_lost(exc) must schedule connect after reconnect_timeout (a float
    the wrapper sets); the wrapper empties awaiting_actions, a deque of the base."""
    assert _params(Manager.connection_lost) == ["self", "exc"]
    client = await _client(asterisk)
    try:
        assert await client.wait_ready(5)
        assert client.manager is not None and isinstance(client.manager.awaiting_actions, deque)
        await asterisk.restart(down_for=0.2)
        await wait_until(lambda: not client.ready, within=5)
        assert await client.wait_ready(10)  # reconnected by the base's call_later(connect)
        assert not client.manager.awaiting_actions
    finally:
        await client.close()


async def test_private_state_action_future_responses_and_protocol_send(asterisk: Asterisk) -> None:
    """The wrapper sends an Action itself (protocol.send(action, as_list=None)) and reads
    action.id, action.future, action.responses and protocol.responses."""
    assert _params(AMIProtocol.send)[:3] == ["self", "data", "as_list"]
    action = Action({"Action": "Ping"})
    assert action.id and isinstance(action.future, asyncio.Future) and action.responses == []
    client = await _client(asterisk)
    try:
        assert await client.wait_ready(5)
        assert client.manager is not None
        future = client.manager.protocol.send(action, as_list=None)
        assert future is action.future and action.id in client.manager.protocol.responses
        answer = await asyncio.wait_for(future, 5)
        assert answer["Ping"] == "Pong" and action.responses
    finally:
        await client.close()
