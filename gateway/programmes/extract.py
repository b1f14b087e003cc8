"""Article text out of what officers receive: a news page (HTML), a Word file (.docx) or
plain text. The page's chrome (menus, header, footer, sidebars, share bars, related
links) is cut by structure first; the article container is the block with the most
paragraph text and the fewest links; the cleaner then removes what is left to remove.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime

from gateway.programmes.cleaner import Cleaned, clean

MAX_HTML = 5 * 1024 * 1024
# A .docx is a zip: its declared sizes bound what unpacking may produce (zipfile stops at
# the declared size), so these refuse a zip bomb before one byte is inflated.
MAX_DOCX_UNPACKED = 30 * 1024 * 1024  # photos included; a bulletin's text is tens of KB
MAX_DOCX_XML = 4 * 1024 * 1024  # one XML part: a few hundred pages of text
MAX_DOCX_ENTRIES = 500
CHROME_TAGS = ("script", "style", "noscript", "iframe", "form", "svg", "button", "nav", "header", "footer", "aside")
CHROME_CLASS = re.compile(
    r"(^|[\s_-])(menu|nav|navbar|footer|header|sidebar|breadcrumbs?|share|social|comments?|related|tags|banner|"
    r"advert|ads|quang-?cao|widget|toolbar|pagination|popup|cookie|subscribe)([\s_-]|$)",
    re.IGNORECASE,
)
BLOCKS = ("p", "h2", "h3", "h4", "li", "blockquote", "figcaption", "div")


class ExtractError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Article:
    cleaned: Cleaned
    published: datetime | None = None

    @property
    def title(self) -> str:
        return self.cleaned.title


def from_html(html: str | bytes) -> Article:
    import lxml.html

    if len(html) > MAX_HTML:
        raise ExtractError("html", f"trang quá lớn (hơn {MAX_HTML // 1024 // 1024} MB)")
    try:
        doc = lxml.html.document_fromstring(html)
    except Exception as exc:  # lxml raises several types for junk
        raise ExtractError("html", f"không đọc được trang HTML ({exc})") from exc
    published = _published(doc)
    title = _title(doc)
    for element in list(doc.iter(*CHROME_TAGS)):
        element.drop_tree()
    for element in list(doc.iter()):
        if not isinstance(element.tag, str) or element.getparent() is None:
            continue
        marks = f"{element.get('class', '')} {element.get('id', '')}"
        if CHROME_CLASS.search(marks) and element.tag not in ("body", "html"):
            element.drop_tree()
    captions = frozenset(
        _text(e)
        for e in doc.iter()
        if isinstance(e.tag, str) and (e.tag == "figcaption" or "caption" in (e.get("class") or "").lower())
    )
    container = _container(doc)
    found = _paragraphs(container) if container is not None else []
    if not any(not linky for _, linky in found):
        raise ExtractError("html", "không tìm thấy nội dung bài viết trong trang")
    links = frozenset(text for text, linky in found if linky)
    return Article(clean(title, [text for text, _ in found], captions, links), published)


def _text(element: object) -> str:
    return " ".join(element.text_content().split())  # type: ignore[attr-defined]


def _title(doc: object) -> str:
    for path in ("//h1", "//meta[@property='og:title']/@content", "//title"):
        found = doc.xpath(path)  # type: ignore[attr-defined]
        if found:
            value = found[0] if isinstance(found[0], str) else _text(found[0])
            if value.strip():
                return re.split(r"\s+[|–-]\s+", value.strip())[0] if path == "//title" else value.strip()
    return ""


def _published(doc: object) -> datetime | None:
    for path in ("//meta[@property='article:published_time']/@content", "//time/@datetime"):
        for value in doc.xpath(path):  # type: ignore[attr-defined]
            try:
                return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                continue
    return None


def _container(doc: object) -> object | None:
    """The element whose own paragraphs hold the most text, links discounted."""
    best, best_score = None, 0.0
    for element in doc.iter("article", "div", "section", "main", "td"):  # type: ignore[attr-defined]
        score = 0.0
        for child in element:
            if not isinstance(child.tag, str) or child.tag not in ("p", "h2", "h3", "blockquote", "ul", "ol", "div"):
                continue
            if child.tag == "div" and child.find(".//p") is not None:
                continue  # a nested block counts for itself
            text = _text(child)
            links = sum(len(_text(a)) for a in child.iter("a"))
            if len(text) >= 25:
                score += len(text) * (1 - min(1.0, links / max(1, len(text))))
        if score > best_score:
            best, best_score = element, score
    return best


def _paragraphs(container: object) -> list[tuple[str, bool]]:
    """(text, mostly links) of each block, in document order."""
    out: list[tuple[str, bool]] = []
    for element in container.iter(*BLOCKS):  # type: ignore[attr-defined]
        if element.tag == "div" and element.find(".//p") is not None:
            continue
        if element.tag in ("p", "div", "li") and any(
            a.tag in ("p", "li", "blockquote") for a in element.iterancestors()
        ):
            continue  # counted with the block that holds it
        text = _text(element)
        if not text:
            continue
        links = sum(len(_text(a)) for a in element.iter("a"))
        out.append((text, bool(links) and links / len(text) > 0.6 and len(text) < 200))
    return out


def from_text(text: str) -> Article:
    """Plain text: the first non-empty line is the title, paragraphs are split on blank
    lines (or on single line breaks when the file has no blank lines)."""
    text = text.replace("\r\n", "\n").lstrip("\ufeff")
    lines = [line.strip() for line in text.split("\n")]
    if not any(lines):
        raise ExtractError("file", "tệp không có nội dung")
    first = next(i for i, line in enumerate(lines) if line)
    title = lines[first]
    rest = "\n".join(lines[first + 1 :]).strip()
    blocks = re.split(r"\n\s*\n", rest) if "\n\n" in rest else rest.split("\n")
    return Article(clean(title, [b.replace("\n", " ") for b in blocks]))


def check_docx(data: bytes) -> None:
    """Refuse a .docx whose zip directory promises too much, before python-docx inflates it."""
    import zipfile

    try:
        entries = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise ExtractError("file", f"không đọc được tệp Word .docx ({exc.__class__.__name__})") from exc
    if len(entries) > MAX_DOCX_ENTRIES:
        raise ExtractError("file", f"tệp Word có {len(entries)} tệp con (tối đa {MAX_DOCX_ENTRIES})")
    unpacked = sum(e.file_size for e in entries)
    if unpacked > MAX_DOCX_UNPACKED:
        mb = MAX_DOCX_UNPACKED // 2**20
        raise ExtractError("file", f"tệp Word giải nén ra {unpacked // 2**20} MB (tối đa {mb} MB)")
    for entry in entries:
        if entry.filename.endswith((".xml", ".rels")) and entry.file_size > MAX_DOCX_XML:
            mb = MAX_DOCX_XML // 2**20
            raise ExtractError(
                "file", f"phần {entry.filename} của tệp Word giải nén ra {entry.file_size // 2**20} MB (tối đa {mb} MB)"
            )


def from_docx(data: bytes) -> Article:
    """Blocking (and CPU-bound on a large file): call it from a thread."""
    import docx

    check_docx(data)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # a zip that is not Word, a truncated file
        raise ExtractError("file", f"không đọc được tệp Word .docx ({exc.__class__.__name__})") from exc
    paragraphs = [p.text for p in document.paragraphs if p.text.strip()]
    if not paragraphs:
        raise ExtractError("file", "tệp Word không có đoạn văn nào")
    title = document.core_properties.title or paragraphs[0]
    body = paragraphs[1:] if title == paragraphs[0] else paragraphs
    return Article(clean(title, body))
