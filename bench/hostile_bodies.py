"""What hostile request bodies cost a running gateway (issue 18): a 96 MB chunked body to
the login route, a 64 MB anonymous upload, and a small .docx that unpacks to 47 MB. Prints
how much the server read, how far its memory grew and what it answered.

    PYTHONPATH=$PWD python -m bench.hostile_bodies
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import httpx

from tests.security.conftest import serve
from tests.security.test_documents import word_file
from tests.security.wire import stream

MB = 1024 * 1024


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        gw = serve(Path(tmp))
        try:
            before = gw.rss_kib()
            sent = stream(gw.port, "/api/v1/auth/login", 96 * MB, {"Content-Type": "application/json"}, b"{")
            grown = (gw.rss_kib() - before) / 1024
            print(
                f"chunked 96 MB to /api/v1/auth/login: answer {sent.status}, sent before the answer came "
                f"{sent.sent / MB:.1f} MB, server RSS grew {grown:.0f} MB"
            )
            headers = {"Content-Type": "multipart/form-data; boundary=b"}
            head = b'--b\r\nContent-Disposition: form-data; name="audio"; filename="a.wav"\r\n\r\n'
            sent = stream(gw.port, "/api/v1/cases/recording", 64 * MB, headers, head)
            spooled = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file() and "spool" in p.parts)
            print(
                f"anonymous chunked 64 MB upload: answer {sent.status}, sent before the answer came "
                f"{sent.sent / MB:.1f} MB, spooled {spooled / MB:.1f} MB"
            )
            bomb = word_file(paragraphs=700_000)
            started = time.monotonic()
            files = {"file": ("bom.docx", bomb, "application/octet-stream")}
            try:
                r = httpx.post(f"{gw.base}/api/v1/import/upload", files=files, headers=gw.headers(), timeout=300)
                answer = str(r.status_code)
            except httpx.TimeoutException:
                answer = "none in 300 s"
            print(
                f".docx of {len(bomb) / 1024:.0f} KB unpacking to 47 MB: answer {answer} "
                f"after {time.monotonic() - started:.1f} s"
            )
        finally:
            gw.proc.terminate()
            gw.proc.wait(15)


if __name__ == "__main__":
    main()
