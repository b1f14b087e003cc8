"""Rules decided by context: identifiers, service numbers, scores, licence plates, rates,
fractions, address abbreviations, web addresses.

Each rule looks at the words around a token to choose its reading: a digit string after
an identifier keyword ("số tài khoản", "CCCD") is read digit by digit with its zeros; a
dash between two numbers after "tỷ số" is a score, not a range; "2/3" before a portion
noun is a fraction; "X." before a place name in an address is "xã". The rules run before
the generic ones (see :meth:`tts.text.rules.RuleSet.ordered`), and every regex is linear:
no nested repetition, bounded look-behinds.
"""

from __future__ import annotations

import re

from tts.text.lexicon import spell
from tts.text.numbers import DIGITS, read_cardinal, read_digits
from tts.text.patterns import WORD_CHARS

_IDENT_KEYS = (
    r"số tài khoản|tài khoản(?: số)?|stk|căn cước công dân|căn cước|cccd|cmnd|cmt|chứng minh nhân dân"
    r"|chứng minh thư|mã số thuế|mst|mã số|mã định danh|số định danh|định danh|mã hồ sơ|số hồ sơ|mã"
    r"|số hiệu|số seri|số sê ri|số serial|số hộ chiếu|hộ chiếu|số thẻ|số bhxh|số bhyt|số sổ"
    r"|mã bưu chính|số giấy phép|số khung|số máy|số vận đơn|số hợp đồng"
)
_IDENT = re.compile(
    rf"(?i)(?<![{WORD_CHARS}])((?:{_IDENT_KEYS})(?:\s+(?:của\s+\w+\s+)?(?:là|số|:))?\s*:?\s*)"
    r"([0-9](?:[ .-]?[0-9]){2,39})(?![0-9/]|[.,][0-9])"
)
_IDENT_GAP = re.compile(
    rf"(?i)(?<![{WORD_CHARS}])((?:{_IDENT_KEYS}|mã tra cứu|mã xác nhận|mã xác thực|mã otp)"
    r"(?:\s+[^\W\d_]{1,12}){1,4}\s*:?\s*(?:là\s+|số\s+)?)"
    r"([0-9](?:[ .]?[0-9]){3,39})(?![0-9/]|[.,][0-9])"
)
_AMOUNT_AFTER = re.compile(r"(?i)\s*(?:đồng|đ|₫|nghìn|ngàn|triệu|tỷ|%|usd|vnđ|vnd)(?![\wđ])")
# Groups of four digits (a card or account number written "3713 0000 1234 5678").
_FOUR_GROUPS = re.compile(r"(?<![\w.,])([0-9]{4}(?: [0-9]{4}){2,5})(?![\w]|[.,][0-9])")
# A long digit string with a leading zero is an identifier wherever it stands.
_ZERO_LED = re.compile(r"(?<![\w.,/:-])(0[0-9]{4,})(?![\w]|[.,/:-][0-9])")
_LONG = re.compile(r"(?<![\w.,/:-])([0-9]{13,})(?![\w]|[.,/:-][0-9])")

_SERVICE = re.compile(r"(?<![\w.,/:-])(11[1-7]|1022|1080|1088|1089)(?![\w]|[.,/:-][0-9])")
_SERVICE_BEFORE = re.compile(
    r"(?i)(?:gọi|số|số máy|tổng đài|đường dây(?: nóng)?|hotline|báo|liên hệ|điện thoại|qua|bấm|quay|nhấn"
    r"|cảnh sát|công an|lực lượng|xe|trực ban|chiến sĩ|đội|trạm|khẩn cấp|cấp cứu|cứu hỏa|cứu hoả|chữa cháy|cứu nạn"
    r"|(?:11[1-7]|1022|1080|1088|1089)\s*(?:,|và|hoặc|hay|/))(?:\s+(?:ngay|luôn|cho|đến|tới|về|số))*\s*:?\s*$"
)
_SERVICE_AFTER = re.compile(
    r"(?i)\s*(?:$|[,;.:)!?/]|để|khi|ngay|miễn phí|hoặc|hay|và 1|của|cấp cứu|công an|cảnh sát|cứu hỏa"
    r"|cứu hoả|chữa cháy|cứu nạn|hỗ trợ|trực)"
)

