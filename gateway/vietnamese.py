"""Vietnamese without its diacritics: for SMS text and for matching what people type."""

from __future__ import annotations

import unicodedata


def strip_accents(text: str) -> str:
    """Vietnamese without diacritics (đ -> d by hand: it has no decomposition)."""
    text = unicodedata.normalize("NFC", text).replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn"))


def fold(text: str) -> str:
    """Lowercase without accents, spaces collapsed: for matching only ("Hòa  Bình" -> "hoa binh")."""
    return " ".join(strip_accents(text).lower().split())
