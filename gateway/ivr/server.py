"""Our own asyncio FastAGI server (panoramisk's spins forever on a socket closed before
the header and misreads every reply after a hangup, reference/telephony.md §1.3).

- The header is read with a size limit and a timeout; a peer that closes early or sends
  junk costs only its own connection.
- One command at a time, the reply read before the next is written (a command written
  while Asterisk plays a file aborts it without any reply).
- Only peers that ``Peers`` admits get past the socket (the configured Asterisk hosts),
  and only sessions whose URL carries the shared secret, when one is set; anyone else is
  dropped before a flow runs.
- ``HANGUP`` lines are out of band: they mark the session hung up and the reply to the
  command is still read; ``511`` means the channel is gone; a multi-line ``520`` is read
  to its end so later replies stay in step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from gateway.ivr.agi import (
    MAX_HEADER_BYTES,
    MAX_LINE,
    AgiProtocolError,
    Environment,
    Reply,
    command,
    parse_environment,
    parse_reply,
)
from gateway.ivr.peers import Peers

log = logging.getLogger(__name__)


class Hangup(Exception):
    """The caller is gone (HANGUP seen, 511, or the socket closed)."""


class AgiSession:
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, env: Environment, reply_timeout: float
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.env = env
        self.reply_timeout = reply_timeout
        self.hungup = False
        self.round_trips: list[float] = []  # seconds per command, for the benchmark

    async def send(self, *words: str, wait: float | None = None) -> Reply:
        """Run one command. Raises Hangup when the channel is dead."""
        if self.hungup:
            raise Hangup
        loop = asyncio.get_running_loop()
        started = loop.time()
        self.writer.write(command(*words).encode("utf-8") + b"\n")
        try:
            await self.writer.drain()
            reply = await asyncio.wait_for(self._reply(), wait or self.reply_timeout)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            self.hungup = True
            raise Hangup from exc
        except TimeoutError:
            self.hungup = True
            raise Hangup from None
        self.round_trips.append(loop.time() - started)
        if reply.code == 511:
            self.hungup = True
            raise Hangup
        return reply

    async def _line(self) -> str:
        raw = await self.reader.readline()
        if not raw:
            raise asyncio.IncompleteReadError(b"", None)
        if len(raw) > MAX_LINE:
            raise AgiProtocolError("dòng AGI quá dài")
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    async def _reply(self) -> Reply:
        while True:
            line = await self._line()
            if line == "HANGUP":  # out of band: the reply to our command still follows
                self.hungup = True
                continue
            if not line or line.startswith("100"):
                continue
            if line.startswith("520-"):
                while not (await self._line()).startswith("520 "):
                    pass
                return Reply(520, text=line)
            return parse_reply(line)

    async def alive(self) -> bool:
        """After a media command returned -1 (hangup, or a missing file): ask the channel.
        CHANNEL STATUS is not dead-safe, so a hung-up channel answers 511."""
        if self.hungup:
            return False
        try:
            await self.send("CHANNEL STATUS")
        except Hangup:
            return False
        return not self.hungup


Handler = Callable[[AgiSession], Awaitable[None]]


class AgiServer:
    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 4573,
        header_timeout: float = 10.0,
        reply_timeout: float = 600.0,
        peers: Peers | None = None,
    ) -> None:
        self.handler = handler
        self.peers = peers or Peers()
        self.host = host
        self.port = port
        self.header_timeout = header_timeout
        self.reply_timeout = reply_timeout  # a RECORD FILE may last minutes
        self.server: asyncio.Server | None = None
        self.active: set[asyncio.Task[None]] = set()
        self.refused = 0  # connections that were not FastAGI (health checks, scanners)

    async def start(self) -> int:
        await self.peers.resolve()
        self.server = await asyncio.start_server(self._connection, self.host, self.port, limit=MAX_LINE * 2)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self.active):
            task.cancel()
        await asyncio.gather(*self.active, return_exceptions=True)
        if self.server is not None:
            await self.server.wait_closed()

    async def _read_header(self, reader: asyncio.StreamReader) -> Environment:
        block = b""
        while True:
            line = await reader.readline()
            if not line:
                raise AgiProtocolError("kết nối đóng trước khi gửi xong phần đầu AGI")
            if line in (b"\n", b"\r\n"):
                return parse_environment(block)
            block += line
            if len(block) > MAX_HEADER_BYTES:
                raise AgiProtocolError("phần đầu AGI quá lớn")

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None  # always inside a task here
        self.active.add(task)
        try:
            peer = writer.get_extra_info("peername")
            if not self.peers.admits(peer):
                self.refused += 1
                log.warning("FastAGI connection from %s refused: not a configured Asterisk host", peer)
                return
            try:
                env = await asyncio.wait_for(self._read_header(reader), self.header_timeout)
            except (TimeoutError, AgiProtocolError, ValueError, ConnectionError) as exc:
                self.refused += 1
                log.info("FastAGI connection refused: %s", exc)
                return
            if not self.peers.authentic(env.query):
                self.refused += 1
                log.warning("FastAGI session %s from %s refused: wrong or missing secret", env.uniqueid, peer)
                return
            session = AgiSession(reader, writer, env, self.reply_timeout)
            try:
                await self.handler(session)
            except Hangup:
                pass
            except AgiProtocolError as exc:
                log.warning("FastAGI %s: %s", env.uniqueid, exc)
            except Exception:
                log.exception("FastAGI flow failed on %s", env.uniqueid)
        finally:
            self.active.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
