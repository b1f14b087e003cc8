"""Regex pieces shared by the rewrite rules."""

from __future__ import annotations

import re
from collections.abc import Iterable

D = "[0-9]"  # ASCII digits only: other numerals are read character by character at the end
WORD_CHARS = r"\wđĐ"


def alternation(keys: Iterable[str]) -> str:
    """Longest first, so "km/h" wins over "km" and "TT&TT" over "TT"."""
    return "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True))
