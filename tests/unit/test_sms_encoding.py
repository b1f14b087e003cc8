"""SMS segmentation as the wire does it (3GPP TS 23.038 §6.2.1 GSM 7-bit default
alphabet and extension table; TS 23.040 §9.2.3.24.1 concatenation UDH)."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from gateway.sms.encoding import GSM7_BASIC, cost_preview, is_gsm7, plan
from gateway.vietnamese import strip_accents

ACCENTED_150 = (
    "Thông báo: Ủy ban nhân dân xã tổ chức tiêm chủng cho trẻ em dưới 5 tuổi vào sáng thứ hai "
    "tại trạm y tế xã, đề nghị bà con đưa trẻ đến đúng giờ quy định."
)[:150]


def test_ts_23_038_only_seven_vietnamese_accented_letters_are_gsm7() -> None:
    vietnamese = "àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ"
    vietnamese += vietnamese.upper()
    assert sorted(ch for ch in vietnamese if ch in GSM7_BASIC) == sorted("àèéìòùÉ")


def test_one_accented_letter_makes_the_whole_message_ucs2() -> None:
    assert plan("Hop dan luc 15h").encoding == "gsm7"
    assert plan("Họp dân lúc 15h").encoding == "ucs2"


def test_ts_23_040_part_sizes_160_153_70_67() -> None:
    assert plan("a" * 160).count == 1 and plan("a" * 161).count == 2
    assert [len(p) for p in plan("a" * 307).parts] == [153, 153, 1]
    assert plan("ệ" * 70).count == 1 and [len(p) for p in plan("ệ" * 135).parts] == [67, 67, 1]


def test_extension_characters_count_twice_and_are_never_split() -> None:
    assert plan("a" * 152 + "€" + "b").count == 1  # 155 septets still fit one message
    p = plan("a" * 152 + "€" + "b" * 10)
    assert p.encoding == "gsm7" and p.units == 164
    assert p.parts[0] == "a" * 152 and p.parts[1] == "€" + "b" * 10  # the escape pair moved whole


def test_a_150_character_accented_bulletin_is_3_parts_and_1_unaccented() -> None:
    assert len(ACCENTED_150) == 150
    assert plan(ACCENTED_150).count == 3
    assert plan(strip_accents(ACCENTED_150)).count == 1
    decomposed = unicodedata.normalize("NFD", ACCENTED_150)
    assert len(decomposed) > 180  # what a careless sender would count
    assert plan(decomposed).count == 3  # NFC first


def test_strip_accents_handles_d_bar() -> None:
    assert strip_accents("Đường Điện Biên, đèn đỏ") == "Duong Dien Bien, den do"


def test_cost_preview() -> None:
    preview = cost_preview(ACCENTED_150, 1000)
    assert preview["total"] == 3000 and preview["unaccented"]["total"] == 1000  # type: ignore[index]


def test_surrogate_pairs_are_never_split() -> None:
    text = "ệ" * 66 + "😀" + "a" * 10
    p = plan(text)
    assert p.parts[0] == "ệ" * 66 and p.parts[1].startswith("😀")


@given(st.text(max_size=600))
def test_parts_join_back_and_fit(text: str) -> None:
    p = plan(text)
    assert "".join(p.parts) == unicodedata.normalize("NFC", text)
    limit = (
        160 if p.count == 1 and p.encoding == "gsm7" else 153 if p.encoding == "gsm7" else 70 if p.count == 1 else 67
    )
    for part in p.parts:
        if p.encoding == "gsm7":
            assert is_gsm7(part) and sum(2 if ch in "\f^{}\\[~]|€" else 1 for ch in part) <= limit
        else:
            assert sum(2 if ord(ch) > 0xFFFF else 1 for ch in part) <= limit
