"""Rewrite rules that turn written Vietnamese into its spoken form, one regex each.

Each rule rewrites one kind of non-standard word (document code, phone number, date,
time, range, Roman numeral, number with unit, abbreviation...) into lowercase spoken
words. Rules run in a fixed order (see :meth:`RuleSet.ordered`); the output of a rule has
no digits and no uppercase letters, so later rules never re-read it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from tts.text.codes import CodeRules
from tts.text.context import ContextRules
from tts.text.datetime_words import date_words, month_or_quarter, time_words, valid_date
from tts.text.lexicon import Lexicon, is_vietnamese_syllable, spell
from tts.text.numbers import (
    read_cardinal,
    read_decimal,
    read_digits,
    read_month,
    read_ordinal,
    roman_to_int,
)
from tts.text.patterns import WORD_CHARS, D, alternation
from tts.text.symbols import SymbolRules

NUMBER = rf"{D}{{1,3}}(?:\.{D}{{3}})+(?:,{D}+)?|{D}+,{D}+|{D}+\.{D}{{1,2}}(?![0-9.])|{D}+"


@dataclass(frozen=True)
class Options:
    """Reading policy switches."""

    le: bool = False  # "lẻ" instead of "linh" for a zero tens digit (105)


def read_number_token(token: str, opts: Options) -> str:
    """Read a written number: "8.700", "2,5", "12.5", "06"."""
    if "," in token:
        integer, fraction = token.split(",", 1)
        return read_decimal(integer.replace(".", ""), fraction, le=opts.le)
    if re.fullmatch(rf"{D}{{1,3}}(?:\.{D}{{3}})+", token):
        return read_cardinal(token.replace(".", ""), le=opts.le)
    if "." in token:
        integer, fraction = token.split(".", 1)
        return read_decimal(integer, fraction, le=opts.le)
    return read_cardinal(token, le=opts.le)


Rule = Callable[[str], str]


class RuleSet:
    """The ordered rewrite rules, built once per lexicon and options."""

    def __init__(self, lexicon: Lexicon, opts: Options) -> None:
        self.lex = lexicon
        self.opts = opts
        units = alternation([*lexicon.units, "%", "đ", "₫", "VNĐ", "VND", "vnđ", "USD"])
        self._unit_words = dict(lexicon.units)
        self._unit_words.update(
            {"%": "phần trăm", "đ": "đồng", "₫": "đồng", "VNĐ": "đồng", "VND": "đồng", "vnđ": "đồng", "USD": "đô la mỹ"}
        )
        self._number_unit = re.compile(
            rf"(?<![{WORD_CHARS}.,])(-)?({NUMBER})(?:\s?({units})(?![{WORD_CHARS}]))?"
            rf"(?:/({units})(?![{WORD_CHARS}]))?"
        )
        self._scale_unit = re.compile(rf"(?<![{WORD_CHARS}])(nghìn|ngàn|triệu|tỷ|trăm)\s+({units})(?![{WORD_CHARS}])")
        self._per_unit = re.compile(rf"(?<=[{WORD_CHARS}])/({units})(?![{WORD_CHARS}])")
        abbr = alternation(lexicon.abbreviations)
        self._abbr = re.compile(rf"(?<![{WORD_CHARS}&])({abbr})(\.(?=\s+[A-ZĐ]))?(?![{WORD_CHARS}&])")
        self._loanwords = (
            re.compile(rf"(?i)(?<![{WORD_CHARS}])({alternation(lexicon.loanwords)})(?![{WORD_CHARS}])")
            if lexicon.loanwords
            else None
        )
        self._codes = CodeRules(lexicon, opts)
        self._context = ContextRules()
        self._symbols = SymbolRules()

    # --- dates ----------------------------------------------------------------------
    _full_date = re.compile(r"(?<![0-9/.-])([0-9]{1,2})([/.-])([0-9]{1,2})\2([0-9]{4})(?![0-9]|[/.-][0-9])")
    _date_range = re.compile(
        r"(?<![0-9/.,-])([0-9]{1,2})\s*[-–]\s*([0-9]{1,2})([/.])([0-9]{1,2})(?:\3([0-9]{4}))?(?![0-9]|[/.][0-9])"
    )
    _cued_day_month = re.compile(
        r"(?i)(?:(ngày|hôm|mùng|mồng|\()\s*([0-9]{1,2})[/-]([0-9]{1,2})"
        r"|((?:sáng|trưa|chiều|tối|đêm)(?:\s+(?:mai|nay|qua))?|từ|đến|tới|và|trước|hạn|hết)\s+([0-9]{1,2})/([0-9]{1,2}))"
        r"(?![0-9]|[/.,][0-9])"
    )
    _padded_day_month = re.compile(r"(?<![0-9/.,-])(0[1-9])-([0-9]{1,2})(?![0-9]|[/.,-][0-9])")
    _month_year = re.compile(r"(?i)(tháng|quý)\s+([0-9]{1,2})[/.-]([0-9]{4})(?![0-9])")
    _month = re.compile(r"(?i)(tháng)\s+(0?[1-9]|1[0-2])(?![0-9]|[.,/][0-9])")

    def dates(self, text: str) -> str:
        o = self.opts

        def full(m: re.Match[str]) -> str:
            if not valid_date(m[1], m[3], m[4]):
                return m[0]
            return date_words(m[1], m[3], m[4], o)

        def drange(m: re.Match[str]) -> str:
            if not (valid_date(m[1], m[4], m[5]) and valid_date(m[2], m[4])):
                return m[0]
            return f"{read_cardinal(m[1])} đến {date_words(m[2], m[4], m[5], o)}"

        def cued(m: re.Match[str]) -> str:
            cue, day, month = (m[1], m[2], m[3]) if m[1] else (m[4], m[5], m[6])
            if not valid_date(day, month):
                return m[0]
            sep = "" if cue == "(" else " "
            return f"{cue}{sep}{date_words(day, month, None, o)}"

        text = self._full_date.sub(full, text)
        text = self._date_range.sub(drange, text)
        text = self._cued_day_month.sub(cued, text)
        text = self._padded_day_month.sub(
            lambda m: date_words(m[1], m[2], None, o) if valid_date(m[1], m[2]) else m[0], text
        )
        text = self._month_year.sub(
            lambda m: (
                f"{m[1]} {month_or_quarter(m[1], m[2])} năm {read_cardinal(m[3], le=o.le)}"
                if 1 <= int(m[2]) <= (4 if m[1].lower() == "quý" else 12)
                else m[0]
            ),
            text,
        )
        return self._month.sub(lambda m: f"{m[1]} {read_month(m[2])}", text)

    # --- ranges and times -----------------------------------------------------------
    _range_dash = re.compile(r"(?<=[0-9%h'])\s*[-–—]\s*(?=[0-9])")
    _clock = re.compile(
        r"(?<![0-9:.,])([01]?[0-9]|2[0-4]):([0-5][0-9])(?::([0-5][0-9]))?(?![0-9:])"
        r"(?:\s*(AM|PM|am|pm|a\.m\.|p\.m\.|SA|CH)(?![\w]))?"
    )
    _h_time = re.compile(r"(?<![\w.,])([01]?[0-9]|2[0-4])\s?h\s?([0-5][0-9])?(?:'|p(?![\w])|ph(?![\w]))?(?![\w])")

    def ranges(self, text: str) -> str:
        return self._range_dash.sub(" đến ", text)

    def times(self, text: str) -> str:
        text = self._clock.sub(lambda m: time_words(m[1], m[2], m[3], m[4]), text)
        return self._h_time.sub(lambda m: time_words(m[1], m[2], None, None), text)

    # --- Roman numerals and ordinals ------------------------------------------------
    _roman = re.compile(
        r"(?i:\b(thứ|khóa|khoá|kỳ|kì|kỷ|kỉ|quý|lần|phần|chương|mục|đại hội|hội nghị|giai đoạn"
        r"|phiên|tập|cấp|loại|nhóm|vùng|quân khu|khu vực|khu|đợt|tiểu mục|hạng|bậc|lớp|điều|tiểu khu|đoàn|tiểu ban|ban"
        r"|tiểu đoàn|trung đoàn|sư đoàn|quân đoàn|lữ đoàn))"
        r"\s+([IVXLCDM]{1,7})(?![\wđĐ])(?:/([0-9]{4})(?![0-9]))?((?:\s*(?:,|và|hoặc|đến|tới|-|–)\s*[IVXLCDM]{1,7}(?![\wđĐ]))*)"
    )
    _roman_next = re.compile(r"[IVXLCDM]{1,7}")
    _ordinal = re.compile(r"(?i:\b(thứ))\s+([0-9]{1,3})(?![0-9]|[.,/:][0-9])")

    def roman(self, text: str) -> str:
        def sub(m: re.Match[str]) -> str:
            value = roman_to_int(m[2])
            if value is None:
                return m[0]
            spoken = read_ordinal(value) if m[1].lower() == "thứ" else read_cardinal(value)
            year = f" năm {read_cardinal(m[3], le=self.opts.le)}" if m[3] else ""
            # A list after the noun ("nhóm I và II", "khu vực I, II, III") reads every item.
            more = self._roman_next.sub(lambda r: read_cardinal(roman_to_int(r[0]) or 0), m[4] or "")
            more = more.replace("-", " đến ").replace("–", " đến ")
            return f"{m[1]} {spoken}{year}{more}"

        return self._roman.sub(sub, text)

    def ordinals(self, text: str) -> str:
        return self._ordinal.sub(lambda m: f"{m[1]} {read_ordinal(m[2])}", text)

    # --- ratios, numbers, units -----------------------------------------------------
    _ratio = re.compile(r"(?<![0-9/.,])([0-9]+)/([0-9]+)(?![0-9]|/[0-9])")
    _mixed = re.compile(r"(?<![\wđĐ])(?=[\wđĐ]*[0-9])(?=[\wđĐ]*[^\W\d_])[\wđĐ]+(?![\wđĐ])")
    _currency_prefix = re.compile(rf"\$\s?({NUMBER})")

    def ratios(self, text: str) -> str:
        return self._ratio.sub(lambda m: f"{read_cardinal(m[1])} trên {read_cardinal(m[2])}", text)

    def numbers(self, text: str) -> str:
        o = self.opts

        def sub(m: re.Match[str]) -> str:
            words = read_number_token(m[2], o)
            if m[1]:
                words = "âm " + words
            if m[3]:
                words += " " + self._unit_words[m[3]]
            if m[4]:
                words += " trên " + self._unit_words[m[4]]
            return words

        text = self._currency_prefix.sub(lambda m: read_number_token(m[1], o) + " đô la", text)
        text = self._mixed.sub(self._mixed_token, text)
        text = self._number_unit.sub(sub, text)
        text = self._scale_unit.sub(lambda m: f"{m[1]} {self._unit_words[m[2]]}", text)
        return self._per_unit.sub(lambda m: " trên " + self._unit_words[m[1]], text)

    def _mixed_token(self, m: re.Match[str]) -> str:
        """Tokens mixing letters and digits (U23, H5N1, 5G): letters spelled, digits read."""
        token = m[0]
        glued = re.fullmatch(r"[0-9.,]+(.+)", token)
        if (glued and glued[1] in self._unit_words) or token in self._unit_words:
            return token  # a unit ("m3") or a number with a glued unit ("500m2"): the number rule reads it
        out = []
        for part in re.findall(r"[0-9]+|[^\W\d_]+", token):
            if part[0] in "0123456789":
                out.append(read_cardinal(part) if len(part) <= 4 else read_digits(part))
            else:
                out.append(self.lex.abbreviations.get(part) or (spell(part) if len(part) == 1 else self._word(part)))
        return " ".join(out)

    # --- abbreviations and words ----------------------------------------------------
    def abbreviations(self, text: str) -> str:
        return self._abbr.sub(lambda m: self.lex.abbreviations[m[1]], text)

    _upper_word = re.compile(r"(?<![\wđĐ])[A-ZĐ][A-ZĐÀ-Ỹ]*(?![\wđĐ])")

    def _word(self, word: str) -> str:
        if word.isupper() and len(word) >= 2 and not is_vietnamese_syllable(word):
            return spell(word) if len(word) <= 5 else word.lower()
        return word.lower()

    def upper_words(self, text: str) -> str:
        def sub(m: re.Match[str]) -> str:
            word = m[0]
            if len(word) == 1:
                # A lone capital is a letter ("đội B", "độ C", "Nguyễn Văn H."), unless it is a
                # word by itself ("Sở Y tế", "nhóm A"): vowels are read as written.
                return word.lower() if is_vietnamese_syllable(word) else spell(word)
            if not word.isupper():
                return word
            return self._word(word)

        return self._upper_word.sub(sub, text)

    def loanwords(self, text: str) -> str:
        if self._loanwords is None:
            return text
        return self._loanwords.sub(lambda m: self.lex.loanwords[m[1].lower()], text)

    def rates(self, text: str) -> str:
        return self._context.rates(text, self._unit_words)

    def ordered(self) -> list[Rule]:
        c, s = self._context, self._symbols
        return [
            c.web,
            s.tags,
            s.signs,
            c.identifiers,
            self._codes.document_codes,
            c.service_numbers,
            self._codes.phones,
            c.long_digits,
            c.plates,
            c.scores,
            c.addresses,
            self.rates,
            self.dates,
            s.versions,
            s.coordinates,
            c.fractions,
            self.ranges,
            self.times,
            s.colon_ratios,
            self.roman,
            self.ordinals,
            self.ratios,
            self.numbers,
            self.abbreviations,
            self.loanwords,
            self.upper_words,
        ]
