"""vietTTS's graphemic token inventory and its text-to-token rule.

Ids 0-3 are ``sil``, ``sp``, ``spn`` and the word-end token; ids 4-92 are the 89
lowercase NFC letters of vietTTS (no f, j, w, z). Unlike vietTTS, a letter outside the
inventory never raises: it is dropped, as vietTTS already does for words missing from
its lexicon (vietTTS crashes on lexicon entries such as "brown").
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import numpy as np
import numpy.typing as npt

SPECIAL = ("sil", "sp", "spn", " ")
LETTERS = tuple(
    "a b c d e g h i k l m n o p q r s t u v x y à á â ã è é ê ì í ò ó ô õ ù ú ý ă đ ĩ ũ ơ ư ạ ả ấ ầ ẩ ẫ ậ "
    "ắ ằ ẳ ẵ ặ ẹ ẻ ẽ ế ề ể ễ ệ ỉ ị ọ ỏ ố ồ ổ ỗ ộ ớ ờ ở ỡ ợ ụ ủ ứ ừ ử ữ ự ỳ ỵ ỷ ỹ".split()
)
SYMBOLS = SPECIAL + LETTERS
SIL = 0
WORD_END = 3
_INDEX = {s: i for i, s in enumerate(SYMBOLS)}


def load_lexicon(path: Path) -> dict[str, list[str]]:
    """vietTTS lexicon: ``word<TAB> p1 p2 ...`` per line (lowercased, as vietTTS does)."""
    lexicon: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if "\t" not in line:
            continue
        word, phones = line.lower().strip().split("\t", 1)
        lexicon[unicodedata.normalize("NFC", word.strip())] = phones.split()
    return lexicon


def text_to_tokens(text: str, lexicon: dict[str, list[str]]) -> npt.NDArray[np.int64]:
    """vietTTS ``text2tokens``: sil, per word its letters + word end, sil."""
    tokens = [SIL]
    for word in unicodedata.normalize("NFC", text).strip().lower().split():
        if word in SPECIAL:
            tokens.append(_INDEX[word])
            continue
        phones = lexicon.get(word, list(word))
        tokens.extend(_INDEX[p] for p in phones if p in _INDEX and p not in SPECIAL)
        tokens.append(WORD_END)
    tokens.append(SIL)
    return np.asarray(tokens, dtype=np.int64)