_SCORE = re.compile(r"(?<![0-9.,/:-])([0-9]{1,2})\s*[-–:]\s*([0-9]{1,2})(?![0-9]|[.,/:][0-9])")
_SCORE_CUE = re.compile(
    r"(?i)(?:tỷ số|tỉ số|chung cuộc|thắng|thua|hòa|hoà|gỡ hòa|cách biệt|dẫn trước|dẫn|trận đấu|trận)[^.;!?0-9]{0,40}$"
)

_PLATE = re.compile(
    r"(?<![\w.-])([1-9][0-9])-?([A-Z]{1,2}[0-9]?)[-. ]?([0-9]{3}\.[0-9]{2}|[0-9]{4,5})(?![\w]|[.,][0-9])"
)

_FRACTION_AFTER = (
    r"diện tích|dân số|số|tổng|tổng số|khối lượng|lượng|thời gian|kinh phí|chiều dài|quãng đường|lượng mưa"
    r"|sản lượng|giá trị|phần|trong số|còn lại|vốn|ngân sách|lực lượng|quân số|thời hạn|mức|chặng|cơ thể"
)
_FRACTION = re.compile(
    rf"(?i)(?<![0-9/.,])([1-9])/([2-9]|10)(?![0-9]|/[0-9])(?=\s+(?:{_FRACTION_AFTER})(?![{WORD_CHARS}]))"
)
_FRACTION_ANY = re.compile(r"(?<![0-9/.,])([1-9])/([2-9]|10)(?![0-9]|/[0-9])(?=\s+[^\W\d_])")
_NOT_FRACTION_BEFORE = re.compile(r"(?i)(?:lớp|phòng|số|tổ|khu|hẻm|ngõ|kiệt|ấp|nhà|ngày|mùng|mồng)\s*$")
_FRACTION_CUED = re.compile(
    r"(?i)(?<![\wđ])(chiếm|khoảng|gần|hơn|được|bằng|còn|mất|tới|lên|xuống|giảm|tăng|thêm|quá|đạt|chỉ)"
    r"\s+([1-9])/([2-9]|10)(?![0-9]|/[0-9])"
)

_RATE_HEAD = (
    r"đồng|đ|₫|vnđ|vnd|usd|đô la|euro|người|lượt|lần|suất|liều|chuyến|ca|con|cây|tấn|tạ|kg|cân|lít|m3|m2"
    r"|km|ha|sào|công|giờ|phút|ngày|tháng|năm|bao|thùng|hộp|chiếc|bộ|buổi|kw|kwh|số|%"
)
_RATE = re.compile(rf"(?i)(?<![^\W\d_])({_RATE_HEAD})((?:/(?:[^\W\d_]+|km2|m2|m3))+)(?![{WORD_CHARS}/])")
_PER_NOUNS = (
    r"hộ|người|khẩu|tháng|năm|ngày|tuần|giờ|buổi|lượt|lần|ca|con|kg|ha|m2|m3|lít|km|chuyến|trẻ|suất|sào|công|chiếc"
    r"|cái|học sinh|tấn|tạ"
)
_RATE_ANY = re.compile(rf"(?<![^\W\d_])([^\W\d_]{{1,12}})((?:/(?:{_PER_NOUNS}))+)(?![{WORD_CHARS}/])")
_RATE_NOUN = {
    "km2": "ki lô mét vuông",
    "kg": "ki lô gam",
    "m2": "mét vuông",
    "m3": "mét khối",
    "km": "ki lô mét",
    "ha": "héc ta",
}
_RATE_TIME_UNITS = {"h": "giờ", "s": "giây", "ph": "phút"}

_PERCENT_POINT = re.compile(r"(?i)(điểm)\s*%")

