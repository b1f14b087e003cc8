import pytest

from gateway.sms.keywords import Command, parse


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PA duong lang bi ngap", Command("feedback", "duong lang bi ngap")),
        ("pá:rác thải đầu thôn", Command("feedback", "rác thải đầu thôn")),
        ("Pa - đèn đường hỏng", Command("feedback", "đèn đường hỏng")),
        ("Tin", Command("news", "")),
        ("TIN.", Command("news", "")),
        ("DK Hoà Bình", Command("subscribe", "Hoà Bình")),
        ("đk xã Hòa Bình", Command("subscribe", "xã Hòa Bình")),
        ("huy", Command("optout", "")),
        ("Từ chối", Command("optout", "")),
        ("TUCHOI", Command("optout", "")),
        ("tt 5102 0960", Command("status", "5102 0960")),
        ("TT", Command("status", "")),
    ],
)
def test_keywords_with_and_without_accents_any_case(text: str, expected: Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    "text",
    ["Xin chào xã", "tin tức xấu quá", "Huy đây, đường nhà tôi ngập", "PA", "Pate ngon", "tt xã mình mất điện", ""],
)
def test_everything_else_is_feedback_with_the_whole_text(text: str) -> None:
    assert parse(text) == Command("feedback", text.strip())
