"""Text <-> octets for the wire: GSM 03.38 unpacked (one septet per octet, as SMPP's
"SMSC default alphabet" carries it), UCS-2 as UTF-16BE, and the concatenation User Data
Header (3GPP TS 23.040 §9.2.3.24.1: IEI 0x00, 8-bit reference; §9.2.3.24.8: IEI 0x08,
16-bit reference).
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.sms.encoding import GSM7_BASIC, GSM7_EXTENSION, plan

_EXT_CODES = dict(zip(GSM7_EXTENSION, (0x0A, 0x14, 0x28, 0x29, 0x2F, 0x3C, 0x3D, 0x3E, 0x40, 0x65), strict=True))
_TO_GSM = {ch: bytes((i,)) for i, ch in enumerate(GSM7_BASIC) if ch != "\x1b"}
_TO_GSM.update({ch: bytes((0x1B, code)) for ch, code in _EXT_CODES.items()})
_FROM_EXT = {code: ch for ch, code in _EXT_CODES.items()}

DC_GSM7, DC_IA5, DC_UCS2 = 0x00, 0x01, 0x08  # SMPP 3.4 §5.2.19 data_coding


def gsm7_encode(text: str) -> bytes:
    """Unpacked GSM 03.38; raises ValueError for a character outside the alphabet."""
    try:
        return b"".join(_TO_GSM[ch] for ch in text)
    except KeyError as exc:
        raise ValueError(f"ký tự {exc.args[0]!r} không có trong bảng GSM 03.38") from exc


def gsm7_decode(data: bytes) -> str:
    out: list[str] = []
    escape = False
    for octet in data:
        octet &= 0x7F
        if escape:
            out.append(_FROM_EXT.get(octet, GSM7_BASIC[octet]))
            escape = False
        elif octet == 0x1B:
            escape = True
        else:
            out.append(GSM7_BASIC[octet])
    return "".join(out)


def ucs2_decode(data: bytes) -> str:
    return data[: len(data) // 2 * 2].decode("utf-16-be", errors="replace")


def decode(data: bytes, data_coding: int) -> str:
    """User data as text by SMPP data_coding (§5.2.19); unknown codings read as Latin-1."""
    if data_coding == DC_UCS2:
        return ucs2_decode(data)
    if data_coding == DC_GSM7:
        return gsm7_decode(data)
    if data_coding == DC_IA5:
        return data.decode("ascii", errors="replace")
    return data.decode("latin-1")


@dataclass(frozen=True)
class Concat:
    reference: int
    total: int
    seq: int


def concat_udh(reference: int, total: int, seq: int) -> bytes:
    """The 6-octet UDH of one part: UDHL 05, IEI 00, IEDL 03, ref, total, seq."""
    return bytes((0x05, 0x00, 0x03, reference & 0xFF, total, seq))


def split_udh(data: bytes) -> tuple[Concat | None, bytes]:
    """Strip a UDH (esm_class UDHI set); the concatenation info if there is one."""
    if not data:
        return None, data
    length = data[0]
    header, rest = data[1 : 1 + length], data[1 + length :]
    concat, i = None, 0
    while i + 2 <= len(header):
        iei, size = header[i], header[i + 1]
        value = header[i + 2 : i + 2 + size]
        if iei == 0x00 and size == 3 and len(value) == 3:
            concat = Concat(value[0], value[1], value[2])
        elif iei == 0x08 and size == 4 and len(value) == 4:
            concat = Concat((value[0] << 8) | value[1], value[2], value[3])
        i += 2 + size
    return concat, rest


@dataclass(frozen=True)
class WirePart:
    """One submit_sm worth of a message."""

    seq: int  # 1-based
    total: int
    text: str
    data_coding: int
    udh: bytes  # empty for a single-part message
    payload: bytes  # udh + encoded text


def wire_parts(text: str, reference: int) -> list[WirePart]:
    """The parts exactly as ``encoding.plan`` counts them, each ready for submit_sm."""
    message = plan(text)
    coding = DC_UCS2 if message.encoding == "ucs2" else DC_GSM7
    total = message.count
    out = []
    for seq, part in enumerate(message.parts, start=1):
        body = part.encode("utf-16-be") if coding == DC_UCS2 else gsm7_encode(part)
        udh = concat_udh(reference, total, seq) if total > 1 else b""
        out.append(WirePart(seq, total, part, coding, udh, udh + body))
    return out
