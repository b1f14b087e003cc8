"""Loa's FastAGI server against bad peers (reference/telephony.md §1.3): a socket closed
before the header, junk, a header that never ends, a multi-line 520, the out-of-band
HANGUP. The event loop must keep running through all of them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from gateway.ivr.server import AgiServer, AgiSession, Hangup
from tests.support.asterisk import Asterisk, Script
from tests.support.smsc import wait_until

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]


USAGE_ERROR = (("ANSWER",), ("STREAM FILE", "/nonexistent/x"), ("WAIT FOR DIGIT", "100"), ("NOOP",))
HANGS_UP = (("ANSWER",), ("STREAM FILE", "/nonexistent/x", ""), ("WAIT FOR DIGIT", "100"), ("SAY DIGITS", "12", ""))


class Recorder:
    def __init__(self, commands: tuple[tuple[str, ...], ...] = USAGE_ERROR) -> None:
        self.commands = commands
        self.replies: list[tuple[str, int, str]] = []
        self.hung_up = False
        self.sessions: list[AgiSession] = []

    async def __call__(self, session: AgiSession) -> None:
        self.sessions.append(session)
        try:
            for words in self.commands:
                reply = await session.send(*words)
                self.replies.append((words[0], reply.code, reply.result))
        except Hangup:
            self.hung_up = True


@pytest_asyncio.fixture
async def served() -> AsyncIterator[tuple[AgiServer, Recorder]]:
    recorder = Recorder()
    server = AgiServer(recorder, port=0, header_timeout=0.5)
    await server.start()
    yield server, recorder
    await server.close()


async def _ticks(stop: asyncio.Event, count: list[int]) -> None:
    while not stop.is_set():
        count[0] += 1
        await asyncio.sleep(0.01)


async def test_a_socket_closed_before_the_header_does_not_freeze_the_loop(served) -> None:  # type: ignore[no-untyped-def]
    """panoramisk spins on b'' forever without yielding (exp_agi2.py)."""
    server, _ = served
    stop, count = asyncio.Event(), [0]
    ticker = asyncio.create_task(_ticks(stop, count))
    for payload in (b"", b"agi_network: yes\n", b"GET / HTTP/1.0\r\n\r\n", b"\x00\xff" * 50):
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(payload)
        await writer.drain()
        writer.close()
        await writer.wait_closed()
    await wait_until(lambda: server.refused >= 4)
    before = count[0]
    await asyncio.sleep(0.2)
    stop.set()
    await ticker
    assert count[0] > before + 5  # the loop kept running
    assert not server.active


async def test_a_header_that_never_ends_is_dropped_after_the_timeout(served) -> None:  # type: ignore[no-untyped-def]
    server, recorder = served
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"agi_network: yes\nagi_request: agi://x/hotline\n")  # no blank line, socket left open
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 3) == b""  # closed by the server
    writer.close()
    await writer.wait_closed()
    assert server.refused == 1 and not recorder.sessions


async def test_a_multiline_520_is_read_to_its_end_res_agi_c_usage(served) -> None:  # type: ignore[no-untyped-def]
    """The stand-in answers STREAM FILE without its escape argument with the multi-line
    usage text; the next reply must belong to the next command."""
    server, recorder = served
    await Asterisk(speed=100).call_in("0912000001", f"agi://127.0.0.1:{server.port}/x", Script(keys=["5"]))
    assert recorder.replies[0] == ("ANSWER", 200, "0")
    assert recorder.replies[1][1] == 520
    assert recorder.replies[2] == ("WAIT FOR DIGIT", 200, str(ord("5")))
    assert recorder.replies[3] == ("NOOP", 200, "0")


async def test_hangup_is_out_of_band_and_ends_the_session_res_agi_c_run_agi(served) -> None:  # type: ignore[no-untyped-def]
    """After a hang-up Asterisk sends the failing command's result, then HANGUP, then 511."""
    server, _ = served
    recorder = Recorder(HANGS_UP)
    server.handler = recorder
    log = await Asterisk(speed=100).call_in(
        "0912000001", f"agi://127.0.0.1:{server.port}/x", Script(keys=["7"], hangup_at=2)
    )
    assert recorder.replies == [("ANSWER", 200, "0"), ("STREAM FILE", 200, "-1"), ("WAIT FOR DIGIT", 200, "-1")]
    assert recorder.hung_up and recorder.sessions[0].hungup
    assert log.commands[-1][1].startswith("511")  # SAY DIGITS on a dead channel
