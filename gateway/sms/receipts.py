"""Delivery receipts: the SMPP 3.4 Appendix B text format and the TLVs that supersede it.

    id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:...

The format is SMSC-specific in practice: dates with or without seconds, field names in
either case, and the ``id`` in decimal where submit_sm_resp gave hex (or the reverse;
Kannel's ``msg-id-type`` exists for this). ``id_candidates`` lists every spelling an id
may have been stored under, so a receipt is matched whatever style the SMSC uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.sms.smpp.pdu import TLV_MESSAGE_STATE, TLV_RECEIPTED_MESSAGE_ID

# message_state TLV values (SMPP 3.4 §5.3.2.35)
MESSAGE_STATES = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}
DELIVERED = {"DELIVRD"}
FAILED = {"EXPIRED", "DELETED", "UNDELIV", "REJECTD", "UNKNOWN"}

_FIELD = re.compile(r"(id|sub|dlvrd|submit date|done date|stat|err|text):", re.IGNORECASE)


@dataclass(frozen=True)
class ReceiptText:
    message_id: str
    stat: str
    err: str

    @property
    def outcome(self) -> str:
        """delivered | failed | pending (ENROUTE, ACCEPTD: not final)."""
        if self.stat in DELIVERED:
            return "delivered"
        if self.stat in FAILED:
            return "failed"
        return "pending"


def parse(text: str, tlvs: dict[int, bytes] | None = None) -> ReceiptText | None:
    """A receipt from deliver_sm's text and TLVs; None when it is not one."""
    fields: dict[str, str] = {}
    matches = list(_FIELD.finditer(text))
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        fields[match.group(1).lower()] = text[match.end() : end].strip()
    tlvs = tlvs or {}
    message_id = fields.get("id", "")
    stat = fields.get("stat", "").upper()[:7]
    if TLV_RECEIPTED_MESSAGE_ID in tlvs:  # a C-string
        message_id = tlvs[TLV_RECEIPTED_MESSAGE_ID].split(b"\0", 1)[0].decode("latin-1") or message_id
    if TLV_MESSAGE_STATE in tlvs and len(tlvs[TLV_MESSAGE_STATE]) == 1:
        stat = MESSAGE_STATES.get(tlvs[TLV_MESSAGE_STATE][0], stat)
    if not message_id or not stat:
        return None
    return ReceiptText(message_id, stat, fields.get("err", ""))


def normalize_id(message_id: str) -> str:
    """Case and leading zeros do not distinguish ids ("0A1b" == "a1b")."""
    return message_id.strip().lower().lstrip("0") or "0"


def id_candidates(message_id: str) -> list[str]:
    """The id as given, then as hex<->decimal conversions, normalized, without repeats."""
    raw = message_id.strip()
    out = [normalize_id(raw)]
    if raw.isascii() and raw.isdigit() and len(raw) <= 40:  # "²" is a digit to isdigit, not to int
        out.append(normalize_id(format(int(raw), "x")))
    if raw and all(ch in "0123456789abcdefABCDEF" for ch in raw) and len(raw) <= 32:
        out.append(normalize_id(str(int(raw, 16))))
    return list(dict.fromkeys(out))


def part_reference(reference: str) -> tuple[str, int] | None:
    """Our reference of one part, ``<message reference>.<part number>``; None when it is not one."""
    message, _, seq = reference.rpartition(".")
    if not (message and seq.isascii() and seq.isdigit() and len(seq) <= 3):
        return None
    return message, int(seq)
