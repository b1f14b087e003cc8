"""An independent SMSC for the SMPP tests: smpp34.Server (PyPI, Rust core) on loopback.

The test decides what the SMSC answers: accept with an id in decimal or hex, reject with
a status (ESME_RTHROTTLED...), or hold submits unanswered to watch the client's window.
It pushes receipts and residents' messages with deliver_sm, as an operator's SMSC does.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import smpp34


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Seen:
    destination: str
    source: str
    esm_class: int
    data_coding: int
    registered_delivery: int
    payload: bytes
    message_id: str
    session: str = ""  # the bind that carried it
    at: float = 0.0  # when this SMSC accepted it (time.monotonic())


@dataclass
class Smsc:
    port: int = field(default_factory=free_port)
    id_style: str = "hex"  # how submit_sm_resp spells message ids
    decide: Callable[[int], int | None] = lambda _n: None  # submit number -> status to reject with
    hold: bool = False
    hold_after: int | None = None  # start holding once this many submits were accepted
    early_receipt: str = ""  # a stat (DELIVRD...): its receipt is acknowledged before submit_sm_resp goes out
    accepted: list[Seen] = field(default_factory=list)
    held: list[smpp34.SubmitSmEvent] = field(default_factory=list)
    rejected: int = 0
    esmes: dict[str, smpp34.Esme] = field(default_factory=dict)
    binds: int = 0
    peak_binds: int = 0  # most sessions bound at once
    _server: smpp34.Server | None = None
    _pump: asyncio.Task[None] | None = None
    _count: int = 0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        """Listen on ``port``. A restart on the same port may find the old listener still
        letting go of it (its runtime closes the socket a moment after stop()): the bind
        is tried again for up to five seconds, as an SMSC's supervisor would."""
        deadline = asyncio.get_running_loop().time() + 5.0
        while True:
            self._server = smpp34.Server("127.0.0.1", self.port, system_id="TestSMSC")
            try:
                await self._server.start()
                break
            except smpp34.SmppError as exc:
                if "in use" not in str(exc) or asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.1)
        self._pump = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Drop every session at once, as an SMSC restart does; held submits are lost."""
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        if self._server is not None:
            await self._server.stop()
        self.esmes.clear()
        self.held.clear()

    async def _run(self) -> None:
        assert self._server is not None
        while True:
            event = await self._server.next()
            if isinstance(event, smpp34.Esme):
                self.esmes[event.session_id] = event
                self.binds += 1
                self.peak_binds = max(self.peak_binds, len(self.esmes))
            elif isinstance(event, smpp34.Unbound):
                self.esmes.pop(event.session_id, None)
            elif isinstance(event, smpp34.SubmitSmEvent):
                if self.hold_after is not None and len(self.accepted) >= self.hold_after:
                    self.hold = True
                if self.hold:
                    self.held.append(event)
                elif self.early_receipt:
                    task = asyncio.create_task(self._receipt_first(event, self.early_receipt))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                else:
                    self.answer(event)

    async def _receipt_first(self, event: smpp34.SubmitSmEvent, stat: str) -> None:
        """A fast network: the handset's receipt is reported (and acknowledged by the ESME)
        before this SMSC's submit_sm_resp has left: SMPP 3.4 sets no order between them."""
        self._count += 1
        number = self._count
        await self.receipt(self._id(number), stat, event.destination_addr)
        self.answer(event, number)

    def answer(self, event: smpp34.SubmitSmEvent, number: int = 0) -> None:
        if not number:
            self._count += 1
            number = self._count
        status = self.decide(number)
        if status is not None:
            self.rejected += 1
            event.reject(status)
            return
        message_id = self._id(number)
        self.accepted.append(
            Seen(
                event.destination_addr,
                event.source_addr,
                event.esm_class,
                event.data_coding,
                event.registered_delivery,
                bytes(event.short_message),
                message_id,
                event.session_id,
                time.monotonic(),
            )
        )
        event.accept(message_id)

    def _id(self, count: int) -> str:
        number = 0x1F0000 + count
        return format(number, "x") if self.id_style == "hex" else str(number)

    def release(self) -> None:
        self.hold = False
        while self.held:
            self.answer(self.held.pop(0))

    def esme(self) -> smpp34.Esme:
        return list(self.esmes.values())[-1]

    async def receipt(self, message_id: str, stat: str, destination: str = "84912345678") -> int:
        text = (
            f"id:{message_id} sub:001 dlvrd:{'001' if stat == 'DELIVRD' else '000'} submit date:2611231200 "
            f"done date:2611231201 stat:{stat} err:000 text:"
        )
        resp = await self.esme().deliver_sm("LOA", text.encode(), source_addr=destination, esm_class=0x04)
        return resp.command_status

    async def mo(self, sender: str, payload: bytes, data_coding: int = 0, esm_class: int = 0) -> int:
        resp = await self.esme().deliver_sm(
            "8088", payload, source_addr=sender, source_addr_ton=1, data_coding=data_coding, esm_class=esm_class
        )
        return resp.command_status


async def wait_until(check: Callable[[], object], within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)
