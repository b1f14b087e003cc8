"""The front-end reads bulletins the way a Vietnamese announcer would.

Negative cases are the anchors' documented failures (reference/tts.md §3.4).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tts.text.normalizer import Normalizer, normalize

CASES = [
    # numbers and counts
    ("Dân số 8.700 người", "dân số tám nghìn bảy trăm người"),
    ("06 cán bộ", "sáu cán bộ"),
    ("có 15 người", "có mười lăm người"),
    ("lãi 0,05", "lãi không phẩy không năm"),
    ("Chỉ số 7,27 điểm", "chỉ số bảy phẩy hai mươi bảy điểm"),
    ("2,5 triệu đồng", "hai phẩy năm triệu đồng"),
    ("1.250.000.000 đồng", "một tỷ hai trăm năm mươi triệu đồng"),
    # dates and times
    ("Ngày 10/08/2022", "ngày mười tháng tám năm hai nghìn không trăm hai mươi hai"),
    ("ngày 5/9/2016", "ngày năm tháng chín năm hai nghìn không trăm mười sáu"),
    ("ngày 02-9", "ngày hai tháng chín"),
    ("Mùng 5 tháng 9", "mùng năm tháng chín"),
    ("tháng 4", "tháng tư"),
    ("tháng 12/2020", "tháng mười hai năm hai nghìn không trăm hai mươi"),
    ("từ 25-26/12/2023", "từ hai mươi lăm đến hai mươi sáu tháng mười hai năm hai nghìn không trăm hai mươi ba"),
    ("sáng 20/11", "sáng hai mươi tháng mười một"),
    ("lúc 15:51", "lúc mười lăm giờ năm mươi mốt phút"),
    ("lúc 7h30", "lúc bảy giờ ba mươi phút"),
    ("lúc 7h", "lúc bảy giờ"),
    ("4:51 PM", "bốn giờ năm mươi mốt phút chiều"),
    # ranges, ratios, percentages
    ("Từ 3-5 ngày", "từ ba đến năm ngày"),
    ("từ 10-15%", "từ mười đến mười lăm phần trăm"),
    ("Tăng 30-50%", "tăng ba mươi đến năm mươi phần trăm"),
    ("giai đoạn 2025 - 2030", "giai đoạn hai nghìn không trăm hai mươi lăm đến hai nghìn không trăm ba mươi"),
    ("từ 14h–17h", "từ mười bốn giờ đến mười bảy giờ"),
    ("22/22 xã", "hai mươi hai trên hai mươi hai xã"),
    ("đạt 5%", "đạt năm phần trăm"),
    # currency and units
    ("50.000đ", "năm mươi nghìn đồng"),
    ("200.000 VNĐ", "hai trăm nghìn đồng"),
    ("30 USD", "ba mươi đô la mỹ"),
    ("42 km", "bốn mươi hai ki lô mét"),
    ("500m2", "năm trăm mét vuông"),
    ("120 km/h", "một trăm hai mươi ki lô mét trên giờ"),
    ("35°C", "ba mươi lăm độ xê"),
    ("0,5 ha", "không phẩy năm héc ta"),
    ("mưa 150 mm", "mưa một trăm năm mươi mi li mét"),
    ("12 kg", "mười hai ki lô gam"),
    ("-5°C", "âm năm độ xê"),
    # phone numbers
    ("0912345678", "không chín một hai ba bốn năm sáu bảy tám"),
    ("gọi 0912 345 678", "gọi không chín một hai ba bốn năm sáu bảy tám"),
    ("1900 1234", "một chín không không một hai ba bốn"),
    ("đường dây nóng 113", "đường dây nóng một một ba"),
    ("+84 912 345 678", "cộng tám bốn chín một hai ba bốn năm sáu bảy tám"),
    # Roman numerals and ordinals
    ("khóa XII", "khóa mười hai"),
    ("thế kỷ XXI", "thế kỷ hai mươi mốt"),
    ("quý I", "quý một"),
    ("quý IV/2024", "quý bốn năm hai nghìn không trăm hai mươi tư"),
    ("lần thứ IV", "lần thứ tư"),
    ("lần thứ I", "lần thứ nhất"),
    ("thứ 2", "thứ hai"),
    ("thứ 4", "thứ tư"),
    # abbreviations
    ("UBND xã", "ủy ban nhân dân xã"),
    ("HĐND", "hội đồng nhân dân"),
    ("MTTQ", "mặt trận tổ quốc"),
    ("TTXVN", "thông tấn xã việt nam"),
    ("BTTTT", "bộ thông tin và truyền thông"),
    ("Sở TT&TT", "sở thông tin và truyền thông"),
    ("TP. Hà Nội", "thành phố hà nội"),
    ("COVID-19", "cô vít mười chín"),
    ("KẾ HOẠCH", "kế hoạch"),
    ("U23", "u hai mươi ba"),
]


@pytest.mark.parametrize(("written", "spoken"), CASES)
def test_reads_like_an_announcer(written: str, spoken: str) -> None:
    assert normalize(written) == spoken


# Legal document codes: "<type> số <number> [năm <year>] của <issuer>"; the type is not
# repeated when the text has just said it.
DOCUMENT_CODES = [
    ("Chỉ thị số 07-CT/TW", "chỉ thị số bảy của trung ương"),
    (
        "theo 52/2016/QĐ-TTg",
        "theo quyết định số năm mươi hai năm hai nghìn không trăm mười sáu của thủ tướng chính phủ",
    ),
    ("Kế hoạch số 179/KH-UBND", "kế hoạch số một trăm bảy mươi chín của ủy ban nhân dân"),
    ("văn bản số 35-NQ/TW", "văn bản số ba mươi lăm nghị quyết của trung ương"),
    (
        "Thông tư 39/2020/TT-BTTTT",
        "thông tư ba mươi chín năm hai nghìn không trăm hai mươi của bộ thông tin và truyền thông",
    ),
]


@pytest.mark.parametrize(("written", "spoken"), DOCUMENT_CODES)
def test_document_code_policy(written: str, spoken: str) -> None:
    assert normalize(written) == spoken


def test_unknown_issuer_is_spelled() -> None:
    assert normalize("số 12/KH-XYZ") == "số mười hai kế hoạch của ích i dài dét"


def test_pronunciation_overrides_win() -> None:
    n = Normalizer(overrides={"Pleiku": "plây cu", "UBND": "u bê en đê"})
    assert n.normalize("UBND TP Pleiku") == "u bê en đê thành phố plây cu"


def test_le_policy() -> None:
    assert Normalizer(le=True).normalize("105") == "một trăm lẻ năm"


def test_one_output_line_per_input_line() -> None:
    text = "Dòng 1\n\nDòng 2: 3-5 ngày\n"
    assert normalize(text).split("\n") == ["dòng một", "", "dòng hai ba đến năm ngày", ""]


def test_phrases_carry_pauses() -> None:
    phrases = Normalizer().phrases("Xin chào. Hôm nay, trời đẹp: nắng\nDòng mới")
    assert [p.text for p in phrases] == ["xin chào", "hôm nay", "trời đẹp", "nắng", "dòng mới"]
    assert phrases[0].sentence_end and not phrases[1].sentence_end
    assert phrases[0].pause_ms > phrases[1].pause_ms
    assert phrases[3].pause_ms >= phrases[0].pause_ms  # end of a line is a paragraph pause


def test_symbols_that_must_not_be_spoken_are_removed() -> None:
    assert normalize("“Bản tin” ★ số 3 – (khẩn) #tin *** ~") == "bản tin số ba khẩn tin"


_WORD = re.compile(r"^[^\W\d_]+$")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_never_crashes_and_leaves_no_digits(text: str) -> None:
    out = normalize(text)
    assert out.count("\n") == text.count("\n")
    assert not any(ch.isdigit() for ch in out)
    assert all(_WORD.match(w) for w in out.split())
    assert out == out.lower()


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789.,:/-–%hHIVXđ ", max_size=40))
def test_number_like_noise_is_always_read(text: str) -> None:
    out = normalize(text)
    assert not any(ch.isdigit() for ch in out)
