"""GSM modem transport through Gammu (python-gammu), for communes without an aggregator.

Gammu's state machine is blocking and not thread-safe, so every call runs on one
dedicated thread. The inbox is polled: linked parts are joined by Gammu (LinkSMS), the
text handed to the gateway, and the parts deleted from the SIM/phone only after the
gateway stored the message. Status reports (SMS-STATUS-REPORT, 3GPP TS 23.040 §9.2.2.3)
settle parts by their TP-Message-Reference.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from gateway.pacing import Pacer
from gateway.sms.transport import Mo, MoHandler, OnWire, OutPart, Receipt, ReceiptHandler, SubmitResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModemConfig:
    device: str  # /dev/ttyUSB0; for Gammu's dummy driver, a directory
    connection: str = "at"  # at, at115200, ...; "none" with model "dummy"
    model: str = ""
    poll_seconds: float = 10.0
    tps: float = 0.5  # a modem sends about one message every 2-3 s


def status_outcome(tp_status: int) -> str:
    """TP-Status (3GPP TS 23.040 §9.2.3.15): 0x00-0x1F completed, 0x20-0x3F still trying,
    0x40 and up permanent failure or given up."""
    if tp_status < 0x20:
        return "delivered"
    if tp_status < 0x40:
        return "pending"
    return "failed"


class ModemTransport:
    name = "modem"
    window = 1

    def __init__(self, config: ModemConfig) -> None:
        self.config = config
        self.pacer = Pacer(config.tps)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gammu")
        self._machine: Any = None
        self._poller: asyncio.Task[None] | None = None
        self._on_mo: MoHandler | None = None
        self._on_receipt: ReceiptHandler | None = None
        self.last_error = ""
        self._polling = asyncio.Lock()

    async def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, lambda: fn(*args, **kwargs))

    def _connect(self) -> None:
        import gammu  # lazy: only deployments with a modem need it

        machine = gammu.StateMachine()
        settings = {"Device": self.config.device, "Connection": self.config.connection}
        if self.config.model:
            settings["Model"] = self.config.model
        machine.SetConfig(0, settings)
        machine.Init()
        self._machine = machine

    async def start(self, on_mo: MoHandler, on_receipt: ReceiptHandler) -> None:
        self._on_mo, self._on_receipt = on_mo, on_receipt
        await self._call(self._connect)
        self._poller = asyncio.create_task(self._poll_loop(), name="gammu-poll")

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        if self._machine is not None:
            with contextlib.suppress(Exception):
                await self._call(self._machine.Terminate)
        self._thread.shutdown(wait=True)

    def status(self) -> dict[str, object]:
        return {"connected": self._machine is not None and not self.last_error, "last_error": self.last_error}

    async def submit(self, part: OutPart, on_wire: OnWire | None = None) -> SubmitResult:
        import gammu

        wire = part.part
        message: dict[str, Any] = {
            "Text": wire.text,
            "Coding": "Unicode_No_Compression" if wire.data_coding == 8 else "Default_No_Compression",
            "Number": part.to,
            "SMSC": {"Location": 1},
            "DeliveryReport": "yes",
        }
        if wire.udh:
            message["UDH"] = {"Type": "ConcatenatedMessages", "Text": wire.udh}
        await self.pacer.wait()
        if on_wire is not None:
            await on_wire()
        try:
            reference = await self._call(self._machine.SendSMS, message)
        except gammu.GSMError as exc:
            info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
            text = str(info.get("Text", exc))
            # A busy or timed-out modem recovers; a message the network refused does not.
            transient = (gammu.ERR_TIMEOUT, gammu.ERR_DEVICEBUSY, gammu.ERR_FULL, gammu.ERR_NETWORK_ERROR)
            temporary = isinstance(exc, transient)
            return SubmitResult(False, temporary, f"modem: {text}")
        return SubmitResult(True, False, "modem đã gửi", str(reference))

    # --- inbox -----------------------------------------------------------------------
    async def _poll_loop(self) -> None:
        while True:
            try:
                await self.poll()
                self.last_error = ""
            except Exception as exc:  # the modem may be unplugged; keep polling
                self.last_error = str(exc)
                log.warning("modem poll failed: %s", exc)
            await asyncio.sleep(self.config.poll_seconds)

    def _read_inbox(self) -> list[list[dict[str, Any]]]:
        import gammu

        messages: list[list[dict[str, Any]]] = []
        location: int | None = None
        while True:
            try:
                if location is None:
                    entry = self._machine.GetNextSMS(Folder=0, Start=True)
                else:
                    entry = self._machine.GetNextSMS(Folder=0, Location=location)
            except gammu.ERR_EMPTY:
                break
            location = int(entry[0]["Location"])
            messages.append(entry)
        return list(gammu.LinkSMS(messages))

    async def poll(self) -> None:
        """Hand every complete message in the inbox to the gateway, then delete it."""
        async with self._polling:  # one reader of the SIM at a time
            await self._poll_once()

    async def _poll_once(self) -> None:
        import gammu

        for linked in await self._call(self._read_inbox):
            first = linked[0]
            if first.get("PDU") == "Status_Report" or first.get("Type") == "Status_Report":
                if self._on_receipt is not None:
                    outcome = status_outcome(int(first.get("DeliveryStatus", 0)))
                    detail = f"TP-Status 0x{int(first.get('DeliveryStatus', 0)):02X}"
                    await self._on_receipt(Receipt(outcome, detail, message_id=str(first.get("MessageReference"))))
            elif self._on_mo is not None:
                decoded = gammu.DecodeSMS(linked)
                if decoded is not None:
                    text = "".join(str(e.get("Buffer") or "") for e in decoded["Entries"])
                else:
                    text = "".join(str(part.get("Text") or "") for part in linked)
                await self._on_mo(Mo(str(first.get("Number", "")), text, self.name))
            for part in linked:  # stored: now it may leave the SIM
                await self._call(self._machine.DeleteSMS, Folder=0, Location=part["Location"])