_ADDR_WORDS = {
    "X": "xã",
    "H": "huyện",
    "P": "phường",
    "Q": "quận",
    "F": "phường",
    "T": "tỉnh",
    "TT": "thị trấn",
    "TX": "thị xã",
    "Tx": "thị xã",
    "TP": "thành phố",
    "Tp": "thành phố",
}
_ADDR_NUMBERED = re.compile(r"(?<![\w.])(P|Q|F|KP|Kp)(?:\.\s?)?([0-9]{1,2})(?![\w]|[.,][0-9])")
_ADDR_NAMED = re.compile(r"(?<![\w.])(TT|TX|Tx|TP|Tp|X|H|P|Q|T|F)\.\s?(?=[A-ZĐ])")
_ADDR_CUE = re.compile(
    r"(?i)(?:[,;(–-]|tại|ở|thuộc|địa chỉ:?|trú|quê|về|đến|của|xã|phường|huyện|quận|tỉnh|thành phố)\s*$"
)
_ADDR_LINE = re.compile(
    r"(?i)(?<![\w])(?:ấp|thôn|xóm|bản|buôn|số nhà|đường|tổ|khu phố|kp|tdp|xã|phường|huyện|quận|tỉnh|trú|địa chỉ)"
    r"(?![\w])|(?<![\w.])(?:TT|TX|TP|X|H|P|Q|T|F)\.\s?[A-ZĐ0-9]"
)

_EMAIL = re.compile(r"(?<![\w.@-])([A-Za-z0-9][A-Za-z0-9._+-]{0,63})@([A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8})")
_URL = re.compile(
    r"(?i)(?<![\w@.-])(?:https?://)?((?:www\.)?[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){0,6}"
    r"\.(?:vn|com|net|org|gov|edu|info|io|int|me|asia))((?:/[\w.~%=&?#-]{0,80}){0,12})(?![\w-]|\.[\w])"
)


def _read_part(part: str) -> str:
    """One dot-separated piece of an e-mail or web address."""
    words = []
    for piece in re.findall(r"[0-9]+|[^\W\d_]+|[_-]", part):
        if piece == "_":
            words.append("gạch dưới")
        elif piece == "-":
            words.append("gạch ngang")
        elif piece[0] in "0123456789":
            words.append(read_digits(piece))
        elif piece.lower() == "www":
            words.append("vê kép vê kép vê kép")
        else:
            words.append(piece.lower())
    return " ".join(words)


def _read_address(host: str) -> str:
    return " chấm ".join(_read_part(p) for p in host.split(".") if p)


def _short_pair(number: str) -> str:
    """Two-digit province code of a plate as announcers say it: 51 -> "năm mốt"."""
    tens, units = int(number[0]), int(number[1])
    if tens == 1 or units == 0:
        return read_cardinal(number)
    tail = {1: "mốt", 4: "tư", 5: "lăm"}.get(units, DIGITS[units])
    return f"{DIGITS[tens]} {tail}"


