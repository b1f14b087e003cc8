"""Rules for codes a listener must follow: legal document numbers and phone numbers.

Document codes ("<number>[/<year>]/<TYPE>-<ISSUER>", "<number>-<TYPE>/<ISSUER>") are read
"<type> số <number> [năm <year>] của <issuer>": the type is left out when the text has
just said it, the issuer when the text names it right after. Phone numbers are read
digit by digit.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tts.text.lexicon import Lexicon, spell
from tts.text.numbers import read_cardinal, read_digits
from tts.text.patterns import WORD_CHARS, D, alternation

if TYPE_CHECKING:
    from tts.text.rules import Options


class CodeRules:
    def __init__(self, lexicon: Lexicon, opts: Options) -> None:
        self.lex = lexicon
        self.opts = opts
        types = alternation(lexicon.doc_types)
        self._doc_a = re.compile(
            rf"(?<![{WORD_CHARS}/])({D}+)(?:/({D}{{4}}))?/({types})-([A-ZĐƯ][A-Za-zĐđƯ&]*(?:-[A-ZĐ][A-Za-zĐđ&]*)*)"
            rf"(?![{WORD_CHARS}])"
        )
        self._doc_b = re.compile(rf"(?<![{WORD_CHARS}/])({D}+)-({types})/([A-ZĐƯ][A-Za-zĐđƯ&]*)(?![{WORD_CHARS}])")

    # --- document codes -------------------------------------------------------------
    def _issuer_words(self, issuer: str) -> str:
        parts = [p for p in issuer.split("-") if p]
        return " ".join(self.lex.doc_issuers.get(p) or self.lex.abbreviations.get(p) or spell(p) for p in parts)

    def _doc_words(self, before: str, after: str, number: str, year: str | None, kind: str, issuer: str) -> str:
        type_words = self.lex.doc_types[kind]
        tail = before[-60:].lower()
        said_so = re.search(r"số\s*$", tail) is not None
        type_said = re.search(rf"{re.escape(type_words)}\s+(?:số\s*)?$", tail) is not None
        body = read_cardinal(number, le=self.opts.le)
        if year:
            body += f" năm {read_cardinal(year, le=self.opts.le)}"
        issuer_words = self._issuer_words(issuer)
        # The text often names the issuer right after the code ("... ngày 20/01/2020 của
        # Thủ tướng Chính phủ"): do not say it twice.
        said_issuer = f"(?:{re.escape(issuer_words)}|{re.escape(issuer.lower())})"
        named_after = re.match(rf"(?:\s*,?\s*ngày [0-9/.\s-]+)?\s*,?\s*của {said_issuer}(?![\w])", after[:120].lower())
        if named_after:
            if type_said:
                return body
            return f"{body} {type_words}" if said_so else f"{type_words} số {body}"
        if type_said or said_so:
            return f"{body} của {issuer_words}" if type_said else f"{body} {type_words} của {issuer_words}"
        return f"{type_words} số {body} của {issuer_words}"

    def document_codes(self, text: str) -> str:
        text = self._doc_a.sub(
            lambda m: self._doc_words(m.string[: m.start()], m.string[m.end() :], m[1], m[2], m[3], m[4]), text
        )
        return self._doc_b.sub(
            lambda m: self._doc_words(m.string[: m.start()], m.string[m.end() :], m[1], None, m[2], m[3]), text
        )

    # --- phone numbers --------------------------------------------------------------
    _phone = re.compile(r"(?<![\w+.,])(\+84|0084|0)((?:[ .-]?[0-9]){8,10})(?![\w.,]?[0-9])")
    _service = re.compile(r"(?<![\w.,])(1[89]00)((?:[ .]?[0-9]){4,6})(?![\w]|[.,][0-9])")
    _cued = re.compile(
        r"(?i)((?:số điện thoại|điện thoại|đường dây nóng|hotline|tổng đài|số máy|gọi(?: số| đến số| tới số)?"
        r"|sđt|đt|tel)\s*:?\s*)(\(?[0-9](?:\)?[ .-]?[0-9]){1,14})(?![0-9])"
    )
    _law = re.compile(r"(?<![\w/])([0-9]{1,4})/([0-9]{4})/QH([0-9]{1,2})(?![\w])")
    _area = re.compile(r"(?<![\w])\((0[0-9]{2,3})\)\s?([0-9]{3,4}(?:[ .][0-9]{3,4}){1,2})(?![\w]|[.,][0-9])")

    def phones(self, text: str) -> str:
        def phone(m: re.Match[str]) -> str:
            prefix = "cộng tám bốn" if m[1] in ("+84", "0084") else "không"
            return f"{prefix} {read_digits(m[2])}"

        text = self._law.sub(
            lambda m: f"{read_cardinal(m[1])} năm {read_cardinal(m[2])} quốc hội khóa {read_cardinal(m[3])}", text
        )
        text = self._area.sub(lambda m: read_digits(m[1] + m[2]), text)
        text = self._cued.sub(lambda m: m[1] + read_digits(m[2]), text)
        text = self._phone.sub(phone, text)
        return self._service.sub(lambda m: read_digits(m[1] + m[2]), text)
