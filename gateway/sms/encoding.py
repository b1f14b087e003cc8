"""SMS text encodings and segmentation as the wire does it (3GPP TS 23.038 / 23.040).

- GSM 7-bit default alphabet: 160 septets in one message, 153 per part of a
  concatenated message (the 6-octet UDH takes 7 septets); characters of the extension
  table take two septets (ESC + char) and are never split across parts.
- UCS-2: 70 UTF-16 code units in one message, 67 per part; a surrogate pair is never
  split across parts.
One Vietnamese letter outside GSM-7 (all but à è é ì ò ù É) makes the whole message
UCS-2, so text is NFC-normalized first and an unaccented variant is offered.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from gateway.vietnamese import strip_accents

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "\f^{}\\[~]|€"
_BASIC = set(GSM7_BASIC) - {"\x1b"}
_EXT = set(GSM7_EXTENSION)

SINGLE = {"gsm7": 160, "ucs2": 70}
PER_PART = {"gsm7": 153, "ucs2": 67}


@dataclass(frozen=True)
class SmsPlan:
    text: str
    encoding: str  # gsm7 | ucs2
    units: int  # septets (gsm7) or UTF-16 code units (ucs2)
    parts: list[str]

    @property
    def count(self) -> int:
        return len(self.parts)


def is_gsm7(text: str) -> bool:
    return all(ch in _BASIC or ch in _EXT for ch in text)


def _width(ch: str, encoding: str) -> int:
    if encoding == "gsm7":
        return 2 if ch in _EXT else 1
    return 2 if ord(ch) > 0xFFFF else 1  # a surrogate pair in UTF-16


def plan(text: str) -> SmsPlan:
    """Encoding, size and the exact parts of ``text`` (NFC-normalized first)."""
    text = unicodedata.normalize("NFC", text)
    encoding = "gsm7" if is_gsm7(text) else "ucs2"
    units = sum(_width(ch, encoding) for ch in text)
    if units <= SINGLE[encoding]:
        return SmsPlan(text, encoding, units, [text] if text else [])
    limit = PER_PART[encoding]
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for ch in text:
        width = _width(ch, encoding)
        if used + width > limit:
            parts.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += width
    if current:
        parts.append("".join(current))
    return SmsPlan(text, encoding, units, parts)


def cost_preview(text: str, recipients: int) -> dict[str, object]:
    """Parts x recipients for the text as written and for its unaccented variant."""
    accented, plain = plan(text), plan(strip_accents(text))
    return {
        "encoding": accented.encoding,
        "parts": accented.count,
        "total": accented.count * recipients,
        "unaccented": {
            "text": plain.text,
            "encoding": plain.encoding,
            "parts": plain.count,
            "total": plain.count * recipients,
        },
    }
