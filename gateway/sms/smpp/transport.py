"""SMPP transport: wire parts -> submit_sm; deliver_sm -> receipts and residents' messages.

Every part asks for its own receipt (registered_delivery 1, §5.2.17), so a long message
is confirmed part by part. Concatenated parts carry the 6-octet UDH with esm_class UDHI
(0x40). Concatenated MO parts are passed up one by one with their UDH or SAR numbering:
the service stores each before this transport answers deliver_sm, and assembles them.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.pacing import Pacer
from gateway.sms import codec, receipts
from gateway.sms.smpp import pdu
from gateway.sms.smpp.session import Pacer as SessionPacer
from gateway.sms.smpp.session import SessionConfig, SmppSession, SubmitError
from gateway.sms.transport import Mo, MoHandler, OnWire, OutPart, Receipt, ReceiptHandler, SubmitResult


@dataclass(frozen=True)
class SmppConfig:
    session: SessionConfig
    sender: str = ""  # brandname (alphanumeric) or number
    national_numbers: bool = False  # destination as 0xxxxxxxxx (TON 2) instead of 84xxxxxxxxx (TON 1)
    tps: float = 0.0  # contracted messages per second; 0 = only the window limits


def source_ton_npi(sender: str) -> tuple[int, int]:
    """Alphanumeric brandname: TON 5 / NPI 0; a number: international TON 1 / NPI 1."""
    if sender and not sender.lstrip("+").isdigit():
        return 5, 0
    return (1, 1) if sender else (0, 0)


class SmppTransport:
    name = "smpp"

    def __init__(self, config: SmppConfig, pacer: SessionPacer | None = None) -> None:
        """``pacer``: the account's rate shared with other processes (``limits``); by
        default ``config.tps`` paced within this process."""
        self.config = config
        self.window = config.session.window
        paced = pacer is not None or config.tps > 0
        self.session = SmppSession(config.session, self._on_deliver, pacer or Pacer(config.tps), paced)
        self._on_mo: MoHandler | None = None
        self._on_receipt: ReceiptHandler | None = None

    async def start(self, on_mo: MoHandler, on_receipt: ReceiptHandler) -> None:
        self._on_mo, self._on_receipt = on_mo, on_receipt
        self.session.start()

    async def close(self) -> None:
        await self.session.close()

    def status(self) -> dict[str, object]:
        s = self.session
        return {"connected": s.bound.is_set(), "binds": s.binds, "last_error": s.last_error, "window": self.window}

    def _destination(self, e164: str) -> tuple[str, int, int]:
        digits = e164.lstrip("+")
        if self.config.national_numbers and digits.startswith("84"):
            return "0" + digits[2:], 2, 1
        return digits, 1, 1

    async def submit(self, part: OutPart, on_wire: OnWire | None = None) -> SubmitResult:
        destination, dest_ton, dest_npi = self._destination(part.to)
        source_ton, source_npi = source_ton_npi(self.config.sender)
        message = pdu.ShortMessage(
            source_addr=self.config.sender.lstrip("+"),
            destination_addr=destination,
            short_message=part.part.payload,
            esm_class=pdu.ESM_UDHI if part.part.udh else 0,
            data_coding=part.part.data_coding,
            registered_delivery=1,
            source_addr_ton=source_ton,
            source_addr_npi=source_npi,
            dest_addr_ton=dest_ton,
            dest_addr_npi=dest_npi,
        )
        try:
            message_id = await self.session.submit(message, at_least_once=part.at_least_once, on_wire=on_wire)
        except SubmitError as exc:
            if exc.unconfirmed:
                return SubmitResult(False, False, "mất kết nối trước khi SMSC trả lời", unknown=True)
            return SubmitResult(False, exc.temporary, f"SMSC từ chối: {exc}")
        return SubmitResult(True, False, "SMSC đã nhận", message_id)

    # --- inbound ---------------------------------------------------------------------
    async def _on_deliver(self, message: pdu.ShortMessage) -> None:
        data = message.short_message or message.tlvs.get(pdu.TLV_MESSAGE_PAYLOAD, b"")
        concat = None
        if message.esm_class & pdu.ESM_UDHI:
            concat, data = codec.split_udh(data)
        text = codec.decode(data, message.data_coding)
        if message.esm_class & 0x3C == pdu.ESM_RECEIPT:
            receipt = receipts.parse(text, message.tlvs)
            if receipt is not None and self._on_receipt is not None:
                await self._on_receipt(
                    Receipt(
                        receipt.outcome,
                        f"{receipt.stat} err:{receipt.err}".strip(),
                        message_id=receipt.message_id,
                        sender=message.source_addr,  # Appendix B: the original destination
                    )
                )
            return
        if concat is None and pdu.TLV_SAR_MSG_REF_NUM in message.tlvs:
            concat = _sar(message.tlvs)
        if self._on_mo is not None:
            part = concat if concat is not None and concat.total > 1 else None
            await self._on_mo(Mo(message.source_addr, text, self.name, part))


def _sar(tlvs: dict[int, bytes]) -> codec.Concat | None:
    try:
        ref = int.from_bytes(tlvs[pdu.TLV_SAR_MSG_REF_NUM], "big")
        total = tlvs[pdu.TLV_SAR_TOTAL_SEGMENTS][0]
        seq = tlvs[pdu.TLV_SAR_SEGMENT_SEQNUM][0]
    except (KeyError, IndexError):
        return None
    return codec.Concat(ref, total, seq)
