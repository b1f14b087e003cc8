"""The one small interface every SMS transport (Kannel, SMPP, GSM modem) implements.

A transport submits one wire part at a time and reports what comes back from the network
(delivery receipts, messages from residents) to two handlers the gateway gives it. It
never touches the database: the SMS service above it keeps the ledger.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from gateway.sms.codec import Concat, WirePart


@dataclass(frozen=True)
class OutPart:
    to: str  # E.164, "+84..."
    part: WirePart
    reference: str  # ours: "d<delivery>.<seq>" or "r<reply>.<seq>"
    at_least_once: bool = False  # emergencies: resubmit a part whose answer was lost


@dataclass(frozen=True)
class SubmitResult:
    accepted: bool
    temporary: bool  # worth trying again later (throttled, network down)
    detail: str
    message_id: str = ""  # the SMSC's id, matched by receipts; empty where receipts carry our reference
    unknown: bool = False  # written, but the SMSC's answer was lost: it may have gone out


@dataclass(frozen=True)
class Receipt:
    outcome: str  # delivered | failed | pending
    detail: str
    message_id: str = ""  # SMPP / modem: the SMSC's id
    reference: str = ""  # Kannel: our reference from the dlr-url
    sender: str = ""  # SMPP: the handset's number the receipt comes from (deliver_sm source_addr)


@dataclass(frozen=True)
class Mo:
    sender: str
    text: str
    transport: str
    concat: Concat | None = None  # one part of a multi-part message: the service assembles it


MoHandler = Callable[[Mo], Awaitable[None]]
ReceiptHandler = Callable[[Receipt], Awaitable[None]]
# Awaited once, just before the part is first written to the network (its window slot
# held, its pace slot taken): the service stores there that the part may go out, so a
# part a crash leaves unmarked is known never to have been written.
OnWire = Callable[[], Awaitable[None]]


class Transport(Protocol):
    name: str
    window: int  # parts that may be in flight at once

    async def start(self, on_mo: MoHandler, on_receipt: ReceiptHandler) -> None:
        """Connect and begin passing inbound traffic to the handlers. A handler that raises
        means "not stored": the transport must leave the message with the network."""
        ...

    async def submit(self, part: OutPart, on_wire: OnWire | None = None) -> SubmitResult:
        """``on_wire`` is awaited before the part's bytes are handed to the network; a
        part that went out without it would be sent twice after a crash."""
        ...

    def status(self) -> dict[str, object]:
        """For the operator: is the link up, and the last error in words."""
        ...

    async def close(self) -> None: ...
