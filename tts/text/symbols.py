"""Rules for symbols, hashtags, version numbers and coordinates.

- ``#PhòngChốngBão`` and ``@UBNDXaPhuHoa`` are split at their capitals and underscores,
  so their words are read as words (the ``#`` is not read, the ``@`` is "a còng").
- Comparison and arrow signs become words (≥ "lớn hơn hoặc bằng", ↑ "tăng", → "đến"),
  "~" before a number is "khoảng", "45k" is "bốn mươi lăm nghìn", "4★" is "bốn sao".
- A version number ("phiên bản 2.1.3", "iOS 17.4", "4.0") is read with "chấm".
- A coordinate in degrees and minutes ("10°30'N") is "mười độ ba mươi phút vĩ bắc".
"""

from __future__ import annotations

import re

from tts.text.numbers import read_cardinal

_TAG = re.compile(r"(?<![\w#@])([#@])([^\W_][\w]{0,80})")

_SIGNS = {
    "≥": " lớn hơn hoặc bằng ",
    "≤": " nhỏ hơn hoặc bằng ",
    "±": " cộng trừ ",
    "×": " nhân ",
    "↑": " tăng ",
    "↓": " giảm ",
    "→": " đến ",
    "⇒": " suy ra ",
}
_SIGN_RE = re.compile("|".join(re.escape(k) for k in _SIGNS))
_LESS_MORE = re.compile(r"(?<=[\w\s])([<>])\s*(?=-?[0-9])")
_ABOUT = re.compile(r"(?i)(khoảng\s*|chừng\s*|gần\s*)?(?<![\w~])~\s*(?=[0-9])")
_COLON_RATIO = re.compile(r"(?<![\w.,:])([0-9]{1,3}):([0-9]{1,7})(?![\w:]|[.,][0-9])")
_THOUSAND = re.compile(r"(?<![\w.,])([0-9]{1,3}(?:[.,][0-9])?)k(?![\w])")
_STARS = re.compile(r"(?<![\w.,])([1-5])\s?[★⭐]")

_VERSION_CUE = (
    r"phiên bản|bản cập nhật|bản|version|ver\.?|v|ios|android|windows|firmware|công nghiệp|nông nghiệp"
    r"|điện tử|chính phủ điện tử|thời|web|chuẩn|ipados|macos|zalo|vneid|python|html"
)
_VERSION_CUED = re.compile(
    rf"(?i)(?<![\w])((?:{_VERSION_CUE})\s?)([0-9]{{1,3}}(?:\.[0-9]{{1,3}}){{1,3}})(?![\w]|[.,][0-9])"
)
# Three parts or more with a part that is not a thousands group (2.1.3, 10.2.1): a version.
_VERSION_BARE = re.compile(r"(?<![\w.,])([0-9]{1,3}\.[0-9]{1,2}(?:\.[0-9]{1,3})+)(?![\w]|[.,][0-9])")
_POINT_ZERO = re.compile(r"(?<![\w.,])([0-9]{1,2})\.0(?![\w]|[.,][0-9])")

_DIRECTIONS = {"N": "vĩ bắc", "B": "vĩ bắc", "S": "vĩ nam", "E": "kinh đông", "Đ": "kinh đông", "W": "kinh tây"}
_DMS = re.compile(
    r"(?<![\w.,])([0-9]{1,3})°\s?([0-9]{1,2})['′](?:\s?([0-9]{1,2}(?:,[0-9]+)?)[\"″])?\s?([NBSEĐW])(?![\w])"
)


def split_camel(word: str) -> str:
    """ "PhòngChốngBão" -> "Phòng Chống Bão", "UBNDXaPhuHoa" -> "UBND Xa Phu Hoa"."""
    out: list[str] = []
    for i, ch in enumerate(word):
        if i and ch.isupper():
            prev, nxt = word[i - 1], word[i + 1] if i + 1 < len(word) else ""
            if prev.islower() or (prev.isupper() and nxt.islower()):
                out.append(" ")
        out.append(ch)
    return "".join(out)


def _split_tag(m: re.Match[str]) -> str:
    words = split_camel(m[2].replace("_", " "))
    return (" a còng " if m[1] == "@" else " ") + words + " "


def _version(number: str) -> str:
    return " chấm ".join(read_cardinal(part) for part in number.split("."))


class SymbolRules:
    def tags(self, text: str) -> str:
        return _TAG.sub(_split_tag, text)

    def signs(self, text: str) -> str:
        text = _SIGN_RE.sub(lambda m: _SIGNS[m[0]], text)
        text = _LESS_MORE.sub(lambda m: " dưới " if m[1] == "<" else " trên ", text)
        text = _ABOUT.sub(lambda m: m[1] or " khoảng ", text)
        text = _THOUSAND.sub(lambda m: f"{m[1]} nghìn", text)
        return _STARS.sub(lambda m: f"{m[1]} sao", text)

    def colon_ratios(self, text: str) -> str:
        """After the clock rule: "1:500" (a map scale, a ratio) is "một trên năm trăm"."""
        return _COLON_RATIO.sub(lambda m: f"{read_cardinal(m[1])} trên {read_cardinal(m[2])}", text)

    def versions(self, text: str) -> str:
        def cued(m: re.Match[str]) -> str:
            if all(len(part) == 3 for part in m[2].split(".")[1:]):
                return m[0]  # "bản 1.200 dân": a number with thousands groups, not a version
            return m[1] + _version(m[2])

        text = _VERSION_CUED.sub(cued, text)
        text = _VERSION_BARE.sub(lambda m: _version(m[1]), text)
        return _POINT_ZERO.sub(lambda m: f"{read_cardinal(m[1])} chấm không", text)

    def coordinates(self, text: str) -> str:
        def sub(m: re.Match[str]) -> str:
            words = f"{read_cardinal(m[1])} độ {read_cardinal(m[2])} phút"
            if m[3]:
                whole, _, frac = m[3].partition(",")
                words += f" {read_cardinal(whole)}" + (f" phẩy {read_cardinal(frac)}" if frac else "") + " giây"
            return f"{words} {_DIRECTIONS[m[4]]}"

        return _DMS.sub(sub, text)
