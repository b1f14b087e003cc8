"""Issue 18, resource limits: bodies are counted on the bytes actually received (chunked
too), refused early with 413, never spooled for an unauthenticated caller; each route has
its own limit (JSON and CAP 1 MB, recordings 20 MB, documents 10 MB)."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest
import soundfile as sf

from tests.security.conftest import Running
from tests.security.wire import stream

MB = 1024 * 1024
BOUNDARY = "loa-kiem-thu"


def wav(seconds: float, rate: int = 8000) -> bytes:
    """A 16-bit mono tone: what Asterisk's Record() leaves for a hotline caller."""
    tone = 0.25 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * rate)) / rate)
    out = io.BytesIO()
    sf.write(out, tone, rate, format="WAV", subtype="PCM_16")
    return out.getvalue()


def multipart_head(field: str, filename: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()


def test_chunked_json_body_to_login_is_cut_off_at_1_mb(gateway: Running) -> None:
    before = gateway.rss_kib()
    result = stream(
        gateway.port, "/api/v1/auth/login", 96 * MB, {"Content-Type": "application/json"}, b'{"username": "'
    )
    grown = (gateway.rss_kib() - before) / 1024
    assert result.status == 413, result.answer[:300]
    assert result.sent < 24 * MB, f"the server read {result.sent / MB:.0f} MB of a 1 MB route"
    assert grown < 40, f"the server grew by {grown:.0f} MB"
    assert "quá lớn".encode() in result.answer


def test_chunked_cap_alert_is_cut_off_at_1_mb(gateway: Running) -> None:
    headers = {"Content-Type": "application/cap+xml", **gateway.headers()}
    result = stream(gateway.port, "/api/v1/alerts/cap", 64 * MB, headers, b"<alert>")
    assert result.status == 413, result.answer[:300]
    assert result.sent < 24 * MB


def test_unauthenticated_upload_is_refused_before_its_body_is_read(gateway: Running) -> None:
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    result = stream(gateway.port, "/api/v1/cases/recording", 64 * MB, headers, multipart_head("audio", "a.wav"))
    assert result.status == 401, result.answer[:300]
    assert result.sent < 24 * MB, f"{result.sent / MB:.0f} MB were read for nobody"
    assert not list((gateway.data / "spool").rglob("*.wav"))


def test_chunked_recording_over_20_mb_is_cut_off(gateway: Running) -> None:
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}", **gateway.headers()}
    result = stream(gateway.port, "/api/v1/cases/recording", 80 * MB, headers, multipart_head("audio", "a.wav"))
    assert result.status == 413, result.answer[:300]
    assert result.sent < 48 * MB


def test_70_second_hotline_recording_is_filed(gateway: Running) -> None:
    audio = wav(70.0)
    assert len(audio) > MB  # over the old blanket limit, well under the promised 20 MB
    files = {"audio": ("hotline.wav", io.BytesIO(audio), "audio/wav")}
    r = httpx.post(f"{gateway.base}/api/v1/cases/recording", files=files, headers=gateway.headers(), timeout=60)
    assert r.status_code in (201, 202), r.text


@pytest.mark.parametrize("size_mb", [3])
def test_document_upload_up_to_10_mb_is_read(gateway: Running, size_mb: int) -> None:
    text = "Thông báo lịch tiêm phòng\n\n" + ("Người dân mang theo sổ tiêm chủng khi đến trạm y tế xã.\n\n" * 20)
    padded = text + " " * (size_mb * MB - len(text.encode()))
    files = {"file": ("thong-bao.txt", padded.encode(), "text/plain")}
    r = httpx.post(f"{gateway.base}/api/v1/import/upload", files=files, headers=gateway.headers(), timeout=60)
    assert r.status_code == 201, r.text


def test_document_over_10_mb_is_refused_by_its_content_length(gateway: Running) -> None:
    files = {"file": ("thong-bao.txt", b"a" * (11 * MB), "text/plain")}
    r = httpx.post(f"{gateway.base}/api/v1/import/upload", files=files, headers=gateway.headers(), timeout=60)
    assert r.status_code == 413, r.text
    assert r.json()["errors"][0]["message"].endswith("(tối đa 10 MB)")
