from __future__ import annotations

import itertools

import pytest

from gateway.bulletins.errors import WorkflowError
from gateway.feedback.taxonomy import load, suggest
from gateway.feedback.ticket import LENGTH, check_digit, is_valid, new_ticket
from gateway.phones import masked, to_e164


def test_tickets_are_digits_with_a_damm_check_digit() -> None:
    codes = {new_ticket() for _ in range(500)}
    assert all(len(c) == LENGTH and c.isdigit() and c[0] != "0" and is_valid(c) for c in codes)
    assert len(codes) > 490


def test_every_single_digit_error_and_neighbour_swap_is_caught() -> None:
    code = new_ticket()
    for i, d in itertools.product(range(LENGTH), "0123456789"):
        wrong = code[:i] + d + code[i + 1 :]
        assert is_valid(wrong) == (wrong == code)
    for i in range(LENGTH - 1):
        swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
        assert swapped == code or not is_valid(swapped)
    assert check_digit("572") == 4  # the published Damm example
    assert not is_valid("１２３４５６７８")  # fullwidth digits are not keypad digits


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("0912345678", "+84912345678"),
        ("84912345678", "+84912345678"),
        ("+84 912 345 678", "+84912345678"),
        ("0912.345.678", "+84912345678"),
        ("01662345678", "+84362345678"),
        ("01203456789", "+84703456789"),
        ("0243 826 1234", "+842438261234"),
    ],
)
def test_phone_numbers_become_e164(raw: str, e164: str) -> None:
    assert to_e164(raw) == e164


@pytest.mark.parametrize("raw", ["123", "", "+1 202 555 0100", "09123", "abc"])
def test_invalid_phone_numbers_are_rejected_with_the_field(raw: str) -> None:
    with pytest.raises(WorkflowError) as err:
        to_e164(raw, "caller")
    assert err.value.field == "caller"


def test_masking() -> None:
    assert masked("+84912345678") == "+8491****678"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Rác thải đổ trộm bốc mùi hôi ở đầu thôn", "moi_truong"),
        ("DUONG LANG CO NHIEU O GA", "giao_thong"),
        ("Nhà tôi bị mất điện từ sáng", "dien_nuoc"),
        ("Tôi muốn hỏi thủ tục làm giấy khai sinh", "thu_tuc"),
        ("Xin chào", "khac"),
    ],
)
def test_keyword_rules_suggest_a_category(text: str, category: str) -> None:
    assert suggest(text) == category


def test_taxonomy_has_the_seed_categories() -> None:
    names = {c.name for c in load().values()}
    assert {
        "Môi trường",
        "An ninh trật tự",
        "Giao thông",
        "Đất đai",
        "Y tế",
        "Giáo dục",
        "Điện nước",
        "Thủ tục hành chính",
        "Khác",
    } <= names