class ContextRules:
    """Context-decided rewrites; each method maps a line to a line."""

    def identifiers(self, text: str) -> str:
        text = _IDENT.sub(lambda m: m[1] + " " + read_digits(m[2]) + " ", text)

        def gap(m: re.Match[str]) -> str:
            # "tài khoản được cộng 5000 đồng" is an amount: with words between the keyword and
            # the digits, a short number or one followed by a currency word keeps its reading.
            digits = re.sub(r"[^0-9]", "", m[2])
            short_code = re.match(r"(?i)mã (?:tra cứu|xác nhận|xác thực|otp)", m[1]) is not None
            if (len(digits) < 6 and not short_code) or _AMOUNT_AFTER.match(m.string, m.end()):
                return m[0]
            return m[1] + " " + read_digits(m[2]) + " "

        text = _IDENT_GAP.sub(gap, text)
        return _FOUR_GROUPS.sub(lambda m: read_digits(m[1]), text)

    def long_digits(self, text: str) -> str:
        """After the phone rule: zero-led or very long digit strings keep every digit."""
        text = _ZERO_LED.sub(lambda m: read_digits(m[1]), text)
        return _LONG.sub(lambda m: read_digits(m[1]), text)

    def service_numbers(self, text: str) -> str:
        def sub(m: re.Match[str]) -> str:
            before = m.string[max(0, m.start() - 32) : m.start()]
            after = m.string[m.end() : m.end() + 16]
            if re.search(r"[0-9][ .-]$", before):
                return m[0]  # the last group of a phone number ("0274 3822 115"), read by the phone rule
            if _SERVICE_BEFORE.search(before) or _SERVICE_AFTER.match(after):
                return read_digits(m[1])
            return m[0]

        return _SERVICE.sub(sub, text)

    def scores(self, text: str) -> str:
        def sub(m: re.Match[str]) -> str:
            if not _SCORE_CUE.search(m.string[max(0, m.start() - 50) : m.start()]):
                return m[0]
            return f"{read_cardinal(m[1])} {read_cardinal(m[2])}"

        return _SCORE.sub(sub, text)

    def plates(self, text: str) -> str:
        def sub(m: re.Match[str]) -> str:
            return f"{_short_pair(m[1])} {spell(m[2])} {read_digits(m[3])}"

        return _PLATE.sub(sub, text)

    def fractions(self, text: str) -> str:
        def frac(a: str, b: str) -> str:
            return f"{read_cardinal(a)} phần {read_cardinal(b)}"

        def any_(m: re.Match[str]) -> str:
            if int(m[1]) >= int(m[2]) or _NOT_FRACTION_BEFORE.search(m.string[max(0, m.start() - 8) : m.start()]):
                return m[0]
            return frac(m[1], m[2])

        text = _FRACTION_CUED.sub(lambda m: f"{m[1]} {frac(m[2], m[3])}", text)
        text = _FRACTION.sub(lambda m: frac(m[1], m[2]), text)
        return _FRACTION_ANY.sub(any_, text)

    def rates(self, text: str, unit_words: dict[str, str]) -> str:
        def sub(m: re.Match[str]) -> str:
            before = m.string[max(0, m.start() - 30) : m.start() + 1]
            if not re.search(r"[0-9%]|nghìn|triệu|tỷ|trăm|mươi", before):
                return m[0]
            out = [m[1]]
            for noun in m[2].split("/")[1:]:
                if noun in _RATE_TIME_UNITS:
                    out.append("trên " + _RATE_TIME_UNITS[noun])
                elif noun in ("và", "hoặc", "hay"):
                    return m[0]
                else:
                    out.append("một " + (_RATE_NOUN.get(noun.lower()) or unit_words.get(noun) or noun))
            return " ".join(out)

        text = _RATE.sub(sub, text)
        text = _RATE_ANY.sub(sub, text)
        return _PERCENT_POINT.sub(lambda m: f"{m[1]} phần trăm", text)

    def addresses(self, text: str) -> str:
        if not _ADDR_LINE.search(text):
            return text
        several = len(_ADDR_NAMED.findall(text, 0, 2000)) + len(_ADDR_NUMBERED.findall(text, 0, 2000)) >= 2
        text = _ADDR_NUMBERED.sub(lambda m: f"{_ADDR_WORDS.get(m[1], 'khu phố')} {read_cardinal(m[2])}", text)

        def named(m: re.Match[str]) -> str:
            before = m.string[max(0, m.start() - 16) : m.start()]
            at_start = m.start() <= 16 and not before.strip()
            if len(m[1]) == 1 and not (several or at_start or _ADDR_CUE.search(before)):
                return m[0]
            return _ADDR_WORDS[m[1]] + " "

        return _ADDR_NAMED.sub(named, text)

    def web(self, text: str) -> str:
        text = _EMAIL.sub(lambda m: f" {_read_address(m[1])} a còng {_read_address(m[2])} ", text)

        def url(m: re.Match[str]) -> str:
            words = _read_address(m[1])
            for segment in m[2].split("/")[1:]:
                if segment:
                    words += " gạch chéo " + _read_address(segment)
            return f" {words} "

        return _URL.sub(url, text)
