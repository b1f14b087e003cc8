"""Issue 18, resource limits: a Word file is parsed off the event loop, and a zip bomb (a
small .docx whose parts unpack to tens of MB, or thousands of entries) is refused with
its reason instead of holding the gateway for a minute."""

from __future__ import annotations

import io
import threading
import time
import zipfile

import docx
import httpx

from tests.security.conftest import Running

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def word_file(paragraphs: int = 3, extra_entries: int = 0) -> bytes:
    """A real .docx (python-docx), its body swapped for ``paragraphs`` paragraphs."""
    out = io.BytesIO()
    document = docx.Document()
    document.add_paragraph("Thông báo")
    document.save(out)
    body = "".join("<w:p><w:r><w:t>Đoạn thông báo gửi bà con</w:t></w:r></w:p>" for _ in range(paragraphs))
    xml = f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{W}"><w:body>{body}</w:body></w:document>'
    bomb = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = xml.encode() if item.filename == "word/document.xml" else src.read(item)
            dst.writestr(item.filename, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
        for n in range(extra_entries):
            dst.writestr(f"loa/muc{n}.xml", b"<a/>")
    return bomb.getvalue()


def upload(gateway: Running, data: bytes, timeout: float = 60) -> httpx.Response:
    files = {"file": ("thong-bao.docx", data, "application/octet-stream")}
    return httpx.post(f"{gateway.base}/api/v1/import/upload", files=files, headers=gateway.headers(), timeout=timeout)


def test_small_docx_unpacking_to_tens_of_mb_is_refused_while_the_loop_answers(gateway: Running) -> None:
    bomb = word_file(paragraphs=700_000)
    assert len(bomb) < 1024 * 1024  # under every body limit: only unpacking shows its size
    answers: list[float] = []

    def meanwhile() -> None:
        time.sleep(0.3)
        started = time.monotonic()
        try:
            httpx.get(f"{gateway.base}/api/v1/me", headers=gateway.headers(), timeout=10).raise_for_status()
            answers.append(time.monotonic() - started)
        except httpx.HTTPError:
            answers.append(float("inf"))

    other = threading.Thread(target=meanwhile)
    other.start()
    try:
        r = upload(gateway, bomb, timeout=30)
    except httpx.TimeoutException:
        r = None
    other.join()
    assert r is not None and r.status_code == 422, r.text if r is not None else "no answer in 30 s"
    error = r.json()["errors"][0]
    assert error["field"] == "file" and "giải nén" in error["message"]
    assert answers and answers[0] < 10, "another request waited for the document"


def test_docx_with_thousands_of_entries_is_refused(gateway: Running) -> None:
    r = upload(gateway, word_file(extra_entries=3000))
    assert r.status_code == 422, r.text
    assert "tệp con" in r.json()["errors"][0]["message"]


def test_ordinary_docx_is_still_read(gateway: Running) -> None:
    out = io.BytesIO()
    document = docx.Document()
    document.add_paragraph("Lịch tiêm phòng vắc-xin cho trẻ em tháng này")
    document.add_paragraph("Trạm y tế xã tổ chức tiêm phòng vào sáng thứ Bảy, từ 7 giờ đến 11 giờ.")
    document.add_paragraph("Phụ huynh mang theo sổ tiêm chủng của trẻ và đến đúng giờ.")
    document.save(out)
    r = upload(gateway, out.getvalue())
    assert r.status_code == 201, r.text
