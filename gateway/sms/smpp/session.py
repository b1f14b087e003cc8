"""An SMPP 3.4 transceiver session on asyncio: bind, window, keep-alive, reconnect.

- One TCP connection bound as transceiver (§2.2, §4.1.5): MT, MO and receipts share it.
- A window of at most ``window`` submit_sm outstanding (§2.5 asynchronous operation);
  each waits for its response with a timeout; a silent SMSC costs the connection.
- enquire_link (§4.11) after ``enquire_link_s`` of silence; the SMSC's own enquire_link,
  unbind and unknown requests are answered (generic_nack ESME_RINVCMDID, §4.3).
- ESME_RTHROTTLED (0x58), ESME_RMSGQFUL (0x14) and ESME_RSYSERR (0x08) are resubmitted
  after a growing pause; a submit never written (no bind) waits for the next bind.
- A submit written whose response never came (the connection died, §2.7 response timer)
  may have reached the resident: it is reported as unconfirmed, not sent again, unless
  the caller asks for at-least-once (emergencies), then it is resubmitted on the new bind.
  Only a submit_sm_resp with ESME_ROK counts as accepted: an accepted part is never sent
  again by this session.
- A caller's ``on_wire`` (the service marking the part ``submitting``) is awaited before a
  submit_sm is first written: with a contracted rate in its window slot after its pace
  slot, else at most one window ahead of the window (the marks of the next window are
  stored while this one is on the wire), so a crash leaves at most that many parts marked
  and not written.
- deliver_sm (MO and receipts) is acknowledged only after the handler stored it; when the
  handler fails the SMSC gets ESME_RSYSERR and redelivers later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from gateway.sms.smpp import pdu
from gateway.sms.transport import OnWire

log = logging.getLogger(__name__)

# Throttled, queue full, and system error (an SMSC going down NAKs what it holds with it).
RETRYABLE = {pdu.ESME_RTHROTTLED, pdu.ESME_RMSGQFUL, pdu.ESME_RSYSERR}


@dataclass(frozen=True)
class SessionConfig:
    host: str
    port: int
    system_id: str
    password: str
    system_type: str = ""
    window: int = 10
    enquire_link_s: float = 30.0
    response_timeout_s: float = 10.0
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    throttle_pause_s: float = 0.2  # first pause after 0x58/0x14, doubled up to 5 s
    max_submit_tries: int = 20


class SubmitError(Exception):
    def __init__(self, status: int, temporary: bool, unconfirmed: bool = False) -> None:
        super().__init__("không có submit_sm_resp" if unconfirmed else pdu.status_name(status))
        self.status, self.temporary, self.unconfirmed = status, temporary, unconfirmed


class _ConnectionLost(Exception):
    pass


class _NotSent(_ConnectionLost):
    """The request was never written: sending it again cannot duplicate it."""


DeliverHandler = Callable[[pdu.ShortMessage], Awaitable[None]]


class Pacer(Protocol):
    async def wait(self) -> None: ...


class _Slot:
    """One slot of a semaphore, given back once, whichever comes first."""

    def __init__(self, semaphore: asyncio.Semaphore | None) -> None:
        self._semaphore = semaphore

    def release(self) -> None:
        if self._semaphore is not None:
            self._semaphore.release()
            self._semaphore = None


class SmppSession:
    def __init__(
        self, config: SessionConfig, on_deliver: DeliverHandler, pacer: Pacer | None = None, paced: bool = False
    ) -> None:
        """``paced``: ``pacer`` holds a contracted rate; then a part is marked in its
        window slot after its pace slot (the rate, not the mark, bounds the throughput),
        else one window ahead."""
        self.config = config
        self.on_deliver = on_deliver
        self.pacer = pacer  # the contracted rate: every submit_sm written takes one of its slots
        self.paced = paced
        self.window = asyncio.Semaphore(config.window)
        self.ahead = asyncio.Semaphore(config.window)  # parts marked (``on_wire``) and not written yet
        self.bound = asyncio.Event()
        self._rebound = asyncio.Event()
        self.last_error = ""
        self.binds = 0  # successful binds, for status pages and tests
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[int, asyncio.Future[pdu.Pdu]] = {}
        self._out: list[bytes] = []  # PDUs queued for the next write
        self._sequence = 0
        self._runner: asyncio.Task[None] | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._closing = False

    # --- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        """Bind (again, after ``close``) and keep the bind."""
        if self._runner is None or self._runner.done():
            self._closing = False
            self._runner = asyncio.create_task(self._run(), name="smpp-session")

    async def close(self) -> None:
        self._closing = True
        if self._writer is not None and self.bound.is_set():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._request(pdu.UNBIND), timeout=2)
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        for task in list(self._handlers):
            with contextlib.suppress(Exception):
                await task
        self._drop_connection()

    async def _run(self) -> None:
        pause = self.config.reconnect_min_s
        while not self._closing:
            try:
                await self._connect_and_serve()
                pause = self.config.reconnect_min_s
            except (OSError, TimeoutError, _ConnectionLost, pdu.PduError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                if self._closing:
                    return
                log.warning("SMPP %s:%s: %s", self.config.host, self.config.port, self.last_error)
            self._drop_connection()
            if self._closing:
                return
            await asyncio.sleep(pause * (0.8 + 0.4 * random.random()))
            pause = min(pause * 2, self.config.reconnect_max_s)

    async def _connect_and_serve(self) -> None:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.config.host, self.config.port), self.config.response_timeout_s
        )
        self._writer = writer
        body = pdu.bind_transceiver(self.config.system_id, self.config.password, self.config.system_type)
        reading = asyncio.create_task(self._read_loop(reader))
        try:
            resp = await self._request(pdu.BIND_TRANSCEIVER, body)
            if resp.status != pdu.ESME_ROK:
                raise _ConnectionLost(f"bind_transceiver refused: {pdu.status_name(resp.status)}")
            self.binds += 1
            self.last_error = ""
            self.bound.set()
            self._rebound.set()  # wakes whoever waits for a bind after the one they lost
            self._rebound = asyncio.Event()
            await self._keep_alive(reading)
        finally:
            self.bound.clear()
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reading

    async def _keep_alive(self, reading: asyncio.Task[None]) -> None:
        while True:
            done, _ = await asyncio.wait({reading}, timeout=self.config.enquire_link_s)
            if done:
                reading.result()  # re-raise why the reader stopped
                raise _ConnectionLost("connection closed by SMSC")
            await self._request(pdu.ENQUIRE_LINK)  # raises on timeout: the link is dead

    def _drop_connection(self) -> None:
        self.bound.clear()
        self._out = []
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        for future in self._pending.values():
            if not future.done():
                future.set_exception(_ConnectionLost("connection lost"))
        self._pending.clear()

    # --- requests ------------------------------------------------------------------
    def _next_sequence(self) -> int:
        self._sequence = self._sequence % 0x7FFFFFFF + 1  # §3.2: 0x00000001..0x7FFFFFFF
        return self._sequence

    def _write(self, data: bytes) -> None:
        """Queue a PDU; the PDUs queued in one turn of the event loop leave in one write
        (a window of submits, a burst of deliver_sm_resp: one system call, not ten)."""
        writer = self._writer
        if writer is None or writer.is_closing():
            raise _NotSent("not connected")
        self._out.append(data)
        if len(self._out) == 1:
            asyncio.get_running_loop().call_soon(self._flush, writer)

    def _flush(self, writer: asyncio.StreamWriter) -> None:
        data, self._out = b"".join(self._out), []
        if writer is self._writer and not writer.is_closing():
            writer.write(data)  # else the link died meanwhile: whoever waits learns it

    async def _request(self, command_id: int, body: bytes = b"") -> pdu.Pdu:
        sequence = self._next_sequence()
        future: asyncio.Future[pdu.Pdu] = asyncio.get_running_loop().create_future()
        self._pending[sequence] = future
        try:
            self._write(pdu.encode(command_id, sequence, body))
            return await asyncio.wait_for(future, self.config.response_timeout_s)
        except TimeoutError:
            # §2.7: no response in time; the session is no longer trustworthy.
            if self._writer is not None:
                self._writer.close()
            raise _ConnectionLost(f"no response to 0x{command_id:08X} in {self.config.response_timeout_s} s") from None
        finally:
            self._pending.pop(sequence, None)

    async def submit(
        self, message: pdu.ShortMessage, at_least_once: bool = False, on_wire: OnWire | None = None
    ) -> str:
        """The SMSC's message_id once it accepted the part; SubmitError when it refused,
        or (``unconfirmed``) when the part was written and its response lost.
        ``on_wire`` is awaited once before the submit_sm is first written: paced, in its
        window slot after its pace slot; unpaced, ahead of the window, at most ``window``
        parts marked and not written yet (``ahead``), so that the marks of the next
        window are stored while this one is on the wire."""
        body = pdu.submit_sm(message)
        marked = _Slot(None)
        if self.paced:  # marked at the last moment: in its window slot, after its pace slot
            return await self._submit(body, at_least_once, marked, on_wire)
        if on_wire is not None:  # marked ahead of the window: the next window's marks overlap this one
            await self.ahead.acquire()
            marked = _Slot(self.ahead)
            try:
                await on_wire()
            except BaseException:
                marked.release()
                raise
        try:
            return await self._submit(body, at_least_once, marked, None)
        finally:
            marked.release()

    async def _submit(self, body: bytes, at_least_once: bool, marked: _Slot, on_wire: OnWire | None) -> str:
        pause = self.config.throttle_pause_s
        tries = 0
        while tries < self.config.max_submit_tries:
            await self.bound.wait()
            bind = self.binds
            async with self.window:
                if self.pacer is not None:  # paced inside the window: slots are not spent waiting for it
                    await self.pacer.wait()
                if on_wire is not None:
                    await on_wire()
                    on_wire = None
                if not self.bound.is_set():  # the link went down meanwhile: not a try
                    continue
                marked.release()  # written now: another part may be marked
                try:
                    resp = await self._request(pdu.SUBMIT_SM, body)
                except _NotSent:  # the link is going down: wait for the next bind, not a try
                    await self._next_bind(bind)
                    continue
                except _ConnectionLost:
                    if not at_least_once:
                        raise SubmitError(pdu.ESME_RSYSERR, temporary=False, unconfirmed=True) from None
                    tries += 1
                    await self._next_bind(bind)
                    continue  # an emergency: a duplicate is better than a loss
            tries += 1
            if resp.status == pdu.ESME_ROK:
                return pdu.parse_message_id(resp.body)
            if resp.status not in RETRYABLE:
                raise SubmitError(resp.status, temporary=False)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)
        raise SubmitError(pdu.ESME_RTHROTTLED, temporary=True)

    async def _next_bind(self, bind: int) -> None:
        """Wait until the session is bound again after bind number ``bind`` was lost."""
        if self.binds == bind:
            await self._rebound.wait()

    # --- inbound ---------------------------------------------------------------------
    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        try:
            await self._read_pdus(reader)
        finally:  # whoever waits for a response learns now, not at its timeout
            self.bound.clear()  # and nothing more is written into a dead connection
            if self._writer is not None:
                self._writer.close()
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(_ConnectionLost("connection lost"))

    async def _read_pdus(self, reader: asyncio.StreamReader) -> None:
        while True:
            try:
                header = await reader.readexactly(pdu.HEADER.size)
            except asyncio.IncompleteReadError:
                return
            length, command_id, status, sequence = pdu.parse_header(header)
            try:
                body = await reader.readexactly(length - pdu.HEADER.size)
            except asyncio.IncompleteReadError:
                return
            if command_id & 0x80000000:
                future = self._pending.get(sequence)
                if future is not None and not future.done():
                    future.set_result(pdu.Pdu(command_id, status, sequence, body))
                continue
            self._on_request(command_id, sequence, body)

    def _on_request(self, command_id: int, sequence: int, body: bytes) -> None:
        if command_id == pdu.ENQUIRE_LINK:
            self._write(pdu.encode(pdu.ENQUIRE_LINK_RESP, sequence))
        elif command_id == pdu.UNBIND:
            self._write(pdu.encode(pdu.UNBIND_RESP, sequence))
            raise _ConnectionLost("SMSC unbound")
        elif command_id == pdu.DELIVER_SM:
            try:
                message = pdu.parse_short_message(body)
            except pdu.PduError as exc:
                log.warning("malformed deliver_sm %d: %s", sequence, exc)
                self._write(pdu.encode(pdu.DELIVER_SM_RESP, sequence, b"\0", exc.status))
                return
            task = asyncio.create_task(self._deliver(sequence, message))
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        else:
            self._write(pdu.encode(pdu.GENERIC_NACK, sequence, status=pdu.ESME_RINVCMDID))

    async def _deliver(self, sequence: int, message: pdu.ShortMessage) -> None:
        status = pdu.ESME_ROK
        try:
            await self.on_deliver(message)
        except Exception:
            log.exception("deliver_sm %d not stored; the SMSC will redeliver it", sequence)
            status = pdu.ESME_RSYSERR
        with contextlib.suppress(_ConnectionLost):
            self._write(pdu.encode(pdu.DELIVER_SM_RESP, sequence, b"\0", status))
