"""Word-level data of the front-end: abbreviation, unit, document-code and loanword tables,
letter names for spelling, and a Vietnamese syllable check.

The tables are editable TSV files in ``tts/text/data/``; a deployment adds its own
pronunciation overrides on top (see :class:`tts.text.normalizer.Normalizer`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"

LETTER_NAMES = {
    "a": "a",
    "ă": "á",
    "â": "ớ",
    "b": "bê",
    "c": "xê",
    "d": "dê",
    "đ": "đê",
    "e": "e",
    "ê": "ê",
    "f": "ép",
    "g": "giê",
    "h": "hát",
    "i": "i",
    "j": "gi",
    "k": "ca",
    "l": "e lờ",
    "m": "em mờ",
    "n": "en nờ",
    "o": "o",
    "ô": "ô",
    "ơ": "ơ",
    "p": "pê",
    "q": "quy",
    "r": "e rờ",
    "s": "ét",
    "t": "tê",
    "u": "u",
    "ư": "ư",
    "v": "vê",
    "w": "vê kép",
    "x": "ích",
    "y": "i dài",
    "z": "dét",
}

VOWELS = "aàáảãạăằắẳẵặâầấẩẫậeèéẻẽẹêềếểễệiìíỉĩịoòóỏõọôồốổỗộơờớởỡợuùúủũụưừứửữựyỳýỷỹỵ"
VIETNAMESE_LETTERS = "bcdđghklmnpqrstvx" + VOWELS

_SYLLABLE = re.compile(
    r"(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|b|c|d|đ|g|h|k|l|m|n|p|r|s|t|v|x)?"
    rf"[{VOWELS}]{{1,3}}"
    r"(?:ch|ng|nh|c|m|n|p|t)?"
)


def is_vietnamese_syllable(word: str) -> bool:
    """True when ``word`` (any case) is spelled like one Vietnamese syllable."""
    lowered = unicodedata.normalize("NFC", word.lower())
    return _SYLLABLE.fullmatch(lowered) is not None


def spell(word: str) -> str:
    """Spell a token letter by letter with Vietnamese letter names; digits as digits."""
    from tts.text.numbers import DIGITS

    out: list[str] = []
    for ch in unicodedata.normalize("NFC", word.lower()):
        if ch in LETTER_NAMES:
            out.append(LETTER_NAMES[ch])
        elif ch in "0123456789":
            out.append(DIGITS[int(ch)])
        elif ch.isalpha():
            base = unicodedata.normalize("NFD", ch)[0]
            if base in LETTER_NAMES:
                out.append(LETTER_NAMES[base])
    return " ".join(out)


def read_table(path: Path, columns: int = 2) -> list[tuple[str, ...]]:
    """Rows of a TSV data file; '#' lines and blank lines are skipped.

    Raises ValueError naming the file, line and rule when a row is malformed.
    """
    rows: list[tuple[str, ...]] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = tuple(p.strip() for p in line.split("\t"))
        if len(parts) != columns or not all(parts):
            raise ValueError(
                f"{path.name}, dòng {number}: cần đúng {columns} cột cách nhau bằng TAB, không cột nào để trống"
            )
        rows.append(tuple(unicodedata.normalize("NFC", p) for p in parts))
    return rows


@dataclass(frozen=True)
class Lexicon:
    """All word tables the normalizer consults."""

    abbreviations: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    doc_types: dict[str, str] = field(default_factory=dict)
    doc_issuers: dict[str, str] = field(default_factory=dict)
    loanwords: dict[str, str] = field(default_factory=dict)


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    docs = read_table(DATA_DIR / "documents.tsv", columns=3)
    return Lexicon(
        abbreviations=dict(read_table(DATA_DIR / "abbreviations.tsv")),  # type: ignore[arg-type]
        units=dict(read_table(DATA_DIR / "units.tsv")),  # type: ignore[arg-type]
        doc_types={code: spoken for kind, code, spoken in docs if kind == "type"},
        doc_issuers={code: spoken for kind, code, spoken in docs if kind == "issuer"},
        loanwords={k.lower(): v for k, v in read_table(DATA_DIR / "loanwords.tsv")},
    )
