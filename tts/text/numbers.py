"""Vietnamese number reading: cardinals, digit strings, decimals, ordinals, Roman numerals.

Rules (as a Vietnamese announcer reads them):
- 10-19: "mười", "mười một" ... "mười lăm"; "mốt" and "tư" only after "mươi" (21, 24),
  "lăm" after "mười"/"mươi" (15, 25); 104 is "một trăm linh bốn".
- A zero tens digit inside a group is "linh" (or "lẻ" when ``le=True``); an empty
  hundreds digit in a non-leading group is "không trăm" (1005, 2021).
- Groups of three digits take nghìn, triệu, tỷ; all-zero groups are skipped.
"""

from __future__ import annotations

DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
_SCALES = ("", "nghìn", "triệu", "tỷ")
_MAX_CARDINAL_DIGITS = 15


def read_digits(digits: str) -> str:
    """Read a string of digits one by one ("0912" -> "không chín một hai")."""
    return " ".join(DIGITS[int(d)] for d in digits if d in "0123456789")


def _read_tens_units(tens: int, units: int, after_hundreds: bool, le: bool) -> list[str]:
    words: list[str] = []
    if tens == 0:
        if units == 0:
            return words
        if after_hundreds:
            words.append("lẻ" if le else "linh")
        words.append(DIGITS[units])
        return words
    if tens == 1:
        words.append("mười")
        if units == 5:
            words.append("lăm")
        elif units:
            words.append(DIGITS[units])
        return words
    words += [DIGITS[tens], "mươi"]
    if units == 1:
        words.append("mốt")
    elif units == 4:
        words.append("tư")
    elif units == 5:
        words.append("lăm")
    elif units:
        words.append(DIGITS[units])
    return words


def _read_group(value: int, leading: bool, le: bool) -> list[str]:
    hundreds, rest = divmod(value, 100)
    tens, units = divmod(rest, 10)
    words: list[str] = []
    if hundreds or not leading:
        words += [DIGITS[hundreds], "trăm"]
    words += _read_tens_units(tens, units, after_hundreds=bool(words), le=le)
    return words


def read_cardinal(number: int | str, le: bool = False) -> str:
    """Read a non-negative integer; very long digit strings are read digit by digit."""
    text = str(number).lstrip("0") or "0"
    if len(text) > _MAX_CARDINAL_DIGITS:
        return read_digits(text)
    value = int(text)
    if value == 0:
        return DIGITS[0]
    groups: list[int] = []
    while value:
        value, group = divmod(value, 1000)
        groups.append(group)
    words: list[str] = []
    top = len(groups) - 1
    for index in range(top, -1, -1):
        group = groups[index]
        if group == 0:
            continue
        words += _read_group(group, leading=index == top, le=le)
        words += _scale_words(index)
    return " ".join(words)


def _scale_words(index: int) -> list[str]:
    """Scale word for group ``index`` (0 = units): nghìn, triệu, tỷ, nghìn tỷ, ..."""
    if index == 0:
        return []
    tys, rem = divmod(index, 3)
    words = [_SCALES[rem]] if rem else []
    return words + ["tỷ"] * tys


def read_decimal(integer: str, fraction: str, le: bool = False) -> str:
    """Read "2,5" as "hai phẩy năm"; leading zeros of the fraction are read as "không".

    Fractions of up to three digits are read as a number after their leading zeros
    ("7,27" -> "bảy phẩy hai mươi bảy"); longer ones digit by digit.
    """
    head = read_cardinal(integer or "0", le=le)
    if len(fraction) > 3:
        return f"{head} phẩy {read_digits(fraction)}"
    stripped = fraction.lstrip("0")
    zeros = ["không"] * (len(fraction) - len(stripped))
    tail = zeros + ([read_cardinal(stripped, le=le)] if stripped else [])
    return f"{head} phẩy {' '.join(tail)}"


def read_ordinal(number: int | str) -> str:
    """Ordinal after "thứ": 1 -> "nhất", 4 -> "tư", others as cardinals."""
    value = int(str(number))
    if value == 1:
        return "nhất"
    if value == 4:
        return "tư"
    return read_cardinal(value)


def read_month(number: int | str) -> str:
    """Month names after "tháng": 4 -> "tư", others as cardinals ("tháng một" ... "tháng mười hai")."""
    value = int(str(number))
    return "tư" if value == 4 else read_cardinal(value)


_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


def roman_to_int(text: str) -> int | None:
    """Value of a canonical Roman numeral (I..MMMCMXCIX), or None if ``text`` is not one."""
    if not text or any(ch not in _ROMAN for ch in text):
        return None
    total = 0
    for current, following in zip(text, text[1:] + " ", strict=True):
        value = _ROMAN[current]
        if following != " " and _ROMAN[following] > value:
            total -= value
        else:
            total += value
    if total <= 0 or int_to_roman(total) != text:
        return None
    return total


def int_to_roman(value: int) -> str:
    pairs = (
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    )
    out = []
    for amount, letters in pairs:
        while value >= amount:
            out.append(letters)
            value -= amount
    return "".join(out)
