"""Audio the officer brings (an upload, or a recording made in the browser) instead of
synthesis: decoded by ffmpeg off the event loop, checked, loudness-normalized like a
render, stored as the version's renders so every channel plays it; hostile files refused
with the field and the rule."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf
from sqlalchemy import select

from gateway.db.models import Bulletin, Render
from tests.gateway.conftest import Gateway, seed
from tests.gateway.test_console_pages import FILE_T1, console, csrf_of
from tts.audio.g711 import decode_ulaw
from tts.audio.loudness import integrated_loudness

pytestmark = [pytest.mark.asyncio, pytest.mark.parametrize("gateway", ["sqlite"], indirect=True)]


def ffmpeg(tmp: Path, name: str, source: str, seconds: float, *codec: str) -> bytes:
    out = tmp / name
    command = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", source, "-t", str(seconds), *codec, str(out)]
    subprocess.run(command, check=True, timeout=60)
    return out.read_bytes()


def quiet_voice(tmp: Path, name: str, *codec: str) -> bytes:
    """Three seconds of a warbling tone at about -40 dBFS: quiet, as a phone recording is."""
    return ffmpeg(tmp, name, "sine=frequency=300:sample_rate=44100,volume=0.1,vibrato=f=4", 3, *codec)


async def draft(gw: Gateway) -> tuple[httpx.AsyncClient, str, int]:
    users = await seed(gw)
    editor, csrf = users["bientap"]
    body = {"title": "Thông báo", "body": "Nội dung sẽ được thay bằng ghi âm.", "targets": FILE_T1}
    made = await editor.post("/api/v1/bulletins", json=body, headers={"X-CSRF-Token": csrf})
    return editor, csrf, int(made.json()["id"])


async def upload(client: httpx.AsyncClient, csrf: str, bid: int, name: str, data: bytes) -> httpx.Response:
    return await client.post(
        f"/api/v1/bulletins/{bid}/audio", files={"audio": (name, data)}, headers={"X-CSRF-Token": csrf}
    )


async def test_an_uploaded_mp3_is_normalized_like_a_render_and_delivered_instead_of_synthesis(
    gateway: Gateway, tmp_path: Path
) -> None:
    editor, csrf, bid = await draft(gateway)
    r = await upload(editor, csrf, bid, "ghi-am.mp3", quiet_voice(tmp_path, "v.mp3"))
    assert r.status_code == 200, r.text
    assert r.json()["audio"] == {"name": "ghi-am.mp3", "seconds": pytest.approx(3.0, abs=0.2)}
    async with gateway.services.sessions() as s:
        bulletin = await s.get(Bulletin, bid)
        assert bulletin is not None and bulletin.version == 2  # what is approved changed
        renders = {
            r.purpose: r
            for r in (
                await s.execute(select(Render).where(Render.bulletin_id == bid, Render.version == bulletin.version))
            ).scalars()
        }
    assert set(renders) == {"loudspeaker", "telephone"}
    loud = await editor.get(f"/api/v1/bulletins/{bid}/audio/loudspeaker")
    samples, rate = sf.read(io.BytesIO(loud.content), dtype="float32")
    assert integrated_loudness(samples, rate) == pytest.approx(-16.0, abs=0.5)  # the render's target
    assert len(samples) / rate == pytest.approx(3.0, abs=0.2)
    phone = await editor.get(f"/api/v1/bulletins/{bid}/audio/telephone")
    pcm = decode_ulaw(phone.content).astype(np.float32) / 32768
    assert integrated_loudness(pcm, 8000) == pytest.approx(-18.0, abs=0.6)

    users = await seed_approver(gateway)
    approver, acsrf = users
    assert (await editor.post(f"/api/v1/bulletins/{bid}/submit", headers={"X-CSRF-Token": csrf})).status_code == 200
    assert (await approver.post(f"/api/v1/bulletins/{bid}/approve", headers={"X-CSRF-Token": acsrf})).status_code == 200
    r = await approver.post(f"/api/v1/bulletins/{bid}/schedule", json={}, headers={"X-CSRF-Token": acsrf})
    assert r.status_code == 200, r.text
    await gateway.run_worker()
    outbox = gateway.services.settings.data_dir / "outbox"
    played = [p for p in outbox.rglob("*.wav")]
    assert len(played) == 1 and played[0].read_bytes() == loud.content  # the file channel got the upload

    # Aired: its audio is no longer changed.
    r = await editor.delete(f"/api/v1/bulletins/{bid}/audio", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 409, r.text  # scheduled already: not editable


async def seed_approver(gw: Gateway) -> tuple[httpx.AsyncClient, str]:
    return await gw.login("duyet", "mat-khau-dai-1")


async def test_a_browser_recording_in_webm_is_accepted_and_can_be_removed(gateway: Gateway, tmp_path: Path) -> None:
    editor, csrf, bid = await draft(gateway)
    webm = quiet_voice(tmp_path, "rec.webm", "-c:a", "libopus")
    r = await upload(editor, csrf, bid, "ghi-am.webm", webm)
    assert r.status_code == 200, r.text
    r = await editor.delete(f"/api/v1/bulletins/{bid}/audio", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["audio"] is None
    async with gateway.services.sessions() as s:
        bulletin = await s.get(Bulletin, bid)
        assert bulletin is not None and bulletin.audio_sha256 is None and bulletin.version == 3


def silent_mp3_minutes(tmp: Path, minutes: int) -> bytes:
    """A small MP3 that decodes to a long silence (MPEG-2.5 at 8 kbit/s: 1 KB a second),
    built by repeating the frames of ten seconds: no encoder run for the whole length."""
    ten = ffmpeg(tmp, "s.mp3", "anullsrc=r=8000:cl=mono", 10, "-b:a", "8k", "-write_xing", "0", "-id3v2_version", "0")
    return ten * (minutes * 6)


async def test_hostile_files_are_refused_with_the_field_and_the_rule(gateway: Gateway, tmp_path: Path) -> None:
    editor, csrf, bid = await draft(gateway)
    wav = quiet_voice(tmp_path, "v.wav")
    cases = [
        ("bao-cao.mp3", b"Day khong phai am thanh, chi la chu.\n" * 50, 422, "không phải tệp âm thanh"),
        ("ghi-am.mp3", wav, 422, "nội dung là WAV"),  # the wrong extension
        ("ghi-am.exe", wav, 422, "chỉ nhận"),
        ("im-lang.mp3", silent_mp3_minutes(tmp_path, 25), 422, "dài hơn 20 phút"),  # a zip-bomb-like silence
        ("im-lang.mp3", silent_mp3_minutes(tmp_path, 1), 422, "chỉ có im lặng"),
        ("rong.wav", wav[:44], 422, "hỏng, không giải mã được"),  # a header and nothing else
        ("ngan.wav", ffmpeg(tmp_path, "n.wav", "sine=frequency=300", 0.4), 422, "quá ngắn"),
    ]
    for name, data, status, words in cases:
        r = await upload(editor, csrf, bid, name, data)
        assert r.status_code == status, (name, r.status_code, r.text)
        (error,) = r.json()["errors"]
        assert error["field"] == "audio" and words in error["message"], (name, error)
    huge = await upload(editor, csrf, bid, "lon.wav", b"RIFF" + b"\0" * (26 * 1024 * 1024))
    assert huge.status_code == 413 and huge.json()["errors"][0]["field"] == "audio"
    async with gateway.services.sessions() as s:
        bulletin = await s.get(Bulletin, bid)
        assert bulletin is not None and bulletin.version == 1 and bulletin.audio_sha256 is None


async def test_the_composer_uploads_audio_and_the_approval_card_plays_it(gateway: Gateway, tmp_path: Path) -> None:
    _, _, bid = await draft(gateway)
    client = await console(gateway, "bientap")
    page = (await client.get(f"/bulletins/{bid}")).text
    assert 'id="own-audio"' in page and 'accept="audio/mpeg,audio/wav' in page and "Ghi âm" in page
    form = {"csrf_token": csrf_of(page)}
    r = await client.post(f"/bulletins/{bid}/audio", data=form, files={"audio": ("x.mp3", b"khong phai")})
    assert r.status_code == 303 and "error=" in r.headers["location"]
    page = (await client.get(r.headers["location"])).text
    assert "Tệp âm thanh" in page and "không phải tệp âm thanh" in page
    r = await client.post(
        f"/bulletins/{bid}/audio", data=form, files={"audio": ("ghi-am.wav", quiet_voice(tmp_path, "v.wav"))}
    )
    assert r.status_code == 303 and "error" not in r.headers["location"], r.headers["location"]
    page = (await client.get(f"/bulletins/{bid}")).text
    assert "ghi-am.wav" in page and "Dùng giọng đọc máy" in page
    await client.post(f"/bulletins/{bid}/action", data={**form, "action": "submit"})
    approver = await console(gateway, "duyet")
    card = (await approver.get(f"/bulletins/{bid}")).text
    assert f"/bulletins/{bid}/listen" in card or f"/api/v1/bulletins/{bid}/audio/loudspeaker" in card
    assert "Âm thanh do cán bộ tải lên: ghi-am.wav" in card
