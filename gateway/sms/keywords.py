"""The inbound keyword router: what a resident's text message asks for.

Keywords are matched without accents and case (residents type "pa", "Pa", "PÁ"...):
  PA <nội dung>      feedback -> a case, auto-reply with its ticket code
  TIN                the latest bulletin's SMS text for the sender's area
  DK <xã/phường>     subscribe to an area
  HUY | TUCHOI       opt out (a confirmation is sent)
  TT <mã>            the status of a case
Anything else is feedback too: every message from a resident is filed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from gateway.vietnamese import fold

KEYWORDS = {
    "pa": "feedback",
    "tin": "news",
    "dk": "subscribe",
    "huy": "optout",
    "tuchoi": "optout",
    "tu choi": "optout",
    "tt": "status",
}


@dataclass(frozen=True)
class Command:
    kind: str  # feedback | news | subscribe | optout | status
    argument: str  # the rest of the message, as the resident wrote it


def _fold_chars(text: str) -> str:
    """Fold character by character (same length as ``text``), so a match maps back."""
    return "".join(" " if ch.isspace() else (fold(ch)[:1] or "?") for ch in text)


def parse(text: str) -> Command:
    original = unicodedata.normalize("NFC", text).strip()
    folded = _fold_chars(original)
    for keyword in sorted(KEYWORDS, key=len, reverse=True):
        match = re.match(rf"{re.escape(keyword)}(?:[\s:.,\-]+|$)", folded)
        if match:
            kind, rest = KEYWORDS[keyword], original[match.end() :].strip()
            # Words that are also ordinary Vietnamese ("tin tức...", the name Huy) count as
            # keywords only when sent alone; TT needs something that looks like a code.
            if kind in ("news", "optout") and rest:
                break
            if kind == "status" and rest and sum(ch.isdigit() for ch in rest) < 6:
                break
            if kind == "feedback" and not rest:
                break
            return Command(kind, rest)
    return Command("feedback", original)
