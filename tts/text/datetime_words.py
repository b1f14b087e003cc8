"""Spoken forms of dates, months, quarters and clock times ("ngày mười tháng tám năm ...")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tts.text.numbers import read_cardinal, read_month

if TYPE_CHECKING:
    from tts.text.rules import Options


def valid_date(day: str, month: str, year: str | None = None) -> bool:
    d, m = int(day), int(month)
    return 1 <= d <= 31 and 1 <= m <= 12 and (year is None or 1000 <= int(year) <= 2999)


def date_words(day: str, month: str, year: str | None, opts: Options) -> str:
    words = f"{read_cardinal(day)} tháng {read_month(month)}"
    if year:
        words += f" năm {read_cardinal(year, le=opts.le)}"
    return words


def month_or_quarter(noun: str, number: str) -> str:
    return read_cardinal(number) if noun.lower() == "quý" else read_month(number)


def time_words(hour: str, minute: str | None, second: str | None, suffix: str | None) -> str:
    h = int(hour)
    words = f"{read_cardinal(h)} giờ"
    if minute and int(minute):
        words += f" {read_cardinal(minute)} phút"
    if second and int(second):
        words += f" {read_cardinal(second)} giây"
    if suffix:
        s = suffix.lower().replace(".", "")
        if s in ("am", "sa"):
            words += " sáng"
        elif h == 12:
            words += " trưa"
        elif h <= 5 or (s == "ch" and h < 6):
            words += " chiều"
        else:
            words += " tối"
    return words
