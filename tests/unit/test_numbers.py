import pytest

from tts.text.numbers import read_cardinal, read_decimal, read_digits, read_month, read_ordinal, roman_to_int


@pytest.mark.parametrize(
    ("number", "spoken"),
    [
        (0, "không"),
        (1, "một"),
        (10, "mười"),
        (11, "mười một"),
        (14, "mười bốn"),
        (15, "mười lăm"),
        (20, "hai mươi"),
        (21, "hai mươi mốt"),
        (24, "hai mươi tư"),
        (25, "hai mươi lăm"),
        (41, "bốn mươi mốt"),
        (55, "năm mươi lăm"),
        (100, "một trăm"),
        (101, "một trăm linh một"),
        (104, "một trăm linh bốn"),
        (105, "một trăm linh năm"),
        (110, "một trăm mười"),
        (115, "một trăm mười lăm"),
        (124, "một trăm hai mươi tư"),
        (1000, "một nghìn"),
        (1005, "một nghìn không trăm linh năm"),
        (1050, "một nghìn không trăm năm mươi"),
        (1907, "một nghìn chín trăm linh bảy"),
        (1945, "một nghìn chín trăm bốn mươi lăm"),
        (2021, "hai nghìn không trăm hai mươi mốt"),
        (8700, "tám nghìn bảy trăm"),
        (1000000, "một triệu"),
        (1000500, "một triệu năm trăm"),
        (1500000, "một triệu năm trăm nghìn"),
        (1250000000, "một tỷ hai trăm năm mươi triệu"),
        (2000000000000, "hai nghìn tỷ"),
        (1000005, "một triệu không trăm linh năm"),
    ],
)
def test_cardinal_follows_vietnamese_rules(number: int, spoken: str) -> None:
    assert read_cardinal(number) == spoken


def test_le_option_replaces_linh() -> None:
    assert read_cardinal(105, le=True) == "một trăm lẻ năm"


def test_leading_zeros_are_not_read() -> None:
    assert read_cardinal("06") == "sáu"


def test_very_long_numbers_are_read_digit_by_digit() -> None:
    assert read_cardinal("1234567890123456") == read_digits("1234567890123456")


@pytest.mark.parametrize(
    ("integer", "fraction", "spoken"),
    [
        ("2", "5", "hai phẩy năm"),
        ("0", "05", "không phẩy không năm"),
        ("7", "27", "bảy phẩy hai mươi bảy"),
        ("3", "14159", "ba phẩy một bốn một năm chín"),
    ],
)
def test_decimals(integer: str, fraction: str, spoken: str) -> None:
    assert read_decimal(integer, fraction) == spoken


def test_ordinals_and_months() -> None:
    assert [read_ordinal(n) for n in (1, 2, 4, 7)] == ["nhất", "hai", "tư", "bảy"]
    assert read_month(4) == "tư" and read_month(12) == "mười hai"


def test_roman_numerals_are_parsed_strictly() -> None:
    assert [roman_to_int(s) for s in ("I", "IV", "XII", "XXI", "XIII")] == [1, 4, 12, 21, 13]
    assert roman_to_int("IIII") is None and roman_to_int("VX") is None and roman_to_int("") is None
