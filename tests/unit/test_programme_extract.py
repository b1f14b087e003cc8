"""Article extraction and cleaning on pages built around the shared corpus: every body
paragraph survives, and what was removed is listed with its reason."""

from __future__ import annotations

import io

import pytest

from gateway.programmes.cleaner import clean
from gateway.programmes.extract import ExtractError, from_docx, from_html, from_text
from tests.conftest import CORPUS, need_shared
from tests.support.article_pages import portal_page, split_article

ARTICLES = [
    "hanoi-ke-hoach-179-2020.txt",
    "hanoi-thong-tin-co-so-2022.txt",
    "huong-dan-so-ket-chi-thi-07.txt",
    "pleiku-thong-tin-co-so-2022.txt",
]


def _body(name: str) -> tuple[str, list[str]]:
    text = (need_shared(CORPUS) / name).read_text(encoding="utf-8")
    return split_article(text)


def _spoken(paragraphs: list[str]) -> list[str]:
    """What the cleaner keeps of a paragraph: its words, blanks folded, the prefix gone."""
    return [" ".join(p.replace("\xa0", " ").split()).removeprefix("TTTĐ - ") for p in paragraphs]


@pytest.mark.parametrize("name", ARTICLES)
def test_a_portal_page_keeps_every_body_paragraph_and_lists_what_it_removed(name: str) -> None:
    title, body = _body(name)
    article = from_html(portal_page("\n\n".join([title, *body])))
    assert article.title == title
    assert article.cleaned.paragraphs == _spoken(body)
    reasons = {r.reason for r in article.cleaned.removed}
    assert {"chú thích ảnh", "liên kết đọc thêm", "tên tác giả / nguồn", "tên tác giả cuối bài"} <= reasons
    text = article.cleaned.body
    for chrome in ("Trang chủ", "Tin đọc nhiều", "Bản quyền", "Chia sẻ", "Tin liên quan", "Ra mắt mô hình"):
        assert chrome not in text
    assert article.published is not None and article.published.day == 20


@pytest.mark.parametrize("name", ARTICLES)
def test_the_corpus_text_itself_loses_nothing_but_the_agency_prefix(name: str) -> None:
    title, body = _body(name)
    cleaned = clean(title, body)
    assert cleaned.paragraphs == _spoken(body)
    assert all(r.reason == "tiền tố tên báo" for r in cleaned.removed)


def test_short_body_sentences_that_look_like_boilerplate_stay() -> None:
    body = [
        "Theo đó, xã tổ chức tiêm phòng vào thứ hai",
        "Ảnh hưởng của bão số 9 làm đổ nhiều cây xanh.",
        "Đọc kỹ hướng dẫn trước khi dùng thuốc.",
        "Ảnh: Cán bộ xã kiểm tra đê",
        "Theo VTV",
    ]
    cleaned = clean("Tiêu đề", body)
    assert cleaned.paragraphs == body[:3]
    assert [r.reason for r in cleaned.removed] == ["chú thích ảnh", "tên tác giả / nguồn"]


def test_plain_text_and_word_files() -> None:
    import docx

    article = from_text("\ufeffLịch tiêm phòng\r\n\r\nSáng thứ hai tiêm phòng dại.\r\n\r\nPV\r\n")
    assert article.title == "Lịch tiêm phòng" and article.cleaned.paragraphs == ["Sáng thứ hai tiêm phòng dại."]
    document = docx.Document()
    document.add_paragraph("Thông báo cắt điện")
    document.add_paragraph("Ngày mai cắt điện từ 7 giờ đến 11 giờ tại thôn Đông.")
    document.add_paragraph("Ảnh: Điện lực huyện")
    buffer = io.BytesIO()
    document.save(buffer)
    word = from_docx(buffer.getvalue())
    assert word.title == "Thông báo cắt điện"
    assert word.cleaned.paragraphs == ["Ngày mai cắt điện từ 7 giờ đến 11 giờ tại thôn Đông."]
    with pytest.raises(ExtractError) as bad:
        from_docx(b"PK\x03\x04 not really a zip")
    assert bad.value.field == "file"


def test_pages_without_an_article_or_too_big_are_refused_with_a_reason() -> None:
    with pytest.raises(ExtractError, match="không tìm thấy nội dung"):
        from_html("<html><body><nav><a href='/'>Trang chủ</a></nav></body></html>")
    with pytest.raises(ExtractError, match="quá lớn"):
        from_html(b"<p>" + b"a" * (6 * 1024 * 1024))
