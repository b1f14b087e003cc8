"""SMPP 3.4 wire format: the PDUs an ESME needs, encoded and decoded in one place.

Section numbers refer to the SMPP v3.4 specification (Issue 1.2, 1999):
§3.2 header (command_length, command_id, command_status, sequence_number; 4 octets each,
big-endian), §3.1 C-Octet Strings (NUL-terminated), §4.1.5 bind_transceiver, §4.3
generic_nack, §4.4 submit_sm, §4.6 deliver_sm, §4.11 enquire_link, §5.3 TLVs.
The decoder never raises anything but ``PduError``: a malformed PDU from the SMSC is
answered or dropped, never allowed to kill the session's reader.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

HEADER = struct.Struct(">IIII")
MAX_PDU = 64 * 1024  # far above any legal PDU; a larger length is a broken stream

BIND_TRANSCEIVER = 0x00000009
BIND_TRANSCEIVER_RESP = 0x80000009
SUBMIT_SM = 0x00000004
SUBMIT_SM_RESP = 0x80000004
DELIVER_SM = 0x00000005
DELIVER_SM_RESP = 0x80000005
UNBIND = 0x00000006
UNBIND_RESP = 0x80000006
ENQUIRE_LINK = 0x00000015
ENQUIRE_LINK_RESP = 0x80000015
GENERIC_NACK = 0x80000000

ESME_ROK = 0x00
ESME_RINVMSGLEN = 0x01
ESME_RINVCMDLEN = 0x02
ESME_RINVCMDID = 0x03
ESME_RINVBNDSTS = 0x04
ESME_RSYSERR = 0x08
ESME_RINVDSTADR = 0x0B
ESME_RBINDFAIL = 0x0D
ESME_RINVPASWD = 0x0E
ESME_RMSGQFUL = 0x14
ESME_RTHROTTLED = 0x58

STATUS_NAMES = {
    0x01: "ESME_RINVMSGLEN",
    0x02: "ESME_RINVCMDLEN",
    0x03: "ESME_RINVCMDID",
    0x04: "ESME_RINVBNDSTS",
    0x05: "ESME_RALYBND",
    0x08: "ESME_RSYSERR",
    0x0A: "ESME_RINVSRCADR",
    0x0B: "ESME_RINVDSTADR",
    0x0D: "ESME_RBINDFAIL",
    0x0E: "ESME_RINVPASWD",
    0x14: "ESME_RMSGQFUL",
    0x45: "ESME_RSUBMITFAIL",
    0x48: "ESME_RINVSRCTON",
    0x49: "ESME_RINVSRCNPI",
    0x58: "ESME_RTHROTTLED",
    0xFF: "ESME_RUNKNOWNERR",
}

TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_MESSAGE_STATE = 0x0427
TLV_MESSAGE_PAYLOAD = 0x0424
TLV_SAR_MSG_REF_NUM = 0x020C
TLV_SAR_TOTAL_SEGMENTS = 0x020E
TLV_SAR_SEGMENT_SEQNUM = 0x020F

ESM_UDHI = 0x40  # §5.2.12: short_message begins with a User Data Header
ESM_RECEIPT = 0x04  # §5.2.12: deliver_sm carries an SMSC delivery receipt


class PduError(Exception):
    """A PDU that does not follow the specification; ``status`` is what to answer."""

    def __init__(self, message: str, status: int = ESME_RINVCMDLEN) -> None:
        super().__init__(message)
        self.status = status


def status_name(status: int) -> str:
    return STATUS_NAMES.get(status, f"0x{status:08X}")


@dataclass(frozen=True)
class Pdu:
    command_id: int
    status: int
    sequence: int
    body: bytes = b""


@dataclass(frozen=True)
class ShortMessage:
    """The mandatory fields of submit_sm/deliver_sm (§4.4.1, §4.6.1) that Loa uses."""

    source_addr: str
    destination_addr: str
    short_message: bytes
    esm_class: int = 0
    data_coding: int = 0
    registered_delivery: int = 0
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    dest_addr_ton: int = 1
    dest_addr_npi: int = 1
    service_type: str = ""
    tlvs: dict[int, bytes] = field(default_factory=dict)


def encode(command_id: int, sequence: int, body: bytes = b"", status: int = 0) -> bytes:
    return HEADER.pack(HEADER.size + len(body), command_id, status, sequence) + body


def cstring(value: str, max_octets: int, name: str) -> bytes:
    raw = value.encode("ascii")
    if len(raw) + 1 > max_octets:
        raise ValueError(f"{name}: tối đa {max_octets - 1} ký tự ASCII (SMPP 3.4 §4)")
    return raw + b"\0"


def bind_transceiver(system_id: str, password: str, system_type: str = "", address_range: str = "") -> bytes:
    """§4.1.5 body: system_id(16) password(9) system_type(13) interface_version
    addr_ton addr_npi address_range(41)."""
    return (
        cstring(system_id, 16, "system_id")
        + cstring(password, 9, "password")
        + cstring(system_type, 13, "system_type")
        + bytes((0x34, 0, 0))
        + cstring(address_range, 41, "address_range")
    )


def submit_sm(message: ShortMessage) -> bytes:
    """§4.4.1 body in field order; short_message at most 254 octets (§4.4.1 sm_length)."""
    if len(message.short_message) > 254:
        raise ValueError("short_message: tối đa 254 byte (SMPP 3.4 §4.4.1)")
    body = (
        cstring(message.service_type, 6, "service_type")
        + bytes((message.source_addr_ton, message.source_addr_npi))
        + cstring(message.source_addr, 21, "source_addr")
        + bytes((message.dest_addr_ton, message.dest_addr_npi))
        + cstring(message.destination_addr, 21, "destination_addr")
        + bytes((message.esm_class, 0, 0))  # esm_class, protocol_id, priority_flag
        + b"\0\0"  # schedule_delivery_time, validity_period: immediate, SMSC default
        + bytes((message.registered_delivery, 0, message.data_coding, 0, len(message.short_message)))
        + message.short_message
    )
    for tag, value in message.tlvs.items():
        body += struct.pack(">HH", tag, len(value)) + value
    return body


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise PduError("PDU body ends early")
        self.pos += 1
        return self.data[self.pos - 1]

    def cstring(self, max_octets: int) -> str:
        end = self.data.find(b"\0", self.pos, self.pos + max_octets)
        if end < 0:
            raise PduError("C-Octet String without NUL terminator (SMPP 3.4 §3.1)")
        raw = self.data[self.pos : end]
        self.pos = end + 1
        return raw.decode("latin-1")

    def octets(self, count: int) -> bytes:
        if self.pos + count > len(self.data):
            raise PduError("PDU body ends early")
        self.pos += count
        return self.data[self.pos - count : self.pos]


def parse_header(header: bytes) -> tuple[int, int, int, int]:
    length, command_id, status, sequence = HEADER.unpack(header)
    if not HEADER.size <= length <= MAX_PDU:
        raise PduError(f"command_length {length} out of range (SMPP 3.4 §3.2)")
    return length, command_id, status, sequence


def parse_short_message(body: bytes) -> ShortMessage:
    """deliver_sm (§4.6.1), same layout as submit_sm; TLVs after short_message (§5.3)."""
    r = _Reader(body)
    service_type = r.cstring(6)
    source_ton, source_npi = r.byte(), r.byte()
    source = r.cstring(65)
    dest_ton, dest_npi = r.byte(), r.byte()
    destination = r.cstring(65)
    esm_class, _protocol_id, _priority = r.byte(), r.byte(), r.byte()
    r.cstring(17)  # schedule_delivery_time
    r.cstring(17)  # validity_period
    registered, _replace, data_coding, _default_id, length = r.byte(), r.byte(), r.byte(), r.byte(), r.byte()
    text = r.octets(length)
    tlvs: dict[int, bytes] = {}
    while r.pos < len(body):
        tag_len = r.octets(4)
        tag, size = struct.unpack(">HH", tag_len)
        tlvs[tag] = r.octets(size)
    return ShortMessage(
        source,
        destination,
        text,
        esm_class,
        data_coding,
        registered,
        source_ton,
        source_npi,
        dest_ton,
        dest_npi,
        service_type,
        tlvs,
    )


def parse_message_id(body: bytes) -> str:
    """submit_sm_resp (§4.4.2): message_id C-string; empty on an error response."""
    if not body:
        return ""
    return _Reader(body).cstring(65)
