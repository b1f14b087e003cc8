"""Vietnamese phone numbers in E.164 (+84...), from what people type.

Accepts 0xxx, 84xxx, +84xxx and the old 11-digit mobile numbers, which are mapped to
their 10-digit replacements (the 2018 renumbering: 0162 -> 032, 0120 -> 070, ...).
"""

from __future__ import annotations

import re
from typing import Any

import phonenumbers

from gateway.bulletins.errors import WorkflowError

# Old 11-digit mobile prefixes (after the leading 0) -> new 10-digit prefixes (2018).
OLD_PREFIXES = {
    "162": "32",
    "163": "33",
    "164": "34",
    "165": "35",
    "166": "36",
    "167": "37",
    "168": "38",
    "169": "39",
    "120": "70",
    "121": "79",
    "122": "77",
    "126": "76",
    "128": "78",
    "123": "83",
    "124": "84",
    "125": "85",
    "127": "81",
    "129": "82",
    "186": "56",
    "188": "58",
    "199": "59",
}


def to_e164(raw: str, field: str = "phone") -> str:
    digits = "".join(ch for ch in raw if ch.isdigit() or ch == "+")
    if not digits:
        raise WorkflowError(field, "số điện thoại trống", 422)
    national = digits
    if national.startswith("+84"):
        national = national[3:]
    elif national.startswith("84") and len(national) >= 11:
        national = national[2:]
    elif national.startswith("0"):
        national = national[1:]
    elif national.startswith("+"):
        raise WorkflowError(field, f"'{raw}' không phải số Việt Nam (+84)", 422)
    if len(national) == 10 and national[:3] in OLD_PREFIXES:
        national = OLD_PREFIXES[national[:3]] + national[3:]
    try:
        number = phonenumbers.parse("+84" + national, None)
    except phonenumbers.NumberParseException as exc:
        raise WorkflowError(field, f"'{raw}' không phải số điện thoại hợp lệ", 422) from exc
    if not phonenumbers.is_valid_number(number):
        raise WorkflowError(field, f"'{raw}' không phải số điện thoại Việt Nam hợp lệ", 422)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def masked(e164: str) -> str:
    """+84912345678 -> +8491****678, for roles that need not see the number."""
    return e164[:5] + "*" * max(0, len(e164) - 8) + e164[-3:] if len(e164) > 8 else e164


# A Vietnamese number inside free text: +84…, 84… or 0… followed by 9-10 digits.
_IN_TEXT = re.compile(r"(?<![\d+])(\+?84|0)(\d{9,10})(?!\d)")


def mask_text(text: str) -> str:
    """Every phone number in ``text`` masked like ``masked`` (+8491****678, 091****678)."""
    return _IN_TEXT.sub(lambda m: m[1] + m[2][:2] + "*" * (len(m[2]) - 5) + m[2][-3:], text)


def mask_all(value: Any) -> Any:
    """``mask_text`` through strings, lists and dicts (an audit entry's detail)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_all(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_all(v) for v in value]
    return value


def hides_numbers(role: str) -> bool:
    """Operators run deliveries and see numbers masked; other roles see them whole."""
    return role == "operator"
