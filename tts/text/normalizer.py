"""Vietnamese text normalizer: written bulletin -> what the voice will say.

``Normalizer.normalize(text)`` returns the spoken form line by line (one output line per
input line, lowercase words, no digits). ``Normalizer.phrases(text)`` returns the same
words cut into phrases with the pause that follows each, which is what the voices
synthesize.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from tts.text import explain
from tts.text.lexicon import Lexicon, default_lexicon
from tts.text.numbers import DIGITS
from tts.text.patterns import alternation
from tts.text.rules import Options, RuleSet

# Pauses after a phrase, by the punctuation that ends it (milliseconds).
PAUSE_SENTENCE = 450
PAUSE_COLON = 300
PAUSE_CLAUSE = 180
PAUSE_PARAGRAPH = 700

_SENTENCE_END = ".!?…"
_CLAUSE_END = ",;:()–—"
_KEEP = set(_SENTENCE_END + _CLAUSE_END + "\n")
_SYMBOL_WORDS = {"&": " và ", "+": " cộng ", "=": " bằng ", "@": " a còng ", "§": " điều ", "№": " số "}
_DASHES = {"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2212": "-", "\u2013": "–", "\u2014": "—"}
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")


@dataclass(frozen=True)
class Phrase:
    """A run of spoken words and the silence that follows it."""

    text: str
    pause_ms: int
    sentence_end: bool


def load_overrides(path: Path) -> dict[str, str]:
    """Read a pronunciation override file: ``written<TAB>spoken[<TAB>class]`` per line.

    With a class (see :data:`tts.text.explain.CLASSES`, e.g. ``address``) the override applies
    only where that class of rule rewrote the token; the value keeps it as ``spoken<TAB>class``.
    """
    out: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        parts = [p.strip() for p in raw.split("\t")]
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"{path.name}, dòng {number}: cần 2 hoặc 3 cột cách nhau bằng TAB, không cột nào để trống")
        if len(parts) == 3 and parts[2] not in explain.CLASSES:
            raise ValueError(
                f"{path.name}, dòng {number}: loại '{parts[2]}' không có; dùng một trong {sorted(explain.CLASSES)}"
            )
        out[unicodedata.normalize("NFC", parts[0])] = "\t".join(parts[1:]).lower()
    return out


class Normalizer:
    """Rule-based normalizer with editable tables and per-deployment overrides."""

    def __init__(
        self,
        overrides: dict[str, str] | None = None,
        lexicon: Lexicon | None = None,
        le: bool = False,
    ) -> None:
        self.rules = RuleSet(lexicon or default_lexicon(), Options(le=le))
        self.overrides: dict[str, str] = {}
        # "spoken<TAB>class": only where that class of rule rewrote the written token.
        self.class_overrides: dict[tuple[str, str], str] = {}
        for k, v in (overrides or {}).items():
            written, spoken = unicodedata.normalize("NFC", k), unicodedata.normalize("NFC", v).lower()
            if not written.strip():
                continue
            if "\t" in spoken:
                spoken, cls = (p.strip() for p in spoken.split("\t", 1))
                self.class_overrides[(cls, explain.key(written))] = spoken
            else:
                self.overrides[written] = spoken
        self._override_re = (
            re.compile(r"(?i)(?<![\wđĐ])(" + alternation(self.overrides) + r")(?![\wđĐ])") if self.overrides else None
        )
        self._override_lookup = {k.lower(): v for k, v in self.overrides.items()}

    # ------------------------------------------------------------------------------
    def _apply_overrides(self, text: str) -> str:
        if self._override_re is None:
            return text
        return self._override_re.sub(lambda m: self._override_lookup[m[1].lower()], text)

    def _steps(self) -> list[explain.Step]:
        return [("override", self._apply_overrides), *((rule.__name__, rule) for rule in self.rules.ordered())]

    def expand(self, line: str) -> str:
        """Rewrite one line into spoken words, keeping pause punctuation."""
        text = _prepare(line)
        if self.class_overrides:
            return _clean(" ".join(run[1] for run in explain.runs(text, self._steps(), self.class_overrides)))
        for _, rule in self._steps():
            text = rule(text)
        return _clean(text)

    def explain(self, text: str) -> list[list[explain.Rewrite]]:
        """Per input line, the runs of spoken words with the written text and class that produced them."""
        return [
            explain.explain_text(_prepare(line), self._steps(), _clean, self.class_overrides)
            for line in text.split("\n")
        ]

    def normalize(self, text: str) -> str:
        """Spoken form of ``text``: one line per input line, words only."""
        lines = text.split("\n")
        out = []
        for line in lines:
            spoken = self.expand(line)
            words = re.sub(r"[^\w\s]", " ", spoken)
            out.append(" ".join(words.split()))
        return "\n".join(out)

    def phrases(self, text: str) -> list[Phrase]:
        """Phrases with pauses; empty phrases are folded into the previous pause."""
        phrases: list[Phrase] = []
        for paragraph in re.split(r"\n\s*\n|\n", text):
            spoken = self.expand(paragraph)
            for chunk, mark in re.findall(
                rf"([^{re.escape(_SENTENCE_END + _CLAUSE_END)}]*)([{re.escape(_SENTENCE_END + _CLAUSE_END)}]|$)", spoken
            ):
                words = " ".join(re.sub(r"[^\w\s]", " ", chunk).split())
                pause, end = _pause_for(mark)
                if not words:
                    if phrases and mark:
                        last = phrases[-1]
                        phrases[-1] = Phrase(last.text, max(last.pause_ms, pause), last.sentence_end or end)
                    continue
                phrases.append(Phrase(words, pause, end))
            if phrases:
                last = phrases[-1]
                phrases[-1] = Phrase(last.text, max(last.pause_ms, PAUSE_PARAGRAPH), True)
        return phrases


def _pause_for(mark: str) -> tuple[int, bool]:
    if mark in _SENTENCE_END and mark:
        return PAUSE_SENTENCE, True
    if mark in ":;":
        return PAUSE_COLON, False
    if mark:
        return PAUSE_CLAUSE, False
    return 0, False


def _prepare(line: str) -> str:
    text = unicodedata.normalize("NFC", line)
    text = "".join(_DASHES.get(ch, ch) for ch in text)
    text = text.replace("...", "…")
    text = _SPACES.sub(" ", text)
    # A spaced hyphen or dash between words is a pause, not a range.
    text = re.sub(r"(?<=[^\W\d_])\s+[-–—]\s+(?=[^\W\d_])", " – ", text)
    return text


def _clean(text: str) -> str:
    """Lowercase, read leftover numerals, turn symbols into words or drop them."""
    out: list[str] = []
    for ch in text:
        if ch in _SYMBOL_WORDS:
            out.append(_SYMBOL_WORDS[ch])
        elif ch in _KEEP:
            out.append(ch)
        elif ch.isnumeric():
            digit = unicodedata.digit(ch, None)
            out.append(f" {DIGITS[digit]} " if digit is not None else " ")
        elif ch.isalpha():
            out.append(ch.lower())
        elif ch.isspace():
            out.append(" ")
        elif ch in "-/.'’":
            out.append(" ")
        else:
            out.append(" ")
    cleaned = "".join(out)
    cleaned = re.sub(r"[^\w\s" + re.escape("".join(sorted(_KEEP - {"\n"}))) + r"]", " ", cleaned)
    cleaned = re.sub(r"_+", " ", cleaned)
    cleaned = unicodedata.normalize("NFC", cleaned)
    return " ".join(cleaned.split())


_default: Normalizer | None = None


def normalize(text: str) -> str:
    """Module-level convenience using the default tables."""
    global _default
    if _default is None:
        _default = Normalizer()
    return _default.normalize(text)
