"""Clean an article's paragraphs for reading aloud: what a listener must not hear (a
"Đọc thêm" link, the byline, a photo caption, a share button, the news agency's prefix)
goes, and every removal is kept with its reason so the officer sees it.

The rules only touch short lines or fixed patterns: a body paragraph is never dropped for
being long, and a paragraph that merely mentions "ảnh" or "theo" stays. Tested on the
shared corpus, whose every paragraph must survive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SHORT = 120  # characters: boilerplate lines are short; body paragraphs rarely are
READ_MORE = re.compile(
    r"^(>+\s*)?(đọc thêm|xem thêm|tin liên quan|bài liên quan|tin cùng chuyên mục|tin khác|có thể bạn quan tâm)\b",
    re.IGNORECASE,
)
CAPTION = re.compile(r"^[(\[]?\s*(ảnh|hình ảnh|video|clip|nguồn ảnh)\s*(minh họa)?\s*[:\-–]", re.IGNORECASE)
CAPTION_TAIL = re.compile(r"\((ảnh|ảnh minh họa|nguồn)\s*:[^)]*\)\s*$", re.IGNORECASE)
# Case matters: "Theo VTV" is a source line, "Theo đó, ..." is the body.
BYLINE = re.compile(
    r"^(\(?\s*(Theo|THEO|Nguồn|NGUỒN)\s*:?\s+[A-ZĐ][^.]{1,80}\)?|PV\.?|(Phóng viên|PV)\s+[A-ZĐ].*"
    r"|[A-ZĐ][\w.]*(\s+[A-ZĐ][\w.]*){0,4}\s*\((tổng hợp|TTXVN|TTTĐ)\))\s*$"
)
SHARE = re.compile(
    r"^(chia sẻ|in bài|gửi bài|bình luận|lượt xem|facebook|zalo|twitter|tweet|email|bản in|lưu bài|"
    r"theo dõi chúng tôi|quay lại|về đầu trang|trang chủ|tags?|từ khóa)\b.{0,60}$",
    re.IGNORECASE,
)
AGENCY_PREFIX = re.compile(r"^\(?([A-ZĐ]{2,10}(?:\.vn)?|[A-Z][a-z]+\.vn|Chinhphu\.vn)\)?\s*[-–—]\s+")
DATE_LINE = re.compile(r"^(thứ\s+\w+,?\s*)?\d{1,2}/\d{1,2}/\d{4}(\s*[-,|]?\s*\d{1,2}:\d{2}.*)?$", re.IGNORECASE)


@dataclass(frozen=True)
class Removed:
    text: str
    reason: str


@dataclass
class Cleaned:
    title: str
    paragraphs: list[str]
    removed: list[Removed] = field(default_factory=list)

    @property
    def body(self) -> str:
        return "\n\n".join(self.paragraphs)


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\xa0", " ")).strip()


def clean(
    title: str, paragraphs: list[str], captions: frozenset[str] = frozenset(), links: frozenset[str] = frozenset()
) -> Cleaned:
    """``captions``: paragraphs the page marked as captions (figcaption and the like);
    ``links``: paragraphs that are mostly links (related articles, tags)."""
    title = _normal(title)
    kept: list[str] = []
    removed: list[Removed] = []
    for raw in paragraphs:
        text = _normal(raw)
        if not text:
            continue
        reason = _reason(text, title, captions, links)
        if reason:
            removed.append(Removed(text, reason))
            continue
        tail = CAPTION_TAIL.search(text)
        if tail:
            removed.append(Removed(tail.group(0).strip(), "ghi chú ảnh cuối đoạn"))
            text = text[: tail.start()].rstrip()
        kept.append(text)
    if kept:
        prefix = AGENCY_PREFIX.match(kept[0])
        if prefix:
            removed.append(Removed(prefix.group(0).strip(), "tiền tố tên báo"))
            kept[0] = kept[0][prefix.end() :]
    while kept and len(kept[-1]) <= 60 and _looks_like_signature(kept[-1]):
        removed.append(Removed(kept.pop(), "tên tác giả cuối bài"))
    return Cleaned(title, kept, removed)


def _reason(text: str, title: str, captions: frozenset[str], links: frozenset[str]) -> str:
    if text in captions:
        return "chú thích ảnh"
    if title and text.casefold() == title.casefold():
        return "tiêu đề lặp lại"
    if READ_MORE.match(text) and len(text) <= 2 * SHORT:
        return "liên kết đọc thêm"
    if text in links:
        return "danh sách liên kết"
    if len(text) > SHORT:
        return ""
    if CAPTION.match(text):
        return "chú thích ảnh"
    if SHARE.match(text):
        return "nút chia sẻ / điều hướng"
    if BYLINE.match(text):
        return "tên tác giả / nguồn"
    if DATE_LINE.match(text):
        return "dòng ngày đăng"
    return ""


def _looks_like_signature(text: str) -> bool:
    """A last line such as "Minh Anh", "PV", "Hoàng Long - Thu Hà": a few capitalised words."""
    words = text.replace("-", " ").replace("–", " ").split()
    return 0 < len(words) <= 6 and all(w[:1].isupper() for w in words) and not text.endswith((".", "!", "?", ":"))
